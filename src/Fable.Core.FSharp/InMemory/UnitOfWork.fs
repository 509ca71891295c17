// One in-memory transaction: emits (locked per aggregate until the unit of work ends), loads, logs, replays
// and table reads/writes, all staged in its overlay. Failed emits roll back to their savepoint.
namespace Fable.FSharp.InMemory

open System
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open Fable.FSharp

/// A unit of work of the in-memory interpreter.
type internal UnitOfWork(engine: Engine, rt: Runtime, lockTimeout: TimeSpan) =
    let id = engine.NextUnitOfWorkId()
    let overlay = Overlay(engine)
    // The aggregate locks held: most units of work hold one, so a second list is made only when needed.
    // Guarded by `overlay` (a lock taken after the unit of work ended is given back at once).
    let mutable first: AggregateSlot = null
    let mutable others: List<AggregateSlot> = null
    let mutable tables: GuardedTables = Unchecked.defaultof<GuardedTables>

    // The aggregates whose emit or replay is running (re-entry and own-row writes are refused).
    let running = RunningEmits()

    /// Writes the aggregate row: the columns of `cols` (ToRow's, validated) plus `id` and `last_event_id`, over the
    /// current row (creating it when missing). `keyValue`: the key's boxed value (`key.Value`, boxed once per emit).
    let writeAggregate (def: AggregateDef<'S>) (keyValue: obj) (last: int64) (cols: Row) =
        let n = cols.Count
        let columns = Array.zeroCreate<string> (n + 2)
        let values = Array.zeroCreate<obj> (n + 2)
        let mutable i = 0
        Rows.iter cols (fun kv ->
            columns[i] <- kv.Key
            values[i] <- kv.Value
            i <- i + 1)
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

    /// Writes the row of the key whose boxed value is `keyValue` with `state` after event `last` (ToRow's row as
    /// `AggregateRow.stored` gives it); `inserting`: the row does not exist yet (the caller knows it from its own read).
    let writeRow (def: AggregateDef<'S>) (keyValue: obj) (inserting: bool) (last: int64) (state: 'S) : Result<unit, FableError> =
        match AggregateRow.stored rt.Tables def inserting state with
        | Error e -> Error e
        | Ok cols ->
            writeAggregate def keyValue last cols
            Ok()

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

    /// The engine this unit of work commits to.
    member _.Engine = engine

    /// Writes the aggregate row of the key whose boxed value is `keyValue` with `state` after event `last`
    /// (`inserting`: the row does not exist yet).
    member _.WriteRow(def: AggregateDef<'S>, keyValue: obj, inserting: bool, last: int64, state: 'S) =
        writeRow def keyValue inserting last state

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

    /// The state and last event id of the aggregate of `slot` as this unit of work sees it, and whether its row
    /// exists: a missing row is the initial state, unless the aggregate has events (a fork: refused).
    member private this.Read(def: AggregateDef<'S>, key: AggregateKey, keyValue: obj, slot: AggregateSlot) : Result<struct ('S * int64 option * bool), FableError> =
        let row = overlay.View { Table = def.Table; Id = keyValue }
        if isNull row && this.HasEvents slot then Error(AggregateRow.forked slot.Id)
        else
            match AggregateRow.stateOf def key row with
            | Error e -> Error e
            | Ok state -> Ok(struct (state, (if isNull row then None else Rows.lastEventId row), not (isNull row)))

    /// The end of an emit whose events were walked (`walked`): writes the final row unless the last event's handlers
    /// already saw it.
    member private _.Finish(def: AggregateDef<'S>, keyValue: obj, agg: AggregateId, sink: EmitSink<'S>,
                            walked: Result<struct ('S * int64 option * StoredEvent list * bool), FableError>) =
        match walked with
        | Error e -> Error e
        | Ok(struct (state', last', recorded, rowCurrent)) ->
            match (if rowCurrent then Ok() else writeRow def keyValue (not sink.Exists) last'.Value state') with
            | Error e -> Error e
            | Ok() -> Ok { Aggregate = { Id = agg; LastEventId = last'; State = state' }; Events = recorded }

    /// The emit after its decision returned `decided` on `state`: the shared steps per event, then `Finish`.
    member private this.Decided(def: AggregateDef<'S>, keyValue: obj, slot: AggregateSlot, rowExists: bool, state: 'S,
                                last: int64 option, decided: Result<obj list, FableError>, ct: CancellationToken)
                                : ValueTask<Result<Emitted<'S>, FableError>> =
        let agg = slot.Id
        match decided with
        | Error e -> ValueTask<_>(Error e)
        | Ok [] -> ValueTask<_>(Ok { Aggregate = { Id = agg; LastEventId = last; State = state }; Events = [] })
        | Ok events ->
            let sink = EmitSink<'S>(this, rt, def, keyValue, slot, rowExists, state, last, events, ct)
            let walked = sink.Run()
            if walked.IsCompleted then ValueTask<_>(this.Finish(def, keyValue, agg, sink, walked.GetAwaiter().GetResult()))
            else
                Steps.ofTask (task {
                    let! w = walked
                    return this.Finish(def, keyValue, agg, sink, w)
                })

    /// Emits under the aggregate's lock, marked as running: read, check `expected`, decide, record/evolve/write the
    /// row/handle per event (the shared steps), write the final row unless the last event's handlers already saw it.
    /// Synchronous (no task) while the decision and the handlers are.
    member private this.EmitLocked(def: AggregateDef<'S>, key: AggregateKey, slot: AggregateSlot, expected: Expected,
                                   decide: Decide<'S>, ct: CancellationToken) : ValueTask<Result<Emitted<'S>, FableError>> =
        let agg = slot.Id
        let keyValue = key.Value
        let read =
            match this.Read(def, key, keyValue, slot) with
            | Ok(struct (_, last, _)) as read ->
                match Steps.checkExpected agg expected last with
                | Ok() -> read
                | Error e -> Error e
            | failed -> failed
        match read with
        | Error e -> ValueTask<_>(Error e)
        | Ok(struct (state, last, rowExists)) ->
            let decided = Steps.decide this decide state ct
            if decided.IsCompleted then this.Decided(def, keyValue, slot, rowExists, state, last, decided.GetAwaiter().GetResult(), ct)
            else
                Steps.ofTask (task {
                    let! d = decided
                    return! this.Decided(def, keyValue, slot, rowExists, state, last, d, ct)
                })

    /// Whether the aggregate of `slot` has events, committed or recorded by this unit of work (its row must exist).
    member _.HasEvents(slot: AggregateSlot) =
        slot.Chain.Count > 0 || not (overlay.StagedOf slot.Id).IsEmpty

    /// The aggregate's committed events followed by this unit of work's own, in chain order.
    member _.LogOf(agg: AggregateId) : StoredEvent list =
        let slot = engine.Slot agg
        match overlay.StagedOf agg with
        | [] -> engine.Chain slot
        | own -> engine.Chain slot @ own

    /// The result of an aggregate operation begun at savepoint `sp`: what it wrote is taken back when it failed.
    member private _.Settle(sp: Savepoint, r: Result<'T, FableError>) =
        if Result.isError r then overlay.RollbackTo sp
        r

    /// An aggregate operation begun at savepoint `sp` threw `e`: what it wrote is taken back.
    member private _.Threw(operation: string, agg: AggregateId, sp: Savepoint, e: exn) : Result<'T, FableError> =
        overlay.RollbackTo sp
        match e with
        | :? OperationCanceledException -> Error Cancelled
        | e -> Error(Infrastructure(sprintf "%s on %O failed: %s" operation agg e.Message, Some e))

    /// Runs `f` on the locked aggregate of `slot`, marked as running, after a savepoint (see `Locked`); synchronous
    /// while `f` is.
    member private this.Enter(operation: string, slot: AggregateSlot, f: AggregateSlot -> ValueTask<Result<'T, FableError>>) =
        let agg = slot.Id
        match running.Enter agg with
        | Error e -> ValueTask<_>(Error e)
        | Ok() ->
            let sp = overlay.Savepoint()
            let mutable started = Unchecked.defaultof<ValueTask<Result<'T, FableError>>>
            let mutable now = ValueNone
            try
                started <- f slot
                if started.IsCompleted then now <- ValueSome(this.Settle(sp, started.GetAwaiter().GetResult()))
            with e ->
                now <- ValueSome(this.Threw(operation, agg, sp, e))
            match now with
            | ValueSome r ->
                running.Leave agg
                ValueTask<_>(r)
            | ValueNone ->
                let pending = started
                Steps.ofTask (task {
                    try
                        try
                            let! r = pending
                            return this.Settle(sp, r)
                        with e ->
                            return this.Threw(operation, agg, sp, e)
                    finally
                        running.Leave agg
                })

    /// The one skeleton of every aggregate operation (`operation` names it in errors): the unit of work is open, the
    /// key fits the declared table, the aggregate is locked (re-entrant) and marked running (a re-entry from its own
    /// decision or handlers is refused), and a savepoint takes back whatever `f` wrote when it fails. Synchronous
    /// while the lock is free and `f` is synchronous.
    member private this.Locked(operation: string, def: AggregateDef<'S>, key: AggregateKey, ct: CancellationToken,
                               f: AggregateSlot -> ValueTask<Result<'T, FableError>>) : ValueTask<Result<'T, FableError>> =
        if overlay.Ended then ValueTask<_>(Error Overlay.EndedError)
        else
            match AggregateDef.check rt.Tables def key with
            | Error e -> ValueTask<_>(Error e)
            | Ok() ->
                if ct.IsCancellationRequested then ValueTask<_>(Error Cancelled)
                else
                    let agg = AggregateDef.idOf def key
                    let slot = engine.Slot agg
                    if this.TryLockNow slot then this.Enter(operation, slot, f)
                    else
                        Steps.ofTask (task {
                            match! this.LockSlow(agg, slot, ct) with
                            | Error e -> return Error e
                            | Ok() -> return! this.Enter(operation, slot, f)
                        })

    /// The emit without its "fable.emit" span (Transaction.emit traces the emit with its commit).
    member this.EmitUntraced(def: AggregateDef<'S>, key: AggregateKey, expected: Expected, decide: Decide<'S>, ct: CancellationToken) =
        this.Locked("emit", def, key, ct, fun slot -> this.EmitLocked(def, key, slot, expected, decide, ct))

    interface IUnitOfWork with
        member this.Emit<'S>(def: AggregateDef<'S>, key, expected, decide, ct) =
            if Telemetry.emitObserved () then
                Telemetry.traceEmit null def.Table def.KeyKind (fun () -> this.EmitUntraced(def, key, expected, decide, ct).AsTask())
            else this.EmitUntraced(def, key, expected, decide, ct).AsTask()

        member this.Replay<'S>(def: AggregateDef<'S>, key, ct) =
            this.Locked("replay", def, key, ct, fun slot ->
                let keyValue = key.Value
                let write (state: 'S) (last: int64) =
                    Task.FromResult(writeRow def keyValue (isNull (overlay.View { Table = def.Table; Id = keyValue })) last state)
                Steps.ofTask (Replay.run rt this def slot.Id (this.LogOf slot.Id) write ct)).AsTask()

        member _.Load<'S>(def: AggregateDef<'S>, key, _ct) =
            if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
            else
                match AggregateDef.check rt.Tables def key with
                | Error e -> Task.FromResult(Error e)
                | Ok() ->
                    let row = overlay.View { Table = def.Table; Id = key.Value }
                    if isNull row then Task.FromResult(Ok None)
                    else
                        AggregateRow.stateOf def key row
                        |> Result.map (fun s -> Some { Id = AggregateDef.idOf def key; LastEventId = Rows.lastEventId row; State = s })
                        |> Task.FromResult

        member this.Log(agg, _ct) =
            if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
            else
                match Storable.checkKey agg.Table agg.Key with
                | Error e -> Task.FromResult(Error e)
                | Ok() -> Task.FromResult(Ok(this.LogOf agg))

        member _.Tables =
            if obj.ReferenceEquals(tables, null) then tables <- GuardedTables(Tables(overlay, rt.Tables), running)
            tables :> ITables
        member _.Connection = None
        member _.Transaction = None
        member _.Codec = rt.Codec

/// One in-memory emit's steps (`Steps.EmitWalk`): events are staged in the unit of work's overlay; `Exists` says
/// whether the aggregate's row exists, and becomes true once a write created it.
and [<Sealed>] internal EmitSink<'S>(uow: UnitOfWork, rt: Runtime, def: AggregateDef<'S>, keyValue: obj, slot: AggregateSlot,
                                     exists: bool, state: 'S, last: int64 option, events: obj list, ct: CancellationToken) =
    inherit Steps.EmitWalk<'S>(rt, uow, def, slot.Id, state, last, events, ct)
    let mutable exists = exists

    /// Whether the aggregate's row exists (as this unit of work sees it).
    member _.Exists = exists

    override _.Record(enc, meta, prev) =
        let engine = uow.Engine
        let eid = engine.NextEventId()
        let r =
            { Id = eid; PrevEventId = prev; Aggregate = slot.Id; TypeName = enc.TypeName
              TypeVersion = enc.TypeVersion; Meta = meta; Data = enc.Data
              InsertedAt = engine.Now(); Position = { Tx = 0L; Id = eid } }
        uow.Overlay.Stage(r, slot)
        ValueTask<_>(Ok r)

    override _.WriteRow(s, r) =
        match uow.WriteRow(def, keyValue, not exists, r.Id, s) with
        | Ok() ->
            exists <- true
            ValueTask<_>(Ok r)
        | Error e -> ValueTask<_>(Error e)
