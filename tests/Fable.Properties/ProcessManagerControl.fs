// Process-manager control and edge cases: disable, enable, reset to a position or the head, rebuild; unknown event
// types arrive as None while unreadable payloads go through the error policy; a handle's emits commit with it.
module Fable.Tests.ProcessManagerControl

open System
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Followers
open Fable.Tests.Support

let private status (inst: Instance) name = run (inst.ProcessManagers.Status(name, ct)) |> ok "Status"
let private catchUp (inst: Instance) = run (inst.ProcessManagers.CatchUp(guard ())) |> ok "CatchUp"

let private timesHandled (inst: Instance) (pm: string) =
    rows inst seenTable
    |> List.filter (fun r -> Row.tryGet "pm" r = Some(box pm))
    |> List.map (fun r -> Convert.ToInt64 r["event"], Convert.ToInt64 r["times"])
    |> Map.ofList

let private append (i: IInterpreter) (key: Guid) n =
    for k in 1..n do
        run (Store.append i accounts (accountKey key) [ box { Text = string k; Fault = "" } ] ct) |> ok "append" |> ignore

/// Disable, enable, reset and rebuild move the checkpoint as asked and handle again from there.
let control (fixture: Fixture) =
    propertyOn fixture "disable pauses, enable resumes, reset and rebuild handle again from the chosen position" 30
        (Gen.zip3 (Gen.choose (1, 10)) (Gen.choose (1, 6)) (Gen.choose (0, 15)))
        (fun (n, m, j) ->
            withInstance fixture (runtimeWith [ counting "counter" ]) (fun inst ->
                let i = inst.Interpreter
                let host = inst.ProcessManagers
                let key = Guid.NewGuid()
                append i key n
                catchUp inst
                Expect.isTrue (timesHandled inst "counter" |> Map.forall (fun _ t -> t = 1L)) "each event handled once"
                run (host.Disable("counter", ct)) |> ok "Disable"
                append i key m
                catchUp inst
                let paused = status inst "counter"
                Expect.isFalse paused.Active "disabled"
                Expect.equal paused.Lag (int64 m) "the new events wait"
                Expect.equal (timesHandled inst "counter").Count n "a disabled process manager handles nothing"
                run (host.Enable("counter", ct)) |> ok "Enable"
                catchUp inst
                Expect.equal (timesHandled inst "counter").Count (n + m) "enabled again, it handles the rest"
                let all = readAll inst
                let j = j % all.Length
                run (host.Reset("counter", StartAt.After all[j].Position, ct)) |> ok "Reset"
                let reset = status inst "counter"
                Expect.equal reset.Position all[j].Position "reset moves the checkpoint"
                Expect.equal reset.State "0" "reset restores the initial state"
                Expect.equal reset.Lag (int64 (all.Length - j - 1)) "the events after the checkpoint are pending again"
                catchUp inst
                let times = timesHandled inst "counter"
                for (k, e) in List.indexed all do
                    Expect.equal times[e.Id] (if k > j then 2L else 1L) "events after the reset position are handled again"
                run (host.Rebuild("counter", guard ())) |> ok "Rebuild"
                let rebuilt = status inst "counter"
                Expect.equal rebuilt.State (string all.Length) "rebuild handles the whole log from the initial state"
                Expect.equal rebuilt.Lag 0L "rebuild catches up"
                let again = timesHandled inst "counter"
                for (k, e) in List.indexed all do
                    Expect.equal again[e.Id] (if k > j then 3L else 2L) "rebuild handles every event again"
                run (host.Reset("counter", StartAt.Head, ct)) |> ok "Reset to head"
                let atHead = status inst "counter"
                Expect.equal atHead.Position (List.last all).Position "reset to the head skips the whole log"
                Expect.equal atHead.Lag 0L "nothing pending at the head"
                append i key 1
                catchUp inst
                Expect.equal (status inst "counter").State "1" "after a reset to the head only new events are handled"))

/// Unknown names and unreadable payloads.
let unknownAndUnreadable (fixture: Fixture) =
    testCase "unknown event types arrive as None; unreadable payloads stop the process manager by its policy" <| fun () ->
        let tolerant, _ = follower "tolerant" OnFailure.Stop 10 (fun _ _ -> false)
        withInstance fixture (trickyRuntime [ tolerant ]) (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            run (Store.append i accounts (accountKey key) [ box { Amount = 1L; BalanceBefore = 0L }; box ({ Note = "?" }: Mystery) ] ct) |> ok "append" |> ignore
            catchUp inst
            let st = status inst "tolerant"
            Expect.isNone st.LastError "an unknown type is not an error"
            Expect.stringContains st.State "\"unknown\":1" "the handle saw the unknown event with Event = None"
            match run (Store.replay i accounts (accountKey key) ct) with
            | Error(UnknownEventType("mystery", 1)) -> ()
            | other -> failtestf "replay over an unknown type should be UnknownEventType, got %A" (other |> Result.map ignore)
            let before = status inst "tolerant"
            run (Store.append i accounts (accountKey key) [ box ({ Note = "!" }: Garbled) ] ct) |> ok "append" |> ignore
            catchUp inst
            let stopped = status inst "tolerant"
            Expect.isFalse stopped.Active "an unreadable payload goes through the Stop policy"
            Expect.stringContains (defaultArg stopped.LastError "") "fable.undecodable_payload" "the error names the cause"
            Expect.equal stopped.Position before.Position "the unreadable event is not skipped"
            Expect.equal stopped.Lag 1L "the unreadable event stays pending")

/// Emits made by a handle commit with its checkpoint: a failed attempt's emits vanish, the retry's stay, once.
let emitsWithCheckpoint (fixture: Fixture) =
    propertyOn fixture "a handle's emits commit with its checkpoint, exactly once even when an attempt fails after emitting" 30
        (Gen.zip (Gen.listOf Gens.amount) (Gen.choose (0, 20)))
        (fun (amounts, failIndex) ->
            let audit = Guid.NewGuid()
            let failedOnce = Collections.Concurrent.ConcurrentDictionary<int64, bool>()
            let handle (uow: IUnitOfWork) (n: int) (inc: Incoming) ct : Task<Result<int, FableError>> =
                task {
                    match inc.Event with
                    | Some(:? Deposited) ->
                        let note = box { Text = string inc.Recorded.Id; Fault = "" }
                        match! uow.Emit(accounts, accountKey audit, Expected.Any, Pure(UntypedDecider.always [ note ]), ct) with
                        | Error e -> return Error e
                        | Ok _ when n = failIndex && failedOnce.TryAdd(inc.Recorded.Id, true) -> return Error(FableError.reject "fails after emitting")
                        | Ok _ -> return Ok(n + 1)
                    | _ -> return Ok n
                }
            let created = ProcessManager.create "auditor" 0 (fun s _ -> Ok s) |> ProcessManager.withHandleIn handle
            let pm = { created with ErrorPolicy = OnFailure.Retry(TimeSpan.FromMilliseconds 1.0, Some 3) } |> ProcessManager.erase
            withInstance fixture (runtimeWith [ pm ]) (fun inst ->
                let i = inst.Interpreter
                let key = Guid.NewGuid()
                for a in amounts do
                    run (Store.emitPure i accounts (accountKey key) (Commands.decide (Commands.Deposit a)) ct) |> ok "deposit" |> ignore
                catchUp inst
                let deposits = run (Store.log i (accountId key) ct) |> ok "Log" |> List.map (fun e -> string e.Id)
                let audited = run (Store.log i (accountId audit) ct) |> ok "Log"
                let texts = Checks.decode i.Codec audited |> List.map (fun e -> (e :?> Noted).Text)
                Expect.equal texts deposits "one audit note per deposit, in order, none from the failed attempt"
                Expect.isNone (status inst "auditor").LastError "the retry succeeded"))

let tests (fixture: Fixture) = [ control fixture; unknownAndUnreadable fixture; emitsWithCheckpoint fixture ]
