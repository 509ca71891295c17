// The committed state of the in-memory interpreter: tables, the global log in (Tx, Id) order (EventLog),
// per-aggregate chains and locks, id counters. Every read and the publication of a commit take one short global lock.
namespace Fable.FSharp.InMemory

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Threading
open Fable.FSharp

/// One aggregate's lock (held by at most one unit of work until it ends) and its committed chain.
[<AllowNullLiteral>]
type internal AggregateSlot(id: AggregateId) =
    /// The aggregate (one shared instance, referenced by all its recorded events).
    member _.Id = id
    /// The aggregate's lock.
    member val Gate = new SemaphoreSlim(1, 1)
    /// The id of the unit of work holding the lock (0 when free).
    [<DefaultValue>]
    val mutable Owner: int64
    /// The log indexes of the aggregate's committed events in chain order (guarded by the engine's lock).
    member val Chain = ResizeArray<int>()
    /// The aggregate's index in the log (-1 until its first commit; guarded by the engine's lock).
    member val LogIndex = -1 with get, set

/// An event recorded by a unit of work and not yet committed.
[<Struct; NoComparison; NoEquality>]
type internal Staged =
    { Event: StoredEvent
      Slot: AggregateSlot }

/// The committed state shared by every unit of work of one store.
type internal Engine(clock: unit -> DateTimeOffset) =
    let sync = obj ()
    let tables = Dictionary<string, Dictionary<obj, Row>>(StringComparer.Ordinal)
    let log = EventLog() :> ILog
    let slots = ConcurrentDictionary<AggregateId, AggregateSlot>()
    let mutable lastEventId = 0L
    let mutable lastTx = 0L
    let mutable lastUnitOfWork = 0L

    let tableOf name =
        match tables.TryGetValue name with
        | true, t -> t
        | _ ->
            let t = Dictionary<obj, Row>()
            tables[name] <- t
            t

    let committedRow (k: RowKey) =
        match tables.TryGetValue k.Table with
        | true, t ->
            match t.TryGetValue k.Id with
            | true, r -> r
            | _ -> null
        | _ -> null

    /// The index of the first logged event after `after` (caller holds the lock).
    let firstAfter (after: LogPosition) =
        let mutable lo = 0
        let mutable hi = log.Count
        while lo < hi do
            let mid = (lo + hi) >>> 1
            let p = log.Position mid
            if p.Tx < after.Tx || (p.Tx = after.Tx && p.Id <= after.Id) then lo <- mid + 1 else hi <- mid
        lo

    /// The clock that stamps recorded events.
    member _.Now() = clock ()

    /// Called after each commit that recorded events (set by the process-manager host while runners run).
    member val OnCommit: Action = null with get, set

    /// A new event id (ids of rolled-back events are never reused).
    member _.NextEventId() = Interlocked.Increment(&lastEventId)

    /// A new unit-of-work id (never 0).
    member _.NextUnitOfWorkId() = Interlocked.Increment(&lastUnitOfWork)

    /// The lock and chain of an aggregate.
    member _.Slot(id: AggregateId) =
        match slots.TryGetValue id with
        | true, s -> s
        | _ -> slots.GetOrAdd(id, fun id -> AggregateSlot id)

    /// The committed row with this key, or null.
    member _.Row(k: RowKey) : Row = lock sync (fun () -> committedRow k)

    /// The committed rows of `table` (optionally only those whose `column` equals `value`), unordered.
    member _.Scan(table: string, filter: (string * obj) option) : ResizeArray<Row> =
        lock sync (fun () ->
            let found = ResizeArray<Row>()
            match tables.TryGetValue table with
            | true, t ->
                for r in t.Values do
                    match filter with
                    | None -> found.Add r
                    | Some(column, value) ->
                        match r.TryGetValue column with
                        | true, v when Values.equal v value -> found.Add r
                        | false, _ when isNull (Values.normalize value) -> found.Add r
                        | _ -> ()
            | _ -> ()
            found)

    /// The committed events of an aggregate in chain order.
    member _.Chain(slot: AggregateSlot) : StoredEvent list =
        lock sync (fun () -> [ for i in slot.Chain -> log.Event i ])

    /// Up to `max` committed events after `after` in (Tx, Id) order.
    member _.ReadAll(after: LogPosition, max: int) : StoredEvent list =
        lock sync (fun () ->
            let start = firstAfter after
            let stop = min log.Count (start + max)
            [ for i in start .. stop - 1 -> log.Event i ])

    /// The position of the last committed event (Origin when none).
    member _.Head() =
        lock sync (fun () -> if log.Count = 0 then LogPosition.Origin else log.Position(log.Count - 1))

    /// How many committed events lie after `after`.
    member _.CountAfter(after: LogPosition) = lock sync (fun () -> int64 (log.Count - firstAfter after))

    /// Publishes a unit of work atomically: checks inserts, assigns the commit's Tx to its events, appends them
    /// to the log and their chains, applies the row writes and runs `actions`. Returns the commit's Tx (0 when it
    /// recorded no events).
    member this.Publish(staged: List<Staged>, writes: WriteSet, actions: List<unit -> unit>) =
        let writeCount = if obj.ReferenceEquals(writes, null) then 0 else writes.Count
        let result =
            lock sync (fun () ->
                let mutable clash = None
                for i in 0 .. writeCount - 1 do
                    match writes.Value i with
                    | Put(_, true) when clash.IsNone && not (isNull (committedRow (writes.Key i))) -> clash <- Some(writes.Key i)
                    | _ -> ()
                match clash with
                | Some k ->
                    Error(Conflict(None, None, None, false, sprintf "a row with id %O already exists in %s" k.Id k.Table))
                | None ->
                    let hasEvents = not (isNull staged) && staged.Count > 0
                    if hasEvents then
                        lastTx <- lastTx + 1L
                        let tx = lastTx
                        let mutable sorted = true
                        for i in 1 .. staged.Count - 1 do
                            if staged[i].Event.Id < staged[i - 1].Event.Id then sorted <- false
                        if not sorted then staged.Sort(fun a b -> compare a.Event.Id b.Event.Id)
                        for s in staged do
                            if s.Slot.LogIndex < 0 then s.Slot.LogIndex <- log.AddAggregate s.Slot.Id
                            s.Slot.Chain.Add(log.Append(s.Event, s.Slot.LogIndex, tx))
                    for i in 0 .. writeCount - 1 do
                        let k = writes.Key i
                        match writes.Value i with
                        | Put(r, _) -> (tableOf k.Table)[k.Id] <- r
                        | Merge(view, columns, baseRow) ->
                            let current = committedRow k
                            let r = if obj.ReferenceEquals(current, baseRow) then view else Rows.reapply current view columns
                            (tableOf k.Table)[k.Id] <- r
                        | Deleted ->
                            match tables.TryGetValue k.Table with
                            | true, t -> t.Remove k.Id |> ignore
                            | _ -> ()
                    if not (isNull actions) then
                        for a in actions do
                            a ()
                    Ok(if hasEvents then lastTx else 0L))
        match result with
        | Ok tx when tx > 0L ->
            match this.OnCommit with
            | null -> ()
            | notify -> notify.Invoke()
        | _ -> ()
        result
