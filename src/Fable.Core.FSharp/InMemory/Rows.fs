// Row plumbing of the in-memory interpreter: normalised ids and values, id ordering, row keys, and the
// kinds of pending writes a unit of work stages before it commits.
namespace Fable.FSharp.InMemory

open System
open System.Collections.Generic
open Fable.FSharp

/// Ids and column values as the in-memory tables compare them (int32 and int64 are the same number).
module internal Values =
    /// The canonical form of an id or value: small integers widened to int64, keys unwrapped, DBNull as null.
    let normalize (o: obj) : obj =
        match o with
        | :? int64 -> o
        | :? int32 as i -> box (int64 i)
        | :? int16 as i -> box (int64 i)
        | :? byte as i -> box (int64 i)
        | :? uint32 as i -> box (int64 i)
        | :? AggregateKey as k -> k.Value
        | :? DBNull -> null
        | _ -> o

    /// Equality of two column values (canonical values, as Core's TableSchema coerced them).
    let equal (a: obj) (b: obj) = Coerce.equal (normalize a) (normalize b)

/// The key of one row: its table and its normalised id.
[<Struct; CustomEquality; NoComparison>]
type internal RowKey =
    { Table: string
      Id: obj }

    override this.Equals(o) =
        match o with
        | :? RowKey as k -> String.Equals(this.Table, k.Table, StringComparison.Ordinal) && this.Id.Equals k.Id
        | _ -> false

    override this.GetHashCode() = HashCode.Combine(StringComparer.Ordinal.GetHashCode this.Table, this.Id)

    interface IEquatable<RowKey> with
        member this.Equals k =
            String.Equals(this.Table, k.Table, StringComparison.Ordinal) && this.Id.Equals k.Id

/// A row write staged by a unit of work, applied to the committed tables at commit.
[<NoComparison; NoEquality>]
type internal Pending =
    /// Put this whole row; when `mustBeAbsent`, a committed row with the same id makes the commit a Conflict.
    | Put of row: Row * mustBeAbsent: bool
    /// The row as this unit of work sees it is `view`, built on the committed row `baseRow` (null when none) by
    /// changing `columns`. At commit those columns of `view` are written over whatever row is committed then.
    | Merge of view: Row * columns: string[] * baseRow: Row
    /// The row is deleted.
    | Deleted

/// Row helpers.
module internal Rows =
    /// Runs `f` on every column of a row (without boxing the enumerator of a Dictionary).
    let inline iter (r: Row) ([<InlineIfLambda>] f: KeyValuePair<string, obj> -> unit) =
        match r with
        | :? CompactRow as c ->
            let names = c.Names
            let values = c.Values
            for i in 0 .. names.Length - 1 do
                f (KeyValuePair(names[i], values[i]))
        | :? Dictionary<string, obj> as d ->
            for kv in d do
                f kv
        | _ ->
            for kv in r do
                f kv

    /// A fresh mutable copy of a row with room for `extra` more columns.
    let copyWith (extra: int) (r: Row) =
        let d = Dictionary<string, obj>(r.Count + extra, StringComparer.Ordinal)
        iter r (fun kv -> d[kv.Key] <- kv.Value)
        d

    /// A fresh mutable copy of a row.
    let copy (r: Row) = copyWith 0 r

    /// `baseRow` with the columns of `delta` written over it (`delta` itself when there is no base).
    let merge (baseRow: Row) (delta: Row) : Row =
        if isNull baseRow then delta
        else
            let d = copyWith delta.Count baseRow
            iter delta (fun kv -> d[kv.Key] <- kv.Value)
            d :> Row

    /// The column names of a row followed by `extra` empty slots.
    let columnsWith (extra: int) (r: Row) =
        let a = Array.zeroCreate<string> (r.Count + extra)
        match r with
        | :? CompactRow as c -> c.Names.CopyTo(a, 0)
        | :? Dictionary<string, obj> as d -> d.Keys.CopyTo(a, 0)
        | _ ->
            let mutable i = 0
            for k in r.Keys do
                a[i] <- k
                i <- i + 1
        a

    /// The column names of a row.
    let columns (r: Row) = columnsWith 0 r

    /// The union of two column lists.
    let union (a: string[]) (b: string[]) = Array.append a b |> Array.distinct

    /// `current` (null when none) with `columns` taken from `view`: the commit-time merge of a stale write.
    let reapply (current: Row) (view: Row) (columns: string[]) : Row =
        let d = if isNull current then Dictionary<string, obj>(StringComparer.Ordinal) else copy current
        for c in columns do
            match view.TryGetValue c with
            | true, v -> d[c] <- v
            | _ -> d.Remove c |> ignore
        d

    /// The row a pending write leaves visible (null when deleted).
    let viewOf (p: Pending) : Row =
        match p with
        | Put(r, _) -> r
        | Merge(v, _, _) -> v
        | Deleted -> null

    /// The `last_event_id` of a row (None when absent, null or the row is null).
    let lastEventId (r: Row) =
        if isNull r then None
        else
            match r.TryGetValue "last_event_id" with
            | true, (:? int64 as i) -> Some i
            | _ -> None
