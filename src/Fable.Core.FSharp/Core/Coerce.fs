// One canonical .NET value per declared column type (what Npgsql reads back), and the obviously-equivalent inputs
// each type takes. Both interpreters coerce before they store, send or compare; anything else is Unstorable.
namespace Fable.FSharp

open System

/// Coercion of .NET values to a column type's canonical value, and how canonical values compare.
module internal Coerce =
    /// 2000-01-01 UTC in ticks: Npgsql counts timestamptz microseconds from there and drops sub-microsecond ticks
    /// toward it (integer division).
    let private pgEpoch = DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks

    /// A UTC instant as timestamptz keeps it: whole microseconds.
    let utcMicros (ticks: int64) =
        DateTime(pgEpoch + (ticks - pgEpoch) / 10L * 10L, DateTimeKind.Utc)

    let private isOption (t: Type) = t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<option<int>>

    /// The value itself: DBNull as null, an F# option's content, an aggregate key's value.
    let rec unwrap (v: obj) : obj =
        match v with
        | null -> null
        | :? DBNull -> null
        | :? AggregateKey as k -> k.Value
        | v when isOption (v.GetType()) -> unwrap (v.GetType().GetProperty("Value").GetValue v)
        | v -> v

    let private name (v: obj) = v.GetType().Name

    /// What a column of type `t` takes, for error texts.
    let accepted (t: ColumnType) =
        match t with
        | ColumnType.Uuid -> "a Guid or a uuid's text"
        | ColumnType.BigInt -> "an integer (int64, int32, int16, byte, ...) in the bigint range"
        | ColumnType.Integer -> "an integer (int32, int16, byte, ...) in the integer range"
        | ColumnType.Text -> "a string or a char"
        | ColumnType.Boolean -> "a bool"
        | ColumnType.Numeric -> "a decimal or an integer"
        | ColumnType.DoublePrecision -> "a double, a float32 or an int32"
        | ColumnType.TimestampTz -> "a DateTimeOffset or a DateTime of kind Utc"
        | ColumnType.Jsonb -> "a string holding one JSON value"
        | ColumnType.Bytea -> "a byte[]"

    let private integer (v: obj) : int64 voption =
        match v with
        | :? int64 as i -> ValueSome i
        | :? int32 as i -> ValueSome(int64 i)
        | :? int16 as i -> ValueSome(int64 i)
        | :? byte as i -> ValueSome(int64 i)
        | :? sbyte as i -> ValueSome(int64 i)
        | :? uint16 as i -> ValueSome(int64 i)
        | :? uint32 as i -> ValueSome(int64 i)
        | :? uint64 as i when i <= uint64 Int64.MaxValue -> ValueSome(int64 i)
        | _ -> ValueNone

    /// The canonical value of the non-null `v` for type `t`, or why it is not one.
    let value (t: ColumnType) (v: obj) : Result<obj, string> =
        let refuse () = Error(sprintf "a %s is not a %s value; give %s" (name v) t.SqlName (accepted t))
        match t with
        | ColumnType.Uuid ->
            match v with
            | :? Guid -> Ok v
            | :? string as s ->
                match Guid.TryParse s with
                | true, g -> Ok(box g)
                | _ -> Error(sprintf "the text %s is not a uuid; give %s" s (accepted t))
            | _ -> refuse ()
        | ColumnType.BigInt ->
            match v with
            | :? int64 -> Ok v
            | _ ->
                match integer v with
                | ValueSome i -> Ok(box i)
                | ValueNone -> refuse ()
        | ColumnType.Integer ->
            match v with
            | :? int32 -> Ok v
            | _ ->
                match integer v with
                | ValueSome i when i >= int64 Int32.MinValue && i <= int64 Int32.MaxValue -> Ok(box (int32 i))
                | ValueSome i -> Error(sprintf "%d is outside the integer range; declare the column bigint" i)
                | ValueNone -> refuse ()
        | ColumnType.Text ->
            match v with
            | :? string as s ->
                match Storable.textProblem s with
                | None -> Ok v
                | Some why -> Error why
            | :? char as c when not (Char.IsSurrogate c) && c <> '\000' -> Ok(box (string c))
            | _ -> refuse ()
        | ColumnType.Boolean -> if v :? bool then Ok v else refuse ()
        | ColumnType.Numeric ->
            match v with
            | :? decimal -> Ok v
            | _ ->
                match integer v with
                | ValueSome i -> Ok(box (decimal i))
                | ValueNone -> refuse ()
        | ColumnType.DoublePrecision ->
            match v with
            | :? double -> Ok v
            | :? single as f -> Ok(box (double f))
            | :? int32 as i -> Ok(box (double i))
            | :? int16 as i -> Ok(box (double i))
            | _ -> refuse ()
        | ColumnType.TimestampTz ->
            match v with
            | :? DateTimeOffset as d -> Ok(box (utcMicros d.UtcTicks))
            | :? DateTime as d when d.Kind = DateTimeKind.Utc -> Ok(box (utcMicros d.Ticks))
            | :? DateTime as d ->
                Error(sprintf "a DateTime of kind %O has no time zone; give a DateTimeOffset or a DateTime of kind Utc" d.Kind)
            | _ -> refuse ()
        | ColumnType.Jsonb ->
            match v with
            | :? string as s ->
                match Payload.problem s with
                | None -> Ok v
                | Some why -> Error(why.Replace("the payload", "the JSON"))
            | _ -> refuse ()
        | ColumnType.Bytea ->
            match v with
            | :? (byte[]) as b -> Ok(box (Array.copy b))
            | _ -> refuse ()

    /// Equality of two canonical values (null equals only null; byte arrays by content).
    let equal (a: obj) (b: obj) =
        match a, b with
        | null, null -> true
        | null, _
        | _, null -> false
        | (:? (byte[]) as x), (:? (byte[]) as y) -> ReadOnlySpan<byte>(x).SequenceEqual(ReadOnlySpan<byte>(y))
        | _ -> a.Equals b

    /// Orders two strings by Unicode code point, as PostgreSQL's "C" collation does (UTF-16 code unit order puts
    /// U+E000..U+FFFF after the surrogate pairs of U+10000 and above; code point order puts them before).
    let compareText (a: string) (b: string) =
        let n = min a.Length b.Length
        let mutable i = 0
        while i < n && a[i] = b[i] do
            i <- i + 1
        if i = n then compare a.Length b.Length
        else
            let rank (c: char) = if c >= '\uD800' && c <= '\uDFFF' then int c + 0x2000 elif c >= '\uE000' then int c - 0x800 else int c
            compare (rank a[i]) (rank b[i])

    /// Orders canonical ids as PostgreSQL orders them (bigint by value, uuid by bytes, text by code point).
    let compareIds (a: obj) (b: obj) =
        match a, b with
        | (:? int64 as x), (:? int64 as y) -> compare x y
        | (:? string as x), (:? string as y) -> compareText x y
        | (:? Guid as x), (:? Guid as y) -> x.CompareTo y
        | (:? IComparable as x), _ when a.GetType() = b.GetType() -> x.CompareTo b
        | _ -> String.CompareOrdinal(a.GetType().FullName, b.GetType().FullName)
