// What one unit of work has written but not committed: row writes, recorded events and commit actions, with
// savepoints (an undo log) so a failed emit inside the unit of work can be taken back without a trace.
namespace Fable.FSharp.InMemory

open System.Collections.Generic
open Fable.FSharp

/// A point to roll a unit of work back to.
[<Struct>]
type internal Savepoint = { Undo: int; Staged: int; Actions: int }

/// The uncommitted writes of one unit of work, read through by its own reads.
type internal Overlay(engine: Engine) =
    let mutable writes: WriteSet = Unchecked.defaultof<WriteSet>
    let mutable undo: List<struct (RowKey * Pending voption)> = null
    let mutable staged: List<Staged> = null
    let mutable actions: List<unit -> unit> = null
    let mutable ended = false

    let hasWrites () = not (obj.ReferenceEquals(writes, null))

    let set (k: RowKey) (p: Pending) =
        if not (hasWrites ()) then
            writes <- WriteSet()
            undo <- List<struct (RowKey * Pending voption)>(2)
        undo.Add(struct (k, writes.Set(k, p)))

    /// The pending write of a row, if any.
    member _.TryPending(k: RowKey, p: byref<Pending>) = hasWrites () && writes.TryGet(k, &p)

    /// The row as this unit of work sees it (null when absent or deleted).
    member this.View(k: RowKey) : Row =
        let mutable p = Unchecked.defaultof<Pending>
        if this.TryPending(k, &p) then Rows.viewOf p else engine.Row k

    /// The error of any use of a unit of work after it ended.
    static member EndedError = Infrastructure("the unit of work has already ended", None)

    /// Whether the unit of work has ended (nothing may be read or written through it any more).
    member _.Ended
        with get () = ended
        and set v = ended <- v

    /// The committed rows of `table` whose `column` equals `value`.
    member _.Committed(table: string, column: string, value: obj) = engine.Scan(table, Some(column, value))

    /// The pending writes of `table` (for scans).
    member _.PendingOf(table: string) =
        if not (hasWrites ()) then []
        else [ for i in 0 .. writes.Count - 1 do if writes.Key(i).Table = table then yield writes.Key i, writes.Value i ]

    /// Inserts a whole row that must not exist at commit (or replaces a row this unit of work deleted).
    member this.Insert(k: RowKey, row: Row) =
        let mutable p = Unchecked.defaultof<Pending>
        if this.TryPending(k, &p) then set k (Put(row, false)) else set k (Put(row, true))

    /// Changes `columns` of the row: `build` gets the row as this unit of work sees it (null when none) and returns
    /// the new row.
    member this.Change(k: RowKey, columns: string[], build: Row -> Row) =
        let mutable p = Unchecked.defaultof<Pending>
        if this.TryPending(k, &p) then
            match p with
            | Put(r, mustBeAbsent) -> set k (Put(build r, mustBeAbsent))
            | Merge(v, cs, b) -> set k (Merge(build v, Rows.union cs columns, b))
            | Deleted -> set k (Put(build null, false))
        else
            let b = engine.Row k
            set k (Merge(build b, columns, b))

    /// Writes the columns of `delta` over the row (creating it when absent).
    member this.Merge(k: RowKey, delta: Row) = this.Change(k, Rows.columns delta, fun current -> Rows.merge current delta)

    /// Deletes the row.
    member _.Delete(k: RowKey) = set k Deleted

    /// Adds an event recorded in this unit of work.
    member _.Stage(e: StoredEvent, slot: AggregateSlot) =
        if isNull staged then staged <- List<Staged>(2)
        staged.Add { Event = e; Slot = slot }

    /// The uncommitted events of one aggregate, in the order they were recorded.
    member _.StagedOf(id: AggregateId) =
        if isNull staged then []
        else [ for s in staged do if s.Event.Aggregate.Equals id then yield s.Event ]

    /// Adds an action run inside the commit's global lock (process-manager checkpoints).
    member _.OnCommit(a: unit -> unit) =
        if isNull actions then actions <- List<unit -> unit>()
        actions.Add a

    /// The current savepoint.
    member _.Savepoint() =
        { Undo = (if isNull undo then 0 else undo.Count)
          Staged = (if isNull staged then 0 else staged.Count)
          Actions = (if isNull actions then 0 else actions.Count) }

    /// Takes back everything written after `sp`.
    member _.RollbackTo(sp: Savepoint) =
        if not (isNull undo) then
            for i in undo.Count - 1 .. -1 .. sp.Undo do
                let struct (k, old) = undo[i]
                match old with
                | ValueSome p -> writes.Set(k, p) |> ignore
                | ValueNone -> writes.RemoveLast k
            undo.RemoveRange(sp.Undo, undo.Count - sp.Undo)
        if not (isNull staged) then staged.RemoveRange(sp.Staged, staged.Count - sp.Staged)
        if not (isNull actions) then actions.RemoveRange(sp.Actions, actions.Count - sp.Actions)

    /// Whether there is anything to commit.
    member _.IsEmpty =
        (not (hasWrites ()) || writes.Count = 0) && (isNull staged || staged.Count = 0) && (isNull actions || actions.Count = 0)

    /// Publishes everything atomically; the commit's Tx (0 without events).
    member _.Commit() = engine.Publish(staged, writes, actions)
