// Process managers used by the properties: a follower that records every event it handles (and checks chain
// order in its JSON state), and a counter that may handle an event again after a reset or rebuild.
module Fable.Tests.Followers

open System
open System.Collections.Concurrent
open System.Threading.Tasks
open Fable.FSharp
open Fable.Tests.Domain

/// A follower's state, stored as JSON between batches.
type FollowerState =
    { Count: int64
      /// The last event handled per aggregate.
      Heads: Map<string, int64>
      /// Events whose type this codec does not know.
      Unknown: int64 }

let private initial = { Count = 0L; Heads = Map.empty; Unknown = 0L }

/// The id of the row a process manager writes for an event.
let seenId (pm: string) (eventId: int64) = sprintf "%s:%d" pm eventId

/// A follower that inserts one row per handled event (a second insert would be a Conflict: exactly once), refuses
/// an event that is not the next of its aggregate's chain, and fails when `fail event attempt` says so.
/// Returns the definition and the attempts made per event id.
let follower (name: string) (policy: OnFailure) (batchSize: int) (fail: StoredEvent -> int -> bool) =
    let attempts = ConcurrentDictionary<int64, int>()
    let handle (uow: IUnitOfWork) (s: FollowerState) (inc: Incoming) ct : Task<Result<FollowerState, FableError>> =
        task {
            let e = inc.Recorded
            let agg = string e.Aggregate
            if e.PrevEventId <> s.Heads.TryFind agg then
                return Error(FableError.reject (sprintf "event %d of %s arrived after %A, not after %A" e.Id agg (s.Heads.TryFind agg) e.PrevEventId))
            else
                let row =
                    Row.ofSeq [ "id", box (seenId name e.Id); "pm", box name; "event", box e.Id; "aggregate", box agg
                                "prev", (e.PrevEventId |> Option.map box |> Option.toObj); "seq", box s.Count; "times", box 1L ]
                match! uow.Tables.Insert(seenTable, row, ct) with
                | Error err -> return Error err
                | Ok() ->
                    let attempt = attempts.AddOrUpdate(e.Id, 1, fun _ n -> n + 1)
                    if fail e attempt then
                        return Error(FableError.reject (sprintf "failure injected at event %d, attempt %d" e.Id attempt))
                    else
                        return
                            Ok { s with
                                   Count = s.Count + 1L
                                   Heads = s.Heads.Add(agg, e.Id)
                                   Unknown = s.Unknown + (if inc.Event.IsNone then 1L else 0L) }
        }
    let pm =
        ProcessManager.create name initial (fun s _ -> Ok s)
        |> ProcessManager.withHandleIn handle
    { pm with ErrorPolicy = policy; BatchSize = batchSize } |> ProcessManager.erase, attempts

/// A process manager that counts, per event, how many times it handled it (Get then Upsert of `times`).
let counting (name: string) =
    let handle (uow: IUnitOfWork) (n: int64) (inc: Incoming) ct : Task<Result<int64, FableError>> =
        task {
            let id = seenId name inc.Recorded.Id
            match! uow.Tables.Get(seenTable, box id, ct) with
            | Error e -> return Error e
            | Ok existing ->
                let times = existing |> Option.bind (Row.tryGet "times") |> Option.map Convert.ToInt64 |> Option.defaultValue 0L
                let row = Row.ofSeq [ "id", box id; "pm", box name; "event", box inc.Recorded.Id; "times", box (times + 1L) ]
                match! uow.Tables.Upsert(seenTable, row, ct) with
                | Error e -> return Error e
                | Ok() -> return Ok(n + 1L)
        }
    let pm = ProcessManager.create name 0L (fun s _ -> Ok s) |> ProcessManager.withHandleIn handle
    { pm with ErrorPolicy = OnFailure.Stop; BatchSize = 3 } |> ProcessManager.erase

/// An event the codec encodes under a name no registration knows.
type Mystery = { Note: string }

/// An event the codec encodes with a payload that cannot be read back.
type Garbled = { Note: string }

/// The domain runtime with `pms`, whose codec writes Mystery events under an unknown name and Garbled events as
/// "account.noted" with a JSON payload of the wrong shape (which the domain's codec cannot read as a note).
let trickyRuntime (pms: ProcessManagerDef list) =
    let rt: Runtime =
        runtimeWith pms
        |> Support.withEncoding (function
            | :? Mystery -> Some { TypeName = "mystery"; TypeVersion = 1; Data = "{}" }
            | :? Garbled -> Some { TypeName = "account.noted"; TypeVersion = 1; Data = """{"text": ["not", "a", "string"], "fault": 7}""" }
            | _ -> None)
    { rt with Router = rt.Router |> Router.route<Mystery> [] |> Router.route<Garbled> [] }
