// Process-manager properties: every committed event handled exactly once and in chain order per aggregate (runners,
// inline CatchUp, both at once), never a rolled-back one; retry and stop policies; disable, reset, rebuild; unknown
// and unreadable events; emits made by a handle commit with its checkpoint.
module Fable.Tests.ProcessManagers

open System
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Followers
open Fable.Tests.Support

/// How the process managers are driven while writers run.
type Drive =
    | Runners
    | CatchUpAfterwards
    | CatchUpWhileWriting

let private seenBy (inst: Instance) (pm: string) =
    rows inst seenTable |> List.filter (fun r -> Row.tryGet "pm" r = Some(box pm))

let private status (inst: Instance) name = run (inst.ProcessManagers.Status(name, ct)) |> ok "Status"

let private catchUp (inst: Instance) = run (inst.ProcessManagers.CatchUp(guard ())) |> ok "CatchUp"

let private stateOf (st: ProcessManagerInfo) =
    System.Text.Json.JsonSerializer.Deserialize<FollowerState>(st.State, System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))

let private appendNotes (i: IInterpreter) (key: Guid) n =
    for k in 1..n do
        run (Store.append i accounts (accountKey key) [ box { Text = string k; Fault = "" } ] ct) |> ok "append" |> ignore

/// Exactly once, in chain order, never a rolled-back event.
let exactlyOnce (fixture: Fixture) =
    propertyOn fixture "every committed event is handled exactly once per process manager, in chain order per aggregate, never a rolled-back one" 60
        (Gen.zip Gens.interleaving (Gen.elements [ Runners; CatchUpAfterwards; CatchUpWhileWriting ]))
        (fun (il, drive) ->
            let one, _ = follower "one-by-one" OnFailure.Stop 1 (fun _ _ -> false)
            let batched, _ = follower "batched" OnFailure.Stop 7 (fun _ _ -> false)
            withInstance fixture (runtimeWith [ one; batched ]) (fun inst ->
                let host = inst.ProcessManagers
                let keys = Array.init il.Accounts (fun _ -> Guid.NewGuid())
                if drive = Runners then wait (host.Start ct)
                let catchUps =
                    if drive = CatchUpWhileWriting then
                        Some(Threading.Tasks.Task.Run(fun () -> for _ in 1..5 do catchUp inst))
                    else None
                let outcomes = Runner.runConcurrently inst.Interpreter keys il.Threads
                catchUps |> Option.iter wait
                catchUp inst
                wait (host.Stop())
                let all = readAll inst
                Expect.equal (all |> List.map (fun e -> e.Id) |> Set.ofList) (Runner.committedIds outcomes) "the log is the acknowledged events"
                for name in [ "one-by-one"; "batched" ] do
                    let st = status inst name
                    Expect.isNone st.LastError (sprintf "%s never failed (a duplicate or out-of-order event would)" name)
                    Expect.isTrue st.Active (sprintf "%s stays active" name)
                    Expect.equal st.Lag 0L (sprintf "%s is caught up" name)
                    Expect.equal (stateOf st).Count (int64 all.Length) (sprintf "%s's stored state counted every event" name)
                    let seen = seenBy inst name |> List.sortBy (fun r -> Convert.ToInt64 r["seq"])
                    Expect.equal (seen |> List.map (fun r -> Convert.ToInt64 r["event"]) |> List.sort) (all |> List.map (fun e -> e.Id) |> List.sort)
                        (sprintf "%s handled each committed event exactly once" name)
                    for (agg, es) in all |> List.groupBy (fun e -> string e.Aggregate) do
                        let handled = seen |> List.filter (fun r -> string r["aggregate"] = agg) |> List.map (fun r -> Convert.ToInt64 r["event"])
                        Expect.equal handled (es |> List.map (fun e -> e.Id)) (sprintf "%s handled %s in chain order" name agg)))

/// Retry after the interval until success; the failed attempts leave no writes.
let retryThenSucceed (fixture: Fixture) =
    propertyOn fixture "a failing handle is retried after its interval until it succeeds, and failed attempts leave no writes" 30
        (Gen.zip3 (Gen.choose (1, 12)) (Gen.choose (0, 11)) (Gen.choose (1, 3)))
        (fun (n, at, failures) ->
            let at = at % n
            let failAt = ref -1L
            let pm, attempts =
                follower "retrying" (OnFailure.Retry(TimeSpan.FromMilliseconds 2.0, Some(failures + 1))) 4
                    (fun e attempt -> e.Id = failAt.Value && attempt <= failures)
            withInstance fixture (runtimeWith [ pm ]) (fun inst ->
                let key = Guid.NewGuid()
                appendNotes inst.Interpreter key n
                let all = readAll inst
                failAt.Value <- all[at].Id
                catchUp inst
                let st = status inst "retrying"
                Expect.isTrue st.Active "it recovered and stays active"
                Expect.isNone st.LastError "success clears the error"
                Expect.equal st.Attempts 0 "success resets the attempts"
                Expect.equal st.Lag 0L "it caught up"
                Expect.equal attempts[failAt.Value] (failures + 1) "the failing event was tried once more than it failed"
                Expect.equal (seenBy inst "retrying").Length n "each event's write exists once"))

/// Stop (or exhausted retries) disables at the failing event and keeps the error; enabling resumes.
let stopKeepsError (fixture: Fixture) =
    propertyOn fixture "a process manager stopped by its policy keeps its error and position until enabled again" 40
        (Gen.zip3 (Gen.choose (1, 10)) (Gen.choose (0, 9)) (Gen.elements [ None; Some 1; Some 2; Some 3 ]))
        (fun (n, at, maxAttempts) ->
            let at = at % n
            let broken = ref true
            let failAt = ref -1L
            let policy =
                match maxAttempts with
                | None -> OnFailure.Stop
                | Some m -> OnFailure.Retry(TimeSpan.FromMilliseconds 1.0, Some m)
            let pm, _ = follower "fragile" policy 3 (fun e _ -> broken.Value && e.Id = failAt.Value)
            withInstance fixture (runtimeWith [ pm ]) (fun inst ->
                let key = Guid.NewGuid()
                appendNotes inst.Interpreter key n
                let all = readAll inst
                failAt.Value <- all[at].Id
                catchUp inst
                let st = status inst "fragile"
                Expect.isFalse st.Active "the policy disabled it"
                Expect.equal st.Attempts (defaultArg maxAttempts 1) "every failed attempt is counted"
                Expect.stringContains (defaultArg st.LastError "") "fable.rejected" "the error is kept"
                Expect.equal st.Position (if at = 0 then LogPosition.Origin else all[at - 1].Position) "it stopped right before the failing event"
                Expect.equal st.Lag (int64 (n - at)) "the failing event and those after it are pending"
                Expect.equal (seenBy inst "fragile").Length at "only the events before the failure were handled"
                broken.Value <- false
                run (inst.ProcessManagers.Enable("fragile", ct)) |> ok "Enable"
                let enabled = status inst "fragile"
                Expect.isTrue enabled.Active "enabled"
                Expect.isNone enabled.LastError "enabling clears the error"
                Expect.equal enabled.Attempts 0 "enabling clears the attempts"
                catchUp inst
                Expect.equal (seenBy inst "fragile").Length n "after enabling, every event is handled"
                Expect.equal (status inst "fragile").Lag 0L "caught up"))

/// How many events a handle wrote for, per event id (`counting` process managers).
let private timesHandled (inst: Instance) (pm: string) =
    rows inst seenTable
    |> List.filter (fun r -> Row.tryGet "pm" r = Some(box pm))
    |> List.map (fun r -> Convert.ToInt64 r["event"], Convert.ToInt64 r["times"])
    |> Map.ofList

/// A fault injected between a batch's handler writes and its checkpoint write (FaultPoints, on both interpreters):
/// after each failed attempt the handlers' writes and the checkpoint/state agree (neither survives alone); after
/// recovery (by CatchUp on the caller's task, or by background runners) every event was handled exactly once.
let faultBeforeCheckpoint (fixture: Fixture) =
    propertyOn fixture "a failure between a batch's handler writes and its checkpoint leaves neither behind, and every event is then handled exactly once" 40
        (Gen.zip3 (Gen.zip (Gen.choose (1, 14)) (Gen.choose (1, 4)))
                  (Gen.choose (0, 4) |> Gen.bind (fun k -> Gen.listOfLength k (Gen.choose (0, 6))))
                  (Gen.elements [ Runners; CatchUpAfterwards ]))
        (fun ((n, batchSize), faulty, drive) ->
            let faulty = Set.ofList faulty
            let name = "fault-" + Guid.NewGuid().ToString("N")
            let pm = { counting name with BatchSize = batchSize; ErrorPolicy = OnFailure.Retry(TimeSpan.FromMilliseconds 1.0, None) }
            let calls = ref 0
            let injected = ref 0
            FaultPoints.armBeforeCheckpoint pm (fun _ ->
                let call = Threading.Interlocked.Increment &calls.contents - 1
                if faulty.Contains call then
                    Threading.Interlocked.Increment &injected.contents |> ignore
                    raise (exn "fault injected before the checkpoint"))
            try
                withInstance fixture (runtimeWith [ pm ]) (fun inst ->
                    let host = inst.ProcessManagers
                    appendNotes inst.Interpreter (Guid.NewGuid()) n
                    settle inst
                    let all = readAll inst
                    // The handlers' writes are exactly those of the events up to the checkpoint, and the state counts them.
                    let consistent (when': string) =
                        let st = status inst name
                        let upTo = if st.Position = LogPosition.Origin then 0 else 1 + (all |> List.findIndex (fun e -> e.Position = st.Position))
                        let times = timesHandled inst name
                        for (k, e) in List.indexed all do
                            Expect.equal (times.TryFind e.Id |> Option.defaultValue 0L) (if k < upTo then 1L else 0L)
                                (sprintf "%s: event %d of %d has a handler write exactly when the checkpoint (%d events) covers it" when' k n upTo)
                        Expect.equal st.State (string upTo) (sprintf "%s: the stored state counts the events up to the checkpoint" when')
                        st
                    if drive = Runners then wait (host.Start ct)
                    let mutable finished = false
                    let mutable failures = 0
                    while not finished do
                        match run (host.CatchUp(guard ())) with
                        | Ok() -> finished <- true
                        | Error(Infrastructure(m, _)) when m.Contains "fault injected" ->
                            failures <- failures + 1
                            Expect.isLessThanOrEqual failures faulty.Count "each injected fault fails one CatchUp at most"
                            // With runners started they may be handling meanwhile: look only once they are stopped.
                            if drive = CatchUpAfterwards then consistent (sprintf "after fault %d" failures) |> ignore
                        | Error e -> failtestf "CatchUp failed with %O" e
                    wait (host.Stop())
                    let st = consistent "after recovery"
                    Expect.equal st.Lag 0L "every event is handled"
                    Expect.equal (st.Active, st.Attempts, st.LastError) (true, 0, None) "a failure of the runner is no handler failure"
                    if drive = CatchUpAfterwards then
                        Expect.equal failures injected.Value "every injected fault failed its CatchUp")
            finally
                FaultPoints.disarm pm)

let tests (fixture: Fixture) = [ exactlyOnce fixture; retryThenSucceed fixture; stopKeepsError fixture; faultBeforeCheckpoint fixture ]
