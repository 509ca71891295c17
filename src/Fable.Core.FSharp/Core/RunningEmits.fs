// The aggregates whose emit or replay is running in one unit of work, and the table API as handlers see it: a
// write of such an aggregate's own row is refused (Fable writes it from ToRow). Both interpreters use these.
namespace Fable.FSharp

open System
open System.Collections.Generic
open System.Threading.Tasks

/// The aggregates whose emit or replay is running in one unit of work (nested through decisions and handlers).
/// Not thread-safe, like the unit of work. Allocates nothing until emits nest.
[<Sealed; AllowNullLiteral>]
type internal RunningEmits() =
    // The outermost running aggregate (null when none) and the nested ones (null until an emit nests).
    let mutable first = Unchecked.defaultof<AggregateId>
    let mutable nested: List<AggregateId> = null

    let isFirst (id: AggregateId) = not (obj.ReferenceEquals(first, null)) && first.Equals id

    /// Whether an emit or replay of `id` is running.
    member _.IsRunning(id: AggregateId) =
        isFirst id || (not (isNull nested) && nested.Contains id)

    /// Marks `id` as running; Error (AggregateRow.reentered) when it is already.
    member this.Enter(id: AggregateId) : Result<unit, FableError> =
        if obj.ReferenceEquals(first, null) then
            first <- id
            Ok()
        elif this.IsRunning id then
            Error(AggregateRow.reentered id)
        else
            if isNull nested then nested <- List<AggregateId>(2)
            nested.Add id
            Ok()

    /// Marks `id` as no longer running (after `Enter` gave Ok).
    member _.Leave(id: AggregateId) =
        if not (isNull nested) && nested.Count > 0 && nested[nested.Count - 1].Equals id then nested.RemoveAt(nested.Count - 1)
        elif isFirst id then first <- Unchecked.defaultof<AggregateId>

    /// The error of a table-API `operation` writing the row `rowId` of `table` when it is the row of a running
    /// aggregate (`AggregateRow.ownRowWritten`); None otherwise (and always when nothing runs).
    member _.RowWrite(operation: string, table: string, rowId: obj) : FableError option =
        if obj.ReferenceEquals(first, null) || isNull table then None
        else
            let hit (id: AggregateId) = String.Equals(id.Table, table, StringComparison.Ordinal) && AggregateRow.sameKey id.Key rowId
            if hit first then Some(AggregateRow.ownRowWritten operation first)
            elif isNull nested then None
            else
                match Seq.tryFind hit nested with
                | Some id -> Some(AggregateRow.ownRowWritten operation id)
                | None -> None

/// The table API of a unit of work as decisions and handlers use it: `inner`'s, with writes of a running
/// aggregate's own row refused (`RunningEmits.RowWrite`) before `inner` sees them.
[<Sealed>]
type internal GuardedTables(inner: ITables, running: RunningEmits) =
    let refused (operation: string) (table: string) (rowId: obj) =
        match running.RowWrite(operation, table, rowId) with
        | Some e -> ValueSome(Task.FromResult(Error e))
        | None -> ValueNone

    let idOf (row: Row) =
        match row with
        | null -> null
        | r ->
            match r.TryGetValue "id" with
            | true, v -> v
            | _ -> null

    interface ITables with
        member _.Get(table, id, ct) = inner.Get(table, id, ct)
        member _.Find(table, column, value, ct) = inner.Find(table, column, value, ct)

        member _.Insert(table, row, ct) =
            match refused "Insert" table (idOf row) with
            | ValueSome e -> e
            | ValueNone -> inner.Insert(table, row, ct)

        member _.Upsert(table, row, ct) =
            match refused "Upsert" table (idOf row) with
            | ValueSome e -> e
            | ValueNone -> inner.Upsert(table, row, ct)

        member _.Delete(table, id, ct) =
            match running.RowWrite("Delete", table, id) with
            | Some e -> Task.FromResult(Error e)
            | None -> inner.Delete(table, id, ct)
