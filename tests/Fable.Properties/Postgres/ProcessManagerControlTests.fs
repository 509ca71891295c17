// Runtime control on a real server: status (position, lag, holder), disable/enable, reset and rebuild (also
// while a batch is in flight), registration that keeps existing rows and starts new ones at the head, catch-up
// that waits for the runner holding the lock, and a graceful stop in the middle of a batch that loses nothing.
module Fable.Tests.ProcessManagerControlTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Fable.FSharp
open Fable.Tests.PmDomain

let private ct = CancellationToken.None
let private ids (handled: (int64 * string * bool) list) = [ for (id, _, _) in handled -> id ]

let private isInvalid (r: Result<'T, FableError>) = match r with Error(InvalidDefinition _) -> true | _ -> false

/// Whether some session waits on a lock held by the session of the runner that holds `name` in `env`.
let private blockedByRunner (env: PgEnv.Env) (name: string) =
    task {
        use! conn = env.DataSource.OpenConnectionAsync()
        use cmd =
            new Npgsql.NpgsqlCommand(
                sprintf
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity a, %s.process_managers p WHERE p.name = $1 AND p.holder_pid = ANY (pg_blocking_pids(a.pid)))"
                    (PgEnv.q env.FableSchema),
                conn)
        cmd.Parameters.AddWithValue(name) |> ignore
        let! blocked = cmd.ExecuteScalarAsync()
        return blocked :?> bool
    }

let tests =
    testList "control" [
        testTask "status shows position, lag and holder; a disabled process manager waits until enabled; unknown names are refused" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! first = bump store 1L 5
                    let! h = host env "me" [ recorder "watched" "me" 2 ]
                    let h = h :> IProcessManagerHost
                    let! st = status h "watched"
                    Expect.equal (st.Position, st.Lag, st.Holder, st.Active) (LogPosition.Origin, 5L, None, true) "registered at the origin, five behind, not held"
                    do! h.Start ct
                    do! catchUp h
                    let! st = PgDomain.eventually (fun () -> status h "watched") (fun s -> s.Holder.IsSome)
                    Expect.equal (st.Position, st.Lag, st.Holder, st.State) ((List.last first).Position, 0L, Some "me", "5") "caught up and held by this runner"
                    let! r = h.Disable("watched", ct)
                    ok "disable" r
                    let! _ = bump store 2L 3
                    do! catchUp h
                    let! st = status h "watched"
                    Expect.equal (st.Active, st.Lag) (false, 3L) "disabled: the new events wait"
                    let! handled = seen env "watched"
                    Expect.equal handled.Length 5 "nothing handled while disabled"
                    let! r = h.Enable("watched", ct)
                    ok "enable" r
                    do! catchUp h
                    let! handled = seen env "watched"
                    let! all = committed env
                    expectOnceInChainOrder "watched" all (fun _ -> true) (ids handled)
                    do! h.Stop()
                    let! st = status h "watched"
                    Expect.isNone st.Holder "a stopped runner releases its lock"
                    let! unknownStatus = h.Status("nope", ct)
                    let! unknownEnable = h.Enable("nope", ct)
                    Expect.isTrue (isInvalid unknownStatus && isInvalid unknownEnable) "an unknown name is an invalid definition"
                })
        }

        testTask "rebuild handles the whole log again from the initial state; reset moves to the head or after a position" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! a = bump store 1L 3
                    let! b = bump store 2L 3
                    let! c = bump store 3L 3
                    let! h = host env "me" [ recorder "counting" "me" 4 ]
                    let h = h :> IProcessManagerHost
                    do! catchUp h
                    let! r = h.Rebuild("counting", ct)
                    ok "rebuild" r
                    let! st = status h "counting"
                    Expect.equal (st.Position, st.State, st.Lag) ((List.last c).Position, "9", 0L) "rebuild returns with the state rebuilt from every event"
                    let! handled = seen env "counting"
                    let all = [ for e in a @ b @ c -> e.Id ]
                    Expect.equal (ids handled) (all @ all) "every event handled once more, in the same order"
                    do! visible env (List.last c).Position
                    let! r = h.Reset("counting", StartAt.Head, ct)
                    ok "reset to head" r
                    let! st = status h "counting"
                    Expect.equal (st.Position, st.State, st.Lag) ((List.last c).Position, "0", 0L) "at the head with the initial state"
                    let! d = bump store 4L 2
                    do! catchUp h
                    let! st = status h "counting"
                    Expect.equal st.State "2" "only the new events"
                    let! r = h.Reset("counting", StartAt.After (List.last b).Position, ct)
                    ok "reset after a position" r
                    do! catchUp h
                    let! st = status h "counting"
                    Expect.equal st.State "5" "the events after that position"
                    let! handled = seen env "counting"
                    Expect.equal (ids handled) (all @ all @ [ for e in d -> e.Id ] @ [ for e in c @ d -> e.Id ]) "handled in log order each time"
                })
        }

        testTask "registration keeps existing rows, and a new process manager starting at the head skips the past" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! old = bump store 1L 4
                    let! h1 = host env "one" [ recorder "kept" "one" 10 ]
                    do! catchUp h1
                    do! visible env (List.last old).Position
                    let late =
                        recorderWith "late" "two" 10 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Head (fun _ _ _ -> Task.FromResult(Ok()))
                    let! h2 = host env "two" [ recorder "kept" "two" 10; late ]
                    let h2 = h2 :> IProcessManagerHost
                    let! kept = status h2 "kept"
                    Expect.equal (kept.Position, kept.State) ((List.last old).Position, "4") "the existing row keeps its checkpoint and state"
                    let! lateSt = status h2 "late"
                    Expect.equal (lateSt.Position, lateSt.Lag) ((List.last old).Position, 0L) "the new one starts at the head"
                    let! fresh = bump store 2L 2
                    do! catchUp h2
                    let! handled = seen env "late"
                    Expect.equal (ids handled) [ for e in fresh -> e.Id ] "only events after its registration"
                    let! handled = seen env "kept"
                    Expect.equal (ids handled) [ for e in old @ fresh -> e.Id ] "the kept one carried on where it was"
                })
        }

        testTask "CatchUp without local runners waits for the runner that holds the lock" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! _ = bump store 1L 30
                    let! running = host env "running" [ recorder "shared" "running" 3 ]
                    let running = running :> IProcessManagerHost
                    do! running.Start ct
                    let! _ = PgDomain.eventually (fun () -> status running "shared") (fun s -> s.Holder = Some "running")
                    let! idle = host env "idle" [ recorder "shared" "idle" 3 ]
                    do! catchUp idle
                    let! handled = seen env "shared"
                    Expect.equal (handled |> List.map (fun (_, r, _) -> r) |> List.distinct) [ "running" ] "the lock holder did all the handling"
                    Expect.equal handled.Length 30 "caught up"
                    do! running.Stop()
                })
        }

        testTask "a started runner wakes on the emit's notification, long before its poll interval" {
            do! using (fun env ->
                task {
                    let! store = storeFor env.DataSource env.FableSchema (runtimeOf [ recorder "awake" "me" 10 ])
                    let! h = Fable.FSharp.Postgres.PostgresProcessManagers.Create(store, runnerId = "me", pollInterval = TimeSpan.FromMinutes 10.0)
                    let h = ok "host" h :> IProcessManagerHost
                    do! h.Start ct
                    let! _ = PgDomain.eventually (fun () -> status h "awake") (fun s -> s.Holder = Some "me")
                    // Let the runner go idle: it now waits for a notification (or ten minutes).
                    do! catchUp h
                    let! w = writer env
                    let! events = bump w 1L 3
                    use guard = new CancellationTokenSource(TimeSpan.FromMinutes 2.0)
                    let! r = h.CatchUp guard.Token
                    ok "catch up woken by the notification (not cancelled by the guard)" r
                    let! handled = seen env "awake"
                    Expect.equal (ids handled) [ for e in events -> e.Id ] "handled"
                    do! h.Stop()
                })
        }

        testTask "a reset to the origin while a batch is in flight applies after that batch: the runner handles the whole log again" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! events = bump store 1L 30
                    // Batches are full only once every event is visible (see `visible`).
                    do! visible env (List.last events).Position
                    // Batches of 5, then 10 (a full batch doubles the next): events[7] is in the second.
                    let target = events[7].Id
                    let inBatch = TaskCompletionSource()
                    let release = TaskCompletionSource()
                    let hold = ref true
                    let before (_: IUnitOfWork) (inc: Incoming) (_: CancellationToken) =
                        task {
                            if hold.Value && inc.Recorded.Id = target then
                                hold.Value <- false
                                inBatch.TrySetResult() |> ignore
                                do! release.Task
                            return Ok()
                        }
                    let! h = host env "me" [ recorderWith "resettable" "me" 5 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin before ]
                    let h = h :> IProcessManagerHost
                    do! h.Start ct
                    do! inBatch.Task
                    // The second batch holds the row: the reset waits for it to commit.
                    let reset = h.Reset("resettable", StartAt.Origin, ct)
                    let! waiting = PgDomain.eventually (fun () -> blockedByRunner env "resettable") id
                    Expect.isTrue waiting "the reset waits for the batch in flight"
                    release.TrySetResult() |> ignore
                    let! r = reset
                    ok "reset" r
                    do! catchUp h
                    do! h.Stop()
                    let! handled = seen env "resettable"
                    Expect.equal (ids handled) [ for e in events[0..14] @ events -> e.Id ] "the two batches before the reset (5 and 10 events), then every event again from the origin"
                    let! st = status h "resettable"
                    Expect.equal (st.Position, st.State) ((List.last events).Position, "30") "the state counts the events handled since the reset"
                })
        }

        testTask "a runner stopped in the middle of a batch commits whole batches only and loses nothing" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! events = bump store 1L 20
                    // Batches are full only once every event is visible (see `visible`).
                    do! visible env (List.last events).Position
                    // Batches of 5, 10, then 20 (a full batch doubles the next): events[17] is in the third.
                    let target = events[17].Id
                    let inBatch = TaskCompletionSource()
                    let hang = ref true
                    let before (_: IUnitOfWork) (inc: Incoming) (ct: CancellationToken) =
                        task {
                            if hang.Value && inc.Recorded.Id = target then
                                inBatch.TrySetResult() |> ignore
                                do! Task.Delay(Timeout.Infinite, ct)
                            return Ok()
                        }
                    let! h = host env "me" [ recorderWith "stoppable" "me" 5 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin before ]
                    let h = h :> IProcessManagerHost
                    do! h.Start ct
                    do! inBatch.Task
                    do! h.Stop()
                    let! handled = seen env "stoppable"
                    Expect.equal (ids handled) [ for e in events[0..14] -> e.Id ] "the two committed batches (5 and 10 events), nothing of the interrupted one"
                    let! st = status h "stoppable"
                    Expect.equal (st.Position, st.Holder, st.Attempts) (events[14].Position, None, 0) "the checkpoint is the last whole batch; no failure recorded; lock released"
                    hang.Value <- false
                    do! catchUp h
                    let! handled = seen env "stoppable"
                    let! all = committed env
                    expectOnceInChainOrder "stoppable" all (fun _ -> true) (ids handled)
                })
        }
    ]
