// One in-memory transaction: emits (locked per aggregate until the unit of work ends), loads, logs, replays
// and table reads/writes, all staged in its overlay. Failed emits roll back to their savepoint.
namespace Fable.InMemory

open System
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open Fable

/// A unit of work of the in-memory interpreter.
type internal UnitOfWork(engine: Engine, rt: Runtime, lockTimeout: TimeSpan) =
    let id = engine.NextUnitOfWorkId()
    // The outcome of a lock taken at once (one completed task for all).
    static let lockedNow = Task.FromResult(Result<unit, FableError>.Ok())
    let overlay = Overlay(engine)
    // The aggregate locks held: most units of work hold one, so a second list is made only when needed.
    // Guarded by `overlay` (a lock taken after the unit of work ended is given back at once).
    let mutable first: AggregateSlot = null
    let mutable others: List<AggregateSlot> = null
    let mutable tables: Tables = Unchecked.defaultof<Tables>

    /// Writes the aggregate row: the columns of `ToRow state` plus `id` and `last_event_id`, over the current row.
    let writeAggregate (def: AggregateDef<'S>) (key: AggregateKey) (last: int64) (state: 'S) : Result<unit, FableError> =
        match (try Ok(def.ToRow state) with e -> Error(HandlerFailed(def.Table, "ToRow", e.Message, Some e))) with
        | Error e -> Error e
        | Ok cols ->
            let cols = if isNull cols then Row.ofSeq [] else cols
            match Storable.checkRow def.Table cols with
            | Error e -> Error e
            | Ok() ->
                let n = cols.Count
                let columns = Array.zeroCreate<string> (n + 2)
                let values = Array.zeroCreate<obj> (n + 2)
                let mutable i = 0
                Rows.iter cols (fun kv ->
                    columns[i] <- kv.Key
                    values[i] <- Values.normalize kv.Value
                    i <- i + 1)
                let keyValue = key.Value
                columns[n] <- "id"
                values[n] <- keyValue
                columns[n + 1] <- "last_event_id"
                values[n + 1] <- box last
                overlay.Change({ Table = def.Table; Id = keyValue }, columns, fun current ->
                    // The row keeps its own id object (an equal value): one object less retained per write.
                    if not (isNull current) then
                        match current.TryGetValue "id" with
                        | true, v when not (isNull v) -> values[n] <- v
                        | _ -> ()
                    CompactRow.Overwrite(current, columns, values) :> Row)
                Ok()

    let stateOf (def: AggregateDef<'S>) (key: AggregateKey) (row: Row) : Result<'S * int64 option, FableError> =
        if isNull row then Ok(def.Initial key, None)
        else
            try
                Ok(def.OfRow row, Rows.lastEventId row)
            with e ->
                Error(HandlerFailed(def.Table, "OfRow", e.Message, Some e))

    /// Records a lock just taken; a unit of work that ended meanwhile gives it back at once (false).
    let keep (slot: AggregateSlot) =
        lock overlay (fun () ->
            if overlay.Ended then
                slot.Gate.Release() |> ignore
                false
            else
                slot.Owner <- id
                if isNull first then first <- slot
                else
                    if isNull others then others <- List<AggregateSlot>()
                    others.Add slot
                true)

    let release (slot: AggregateSlot) =
        slot.Owner <- 0L
        slot.Gate.Release() |> ignore

    /// Takes the aggregate's lock now if it is free or already ours.
    member _.TryLockNow(slot: AggregateSlot) =
        if Volatile.Read(&slot.Owner) = id then true
        elif slot.Gate.Wait 0 then keep slot
        else false

    /// Waits for the aggregate's lock; a wait past the timeout is a retryable Conflict (the deadlock analogue).
    member _.LockSlow(agg: AggregateId, slot: AggregateSlot, ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            try
                match! slot.Gate.WaitAsync(lockTimeout, ct) with
                | true -> return (if keep slot then Ok() else Error Overlay.EndedError)
                | false ->
                    return Error(Conflict(Some agg, None, None, true,
                                          sprintf "aggregate %O stayed locked by another unit of work for %O (a deadlock?)" agg lockTimeout))
            with
            | :? OperationCanceledException -> return Error Cancelled
            | e -> return Error(Infrastructure(sprintf "locking %O failed: %s" agg e.Message, Some e))
        }

    /// The overlay (for the process-manager host: savepoints and commit actions).
    member _.Overlay = overlay

    /// Publishes the overlay; the commit's Tx (0 when it recorded no events).
    member _.Commit() = if overlay.IsEmpty then Ok 0L else overlay.Commit()

    /// Ends the unit of work: it can no longer be used, and its aggregate locks are released.
    member _.End() =
        lock overlay (fun () ->
            overlay.Ended <- true
            if not (isNull first) then
                release first
                first <- null
            if not (isNull others) then
                for slot in others do
                    release slot
                others.Clear())

    /// Emits in one state machine: lock (re-entrant), savepoint, read, decide, record/evolve/handle, guarded write.
    /// Any failure rolls the unit of work back to the savepoint.
    member private this.EmitTask(def: AggregateDef<'S>, key: AggregateKey, expected: Expected, decide: Decide<'S>,
                                 ct: CancellationToken) : Task<Result<Emitted<'S>, FableError>> =
        task {
            if ct.IsCancellationRequested then
                return Error Cancelled
            else
                let agg = AggregateDef.idOf def key
                let slot = engine.Slot agg
                let! locked = if this.TryLockNow slot then lockedNow else this.LockSlow(agg, slot, ct)
                match locked with
                | Error e -> return Error e
                | Ok() ->
                    let sp = overlay.Savepoint()
                    let mutable result = Error Cancelled
                    try
                        let rowKey = { Table = def.Table; Id = key.Value }
                        match stateOf def key (overlay.View rowKey) with
                        | Error e -> result <- Error e
                        | Ok(state, last) ->
                            match Steps.checkExpected agg expected last with
                            | Error e -> result <- Error e
                            | Ok() ->
                                match! Steps.decide this decide state ct with
                                | Error e -> result <- Error e
                                | Ok [] -> result <- Ok { Aggregate = { Id = agg; LastEventId = last; State = state }; Events = [] }
                                | Ok events ->
                                    let shared = slot.Id
                                    let record (enc: EncodedEvent) (meta: string) (prev: int64 option) =
                                        let eid = engine.NextEventId()
                                        let r =
                                            { Id = eid; PrevEventId = prev; Aggregate = shared; TypeName = enc.TypeName
                                              TypeVersion = enc.TypeVersion; Meta = meta; Data = enc.Data
                                              InsertedAt = engine.Now(); Position = { Tx = 0L; Id = eid } }
                                        overlay.Stage(r, slot)
                                        ValueTask<_>(Ok r)
                                    match! Steps.applyEvents rt this def agg state last events record false ct with
                                    | Error e -> result <- Error e
                                    | Ok(state', last', recorded) ->
                                        let now = Rows.lastEventId (overlay.View rowKey)
                                        if now <> last then
                                            result <- Error(FableError.conflict agg last now)
                                        else
                                            match writeAggregate def key last'.Value state' with
                                            | Error e -> result <- Error e
                                            | Ok() -> result <- Ok { Aggregate = { Id = agg; LastEventId = last'; State = state' }; Events = recorded }
                    with
                    | :? OperationCanceledException -> result <- Error Cancelled
                    | e -> result <- Error(Infrastructure(sprintf "emit on %O failed: %s" agg e.Message, Some e))
                    if Result.isError result then overlay.RollbackTo sp
                    return result
        }

    member private this.ReplayLocked(def: AggregateDef<'S>, agg: AggregateId, ct: CancellationToken) : Task<Result<Aggregate<'S>, FableError>> =
        task {
            let mutable acc = Ok(def.Initial agg.Key, None)
            let mutable rest: RecordedEvent list = this.LogOf agg
            if rest.IsEmpty then acc <- Error(NotFound agg)
            while Result.isOk acc && not rest.IsEmpty do
                let r = rest.Head
                rest <- rest.Tail
                let (s, _) = Result.defaultWith (fun _ -> failwith "unreachable") acc
                match rt.Codec.Decode(r.TypeName, r.TypeVersion, r.Data) with
                | Error e -> acc <- Error e
                | Ok evt ->
                    match Steps.evolve def r.TypeName s evt |> Result.bind (fun s' -> Router.handlersFor rt.NameOf evt rt.Router |> Result.map (fun hs -> s', hs)) with
                    | Error e -> acc <- Error e
                    | Ok(s', handlers) ->
                        let args =
                            { Uow = this; Aggregate = agg; State = box s'; Event = evt; Recorded = r
                              Replaying = true; CancellationToken = ct }
                        match! Steps.runHandlers handlers args with
                        | Error e -> acc <- Error e
                        | Ok() -> acc <- Ok(s', Some r.Id)
            match acc with
            | Error e -> return Error e
            | Ok(state, last) ->
                match writeAggregate def agg.Key last.Value state with
                | Error e -> return Error e
                | Ok() -> return Ok { Id = agg; LastEventId = last; State = state }
        }

    /// The aggregate's committed events followed by this unit of work's own, in chain order.
    member _.LogOf(agg: AggregateId) : RecordedEvent list =
        let slot = engine.Slot agg
        match overlay.StagedOf agg with
        | [] -> engine.Chain slot
        | own -> engine.Chain slot @ own

    /// Runs `f` under the aggregate's lock inside a savepoint: anything it wrote is taken back when it fails.
    member private this.Locked(def: AggregateDef<'S>, key: AggregateKey, ct: CancellationToken,
                               f: AggregateId -> AggregateSlot -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
        else
            match AggregateDef.checkKey def key with
            | Error e -> Task.FromResult(Error e)
            | Ok() ->
                task {
                    if ct.IsCancellationRequested then
                        return Error Cancelled
                    else
                        let agg = AggregateDef.idOf def key
                        let slot = engine.Slot agg
                        let mutable locked = Ok()
                        if not (this.TryLockNow slot) then
                            let! l = this.LockSlow(agg, slot, ct)
                            locked <- l
                        match locked with
                        | Error e -> return Error e
                        | Ok() ->
                            let sp = overlay.Savepoint()
                            let mutable r = Error Cancelled
                            try
                                let! x = f agg slot
                                r <- x
                            with
                            | :? OperationCanceledException -> r <- Error Cancelled
                            | e -> r <- Error(Infrastructure(sprintf "%O failed: %s" agg e.Message, Some e))
                            if Result.isError r then overlay.RollbackTo sp
                            return r
                }

    interface IUnitOfWork with
        member this.Emit<'S>(def: AggregateDef<'S>, key, expected, decide, ct) =
            if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
            else
                match AggregateDef.checkKey def key with
                | Error e -> Task.FromResult(Error e)
                | Ok() -> this.EmitTask(def, key, expected, decide, ct)

        member this.Replay<'S>(def: AggregateDef<'S>, key, ct) =
            this.Locked(def, key, ct, fun agg _ -> this.ReplayLocked(def, agg, ct))

        member _.Load<'S>(def: AggregateDef<'S>, key, _ct) =
            if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
            else
                match AggregateDef.checkKey def key with
                | Error e -> Task.FromResult(Error e)
                | Ok() ->
                    let row = overlay.View { Table = def.Table; Id = key.Value }
                    if isNull row then Task.FromResult(Ok None)
                    else
                        stateOf def key row
                        |> Result.map (fun (s, last) -> Some { Id = AggregateDef.idOf def key; LastEventId = last; State = s })
                        |> Task.FromResult

        member this.Log(agg, _ct) =
            if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
            else
                match Storable.checkKey agg.Table agg.Key with
                | Error e -> Task.FromResult(Error e)
                | Ok() -> Task.FromResult(Ok(this.LogOf agg))

        member _.Tables =
            if obj.ReferenceEquals(tables, null) then tables <- Tables(overlay)
            tables :> ITables
        member _.Connection = None
        member _.Transaction = None
        member _.Codec = rt.Codec
