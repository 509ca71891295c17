// The vocabulary every other module speaks: aggregate identities, positions in the global log
// and the envelope of a recorded event. Pure data, no I/O.
namespace Fable.FSharp

open System
open System.Collections.Generic

/// The primary key of an aggregate row: uuid, bigint or text.
[<RequireQualifiedAccess; CustomEquality; CustomComparison>]
type AggregateKey =
    | Uuid of Guid
    | Int of int64
    | Text of string

    /// The key as a boxed .NET value (Guid, int64 or string), as stored in the `id` column.
    member internal this.Value : obj =
        match this with
        | Uuid g -> box g
        | Int i -> box i
        | Text s -> box s

    /// The kind of this key.
    member this.Kind =
        match this with
        | Uuid _ -> KeyType.Uuid
        | Int _ -> KeyType.Int
        | Text _ -> KeyType.Text

    override this.ToString() =
        match this with
        | Uuid g -> g.ToString()
        | Int i -> string i
        | Text s -> s

    override this.Equals(o) =
        match o with
        | :? AggregateKey as k ->
            match this, k with
            | Uuid a, Uuid b -> a = b
            | Int a, Int b -> a = b
            | Text a, Text b -> String.Equals(a, b, StringComparison.Ordinal)
            | _ -> false
        | _ -> false

    override this.GetHashCode() =
        match this with
        | Uuid g -> g.GetHashCode()
        | Int i -> i.GetHashCode()
        | Text s -> StringComparer.Ordinal.GetHashCode s

    interface IComparable with
        member this.CompareTo(o) =
            match o with
            | :? AggregateKey as k ->
                match this, k with
                | Uuid a, Uuid b -> a.CompareTo b
                | Int a, Int b -> compare a b
                | Text a, Text b -> String.CompareOrdinal(a, b)
                | a, b -> compare (int a.Kind) (int b.Kind)
            | _ -> invalidArg "o" "not an AggregateKey"

/// Which of the three supported key types an aggregate table uses.
and [<RequireQualifiedAccess>] KeyType =
    | Uuid = 0
    | Int = 1
    | Text = 2

/// Helpers to build and convert aggregate keys.
module AggregateKey =
    /// Builds a key from a boxed Guid, int64/int32 or string; None for any other type.
    let tryOfObj (o: obj) =
        match o with
        | :? Guid as g -> Some(AggregateKey.Uuid g)
        | :? int64 as i -> Some(AggregateKey.Int i)
        | :? int32 as i -> Some(AggregateKey.Int(int64 i))
        | :? string as s -> Some(AggregateKey.Text s)
        | _ -> None

/// Identifies one aggregate: its table and its key.
[<CustomEquality; CustomComparison>]
type AggregateId =
    { Table: string
      Key: AggregateKey }

    override this.ToString() = sprintf "%s/%O" this.Table this.Key

    override this.Equals(o) =
        match o with
        | :? AggregateId as a -> String.Equals(this.Table, a.Table, StringComparison.Ordinal) && this.Key.Equals a.Key
        | _ -> false

    override this.GetHashCode() = HashCode.Combine(StringComparer.Ordinal.GetHashCode this.Table, this.Key)

    interface IComparable with
        member this.CompareTo(o) =
            match o with
            | :? AggregateId as a ->
                let c = String.CompareOrdinal(this.Table, a.Table)
                if c <> 0 then c else compare this.Key a.Key
            | _ -> invalidArg "o" "not an AggregateId"

/// Builds aggregate ids.
module AggregateId =
    /// An aggregate of `table` with a uuid key.
    let uuid table (g: Guid) = { Table = table; Key = AggregateKey.Uuid g }
    /// An aggregate of `table` with a bigint key.
    let int table (i: int64) = { Table = table; Key = AggregateKey.Int i }
    /// An aggregate of `table` with a text key.
    let text table (s: string) = { Table = table; Key = AggregateKey.Text s }

/// A place in the global log as followers see it: the ordering key (a transaction-derived number that
/// only grows along each aggregate's chain) and the event id. Followers read in (Tx, Id) order.
[<Struct>]
type LogPosition =
    { Tx: int64
      Id: int64 }

    /// Before every event.
    static member Origin = { Tx = 0L; Id = 0L }
    override this.ToString() = sprintf "%d:%d" this.Tx this.Id

/// An event as recorded in the log.
type StoredEvent =
    {
        /// Global id, unique, taken when the event is recorded (ids of rolled-back events leave gaps).
        Id: int64
        /// The id of the previous event of the same aggregate; None for its first event.
        PrevEventId: int64 option
        /// The aggregate the event belongs to.
        Aggregate: AggregateId
        /// The stable type name (not the CLR name unless registered so).
        TypeName: string
        /// The schema version of the payload.
        TypeVersion: int
        /// Metadata as a JSON object text.
        Meta: string
        /// The payload as JSON text.
        Data: string
        /// When the event was recorded (from the interpreter's clock).
        InsertedAt: DateTimeOffset
        /// The follower ordering key; see `LogPosition`. Final in what an emit in a transaction of its own returns; inside
        /// `Transact` the in-memory interpreter sets its Tx at commit (0 until then), PostgreSQL when recording.
        Position: LogPosition
    }

/// A row of a table as column name → value (id and last_event_id included when present).
type Row = IReadOnlyDictionary<string, obj>

/// Builds rows.
module Row =
    /// A row from column/value pairs (ordinal column names; a name given twice keeps its last value).
    /// The row is immutable and compact (two arrays): rows usually have a handful of columns.
    let ofSeq (pairs: seq<string * obj>) : Row = CompactRow.OfPairs pairs :> Row

    /// The value of `column`, or None when absent or DB null.
    let tryGet (column: string) (row: Row) =
        match row.TryGetValue column with
        | true, v when not (isNull v) && not (v :? DBNull) -> Some v
        | _ -> None
