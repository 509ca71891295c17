// The error policy on a real server: retries with attempts stored, MaxAttempts and Stop disable with the error
// kept, Enable resumes; undecodable payloads go through the policy and are never skipped; unregistered types
// arrive undecoded; a failing event never lets later events through.
module Fable.Tests.ProcessManagerPolicyTests

open System
open System.Collections.Concurrent
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PmDomain

let private ct = CancellationToken.None
let private ms (n: float) = TimeSpan.FromMilliseconds n

/// Fails the event `target` with a rejection while `failing` holds.
let private failOn (target: int64 ref) (failing: bool ref) =
    fun (_: IUnitOfWork) (inc: Incoming) (_: CancellationToken) ->
        Task.FromResult(if failing.Value && inc.Recorded.Id = target.Value then Error(FableError.reject "broken on purpose") else Ok())

/// The attempts column of `name` as the handler's own transaction sees it.
let private attemptsOf (env: PgEnv.Env) (uow: IUnitOfWork) (name: string) =
    task {
        let conn = uow.Connection.Value :?> NpgsqlConnection
        use cmd =
            new NpgsqlCommand(sprintf "SELECT attempts FROM %s.process_managers WHERE name = $1" (PgEnv.q env.FableSchema), conn,
                              uow.Transaction.Value :?> NpgsqlTransaction)
        cmd.Parameters.AddWithValue name |> ignore
        let! v = cmd.ExecuteScalarAsync()
        return v :?> int
    }

let private ids (handled: (int64 * string * bool) list) = [ for (id, _, _) in handled -> id ]

/// Writes 3 + 2 + 3 events on three counters; returns them in commit order.
let private writeSome (env: PgEnv.Env) =
    task {
        let! store = writer env
        let! a = bump store 1L 3
        let! b = bump store 2L 2
        let! c = bump store 3L 3
        return store, a @ b @ c
    }

let tests =
    testList "error policy" [
        testTask "a handler failing three times then succeeding is retried, each attempt stored before the next" {
            do! using (fun env ->
                task {
                    let! _, events = writeSome env
                    let target = events[3].Id
                    let calls = ref 0
                    let attemptsSeen = ConcurrentQueue<int>()
                    let before (uow: IUnitOfWork) (inc: Incoming) (_: CancellationToken) =
                        task {
                            if inc.Recorded.Id = target then
                                let! a = attemptsOf env uow "flaky"
                                attemptsSeen.Enqueue a
                                if Interlocked.Increment &calls.contents <= 3 then return Error(FableError.reject "not yet") else return Ok()
                            else
                                return Ok()
                        }
                    let! h = host env "inline" [ recorderWith "flaky" "inline" 2 (OnFailure.Retry(ms 20.0, Some 10)) StartAt.Origin before ]
                    let h = h :> IProcessManagerHost
                    do! catchUp h
                    Expect.equal (List.ofSeq attemptsSeen) [ 0; 1; 2; 3 ] "each failed attempt was counted in the row before the retry"
                    let! handled = seen env "flaky"
                    let! all = committed env
                    expectOnceInChainOrder "flaky" all (fun _ -> true) (ids handled)
                    let! st = status h "flaky"
                    Expect.equal (st.Active, st.Attempts, st.LastError, st.Lag) (true, 0, None, 0L) "success clears the error bookkeeping"
                })
        }

        testTask "after MaxAttempts failures the process manager stops with its error kept, and Enable resumes it" {
            do! using (fun env ->
                task {
                    let! _, events = writeSome env
                    let target, failing = ref events[4].Id, ref true
                    let! h = host env "r" [ recorderWith "fragile" "r" 3 (OnFailure.Retry(ms 5.0, Some 3)) StartAt.Origin (failOn target failing) ]
                    let h = h :> IProcessManagerHost
                    do! catchUp h
                    let! st = status h "fragile"
                    Expect.isFalse st.Active "stopped after the last allowed attempt"
                    Expect.equal st.Attempts 3 "three attempts stored"
                    let error = defaultArg st.LastError ""
                    Expect.stringContains error "broken on purpose" "the error is kept"
                    Expect.stringContains error (sprintf "event %d" target.Value) "the error names the event"
                    Expect.equal st.Position events[3].Position "the checkpoint is just before the failing event"
                    let! handled = seen env "fragile"
                    Expect.equal (ids handled) [ for e in events[0..3] -> e.Id ] "events before it are handled, none after it"
                    failing.Value <- false
                    let! enabled = h.Enable("fragile", ct)
                    ok "enable" enabled
                    do! catchUp h
                    let! handled = seen env "fragile"
                    let! all = committed env
                    expectOnceInChainOrder "fragile" all (fun _ -> true) (ids handled)
                    let! st = status h "fragile"
                    Expect.equal (st.Active, st.Attempts, st.LastError) (true, 0, None) "enabled and clean"
                })
        }

        testTask "the Stop policy disables at the first failure, keeps the error, and holds later events until enabled" {
            do! using (fun env ->
                task {
                    let! store, events = writeSome env
                    let target, failing = ref events[1].Id, ref true
                    let! h = host env "r" [ recorderWith "strict" "r" 10 OnFailure.Stop StartAt.Origin (failOn target failing) ]
                    let h = h :> IProcessManagerHost
                    do! h.Start ct
                    do! catchUp h
                    let! st = status h "strict"
                    Expect.equal (st.Active, st.Attempts) (false, 1) "disabled after one attempt"
                    Expect.isSome st.LastError "the error is kept"
                    let! _ = bump store 9L 2
                    do! catchUp h
                    let! handled = seen env "strict"
                    Expect.equal (ids handled) [ events[0].Id ] "nothing after the failing event is handled while stopped"
                    failing.Value <- false
                    let! r = h.Enable("strict", ct)
                    ok "enable" r
                    do! catchUp h
                    do! h.Stop()
                    let! handled = seen env "strict"
                    let! all = committed env
                    expectOnceInChainOrder "strict" all (fun _ -> true) (ids handled)
                })
        }

        testTask "an undecodable payload goes through the error policy and is never skipped; a reset past it moves on" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! before = bump store 1L 2
                    let! garbled = emitTo store 1L [ box { GarbledText.Count = "many" } ]
                    let! after = bump store 1L 2
                    let! h = host env "r" [ recorderWith "reader" "r" 10 OnFailure.Stop StartAt.Origin (fun _ _ _ -> Task.FromResult(Ok())) ]
                    let h = h :> IProcessManagerHost
                    do! catchUp h
                    let! st = status h "reader"
                    Expect.isFalse st.Active "stopped on the unreadable payload"
                    Expect.stringContains (defaultArg st.LastError "") "fable.undecodable_payload" "the typed error is kept"
                    let! handled = seen env "reader"
                    Expect.equal (ids handled) [ for e in before -> e.Id ] "only the events before it are handled"
                    let! r = h.Reset("reader", StartAt.After garbled.Head.Position, ct)
                    ok "reset past it" r
                    let! r = h.Enable("reader", ct)
                    ok "enable" r
                    do! catchUp h
                    let! handled = seen env "reader"
                    Expect.equal (ids handled) [ for e in before @ after -> e.Id ] "the operator's reset skipped exactly that event"
                    let! st = status h "reader"
                    Expect.equal st.State "2" "the state restarted from the initial state at the reset"
                })
        }

        testTask "a runner whose connection is killed mid-batch reconnects and redoes the batch, recording no failure" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! events = bump store 1L 20
                    let target = events[7].Id
                    let inBatch, release, first = TaskCompletionSource(), TaskCompletionSource(), ref true
                    let before (_: IUnitOfWork) (inc: Incoming) (_: CancellationToken) =
                        task {
                            if inc.Recorded.Id = target && first.Value then
                                first.Value <- false
                                inBatch.SetResult()
                                do! release.Task
                            return Ok()
                        }
                    let! h = host env "me" [ recorderWith "sturdy" "me" 5 (OnFailure.Retry(ms 10.0, None)) StartAt.Origin before ]
                    let h = h :> IProcessManagerHost
                    do! h.Start ct
                    do! inBatch.Task
                    let! killed =
                        env.Scalar(
                            sprintf "SELECT pg_terminate_backend(holder_pid) FROM %s.process_managers WHERE name = 'sturdy'" (PgEnv.q env.FableSchema))
                    Expect.equal killed (box true) "the holder's session is terminated in the middle of its batch"
                    release.SetResult()
                    do! catchUp h
                    let! handled = seen env "sturdy"
                    let! all = committed env
                    expectOnceInChainOrder "sturdy" all (fun _ -> true) (ids handled)
                    let! st = PgDomain.eventually (fun () -> status h "sturdy") (fun s -> s.Holder.IsSome)
                    Expect.equal (st.Holder, st.Attempts, st.LastError, st.Active) (Some "me", 0, None, true)
                        "the runner took its lock again; a lost connection is not a handler failure"
                    do! h.Stop()
                })
        }

        testTask "a handler whose connection dies mid-batch is logged with the database's own cause, not the rollback's failure" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! events = bump store 1L 3
                    let target = events[1].Id
                    let first = ref true
                    // The handler's own session is terminated under it: its command fails, the batch's rollback then
                    // fails too (the connection is gone). The log must keep why the batch failed.
                    let before (uow: IUnitOfWork) (inc: Incoming) (ct: CancellationToken) =
                        task {
                            if inc.Recorded.Id = target && first.Value then
                                first.Value <- false
                                let conn = uow.Connection.Value :?> NpgsqlConnection
                                use cmd = new NpgsqlCommand("SELECT pg_terminate_backend(pg_backend_pid())", conn, uow.Transaction.Value :?> NpgsqlTransaction)
                                let! _ = cmd.ExecuteScalarAsync ct
                                ()
                            return Ok()
                        }
                    use loggers = new Fable.Tests.Observability.CapturingLoggers()
                    let! h = hostLogged env "me" [ recorderWith "cut" "me" 5 (OnFailure.Retry(ms 10.0, None)) StartAt.Origin before ] loggers
                    let h = h :> IProcessManagerHost
                    do! h.Start ct
                    do! catchUp h
                    do! h.Stop()
                    let! handled = seen env "cut"
                    let! all = committed env
                    expectOnceInChainOrder "cut" all (fun _ -> true) (ids handled)
                    let text = String.Join("\n", [ for e in loggers.Entries -> e.Message ])
                    Expect.stringContains text "terminating connection" "the log names the database's own cause (57P01), which the failed rollback must not hide"
                    Expect.isFalse (text.Contains "NpgsqlTransaction") (sprintf "the log does not blame the rollback's disposed transaction: %s" text)
                })
        }

        testTask "an event type the codec does not know arrives with Event = None" {
            do! using (fun env ->
                task {
                    let! store = writer env
                    let! events = emitTo store 4L [ box { Note = "who?" }; box { By = 1L } ]
                    let! h = host env "r" [ recorder "open" "r" 10 ]
                    do! catchUp h
                    let! handled = seen env "open"
                    Expect.equal [ for (id, _, decoded) in handled -> id, decoded ] [ events[0].Id, false; events[1].Id, true ]
                        "the unknown type is delivered undecoded, then the known one decoded"
                })
        }
    ]
