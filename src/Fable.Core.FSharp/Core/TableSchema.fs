// The declared tables as both interpreters check them: undeclared tables and columns, the key's type, each value
// coerced to its column's canonical value, NOT NULL columns on insert. Same code and message on both interpreters.
namespace Fable.FSharp

open System
open System.Collections.Generic

/// One declared table, ready for lookups: its columns by name (`id` and, for aggregates, `last_event_id` included).
[<Sealed; AllowNullLiteral>]
type TableSchema(decl: TableDecl) =
    let key = { Name = "id"; Type = ColumnType.OfKeyKind decl.KeyKind; Nullable = false }
    let all =
        [| yield key
           if decl.Kind = TableKind.Aggregate then yield { Name = "last_event_id"; Type = ColumnType.BigInt; Nullable = true }
           yield! decl.Columns |]
    let byName = Dictionary<string, ColumnDecl>(all.Length, StringComparer.Ordinal)
    do
        for c in all do
            byName[c.Name] <- c
    let notNull = decl.Columns |> List.filter (fun c -> not c.Nullable) |> Array.ofList

    /// The declaration.
    member _.Decl = decl
    /// The table name.
    member _.Name = decl.Name
    /// The `id` column.
    member _.Key = key
    /// Every column, `id` first, then `last_event_id` for aggregates, then the declared ones in order.
    member _.Columns = all
    /// The declared NOT NULL columns (besides `id`).
    member _.NotNull = notNull
    /// The column called `name`, if declared.
    member _.TryColumn(name: string, column: byref<ColumnDecl>) = not (isNull name) && byName.TryGetValue(name, &column)
    /// "column t.c (type)": where a value goes, for error texts.
    member _.Where(c: ColumnDecl) = sprintf "column %s.%s (%s)" decl.Name c.Name c.Type.SqlName

/// Every declared table of a runtime, by name.
[<Sealed>]
type TableSchemas(decls: TableDecl list) =
    let byName = Dictionary<string, TableSchema>(StringComparer.Ordinal)
    do
        for d in decls do
            byName[d.Name] <- TableSchema d

    /// No tables declared.
    static member val Empty = TableSchemas []
    /// The declarations.
    member _.Decls = decls
    /// The table called `name`, or null.
    member _.Find(name: string) : TableSchema =
        match (if isNull name then null else name) with
        | null -> null
        | n ->
            match byName.TryGetValue n with
            | true, t -> t
            | _ -> null

/// The checks both interpreters make before a table is read or written.
module internal TableSchema =
    let private declareHint = "(C#: FableBuilder.Table(name, keyKind, t => t.Column(...)); F#: Definition.Tables)"

    /// The declared ordinary or aggregate table `name`; InvalidDefinition when it is not declared.
    let table (schemas: TableSchemas) (name: string) : Result<TableSchema, FableError> =
        match schemas.Find name with
        | null ->
            if String.IsNullOrWhiteSpace name then Error(InvalidDefinition [ "a table name is blank" ])
            else Error(InvalidDefinition [ sprintf "table %s is not declared; declare it with its key and columns %s" name declareHint ])
        | t -> Ok t

    /// The declared table of an aggregate of `keyKind`; InvalidDefinition when it is not declared as one.
    let aggregate (schemas: TableSchemas) (name: string) (keyKind: KeyType) : Result<TableSchema, FableError> =
        match schemas.Find name with
        | null ->
            Error(InvalidDefinition [
                sprintf "aggregate table %s is not declared; declare the columns ToRow writes (C#: AggregateType.Columns(t => t.Column(...)); F#: Definition.Tables with TableDecl.aggregate)" name ])
        | t when t.Decl.Kind <> TableKind.Aggregate ->
            Error(InvalidDefinition [ sprintf "table %s is declared as an ordinary table, but aggregate %s lives in it; declare it as an aggregate table" name name ])
        | t when t.Decl.KeyKind <> keyKind ->
            Error(InvalidDefinition [ sprintf "aggregate table %s is declared with %A keys, but its aggregate has %A keys" name t.Decl.KeyKind keyKind ])
        | t -> Ok t

    /// The declared column `name` of `t`; InvalidDefinition naming the declared ones otherwise.
    let column (t: TableSchema) (name: string) : Result<ColumnDecl, FableError> =
        let mutable c = Unchecked.defaultof<ColumnDecl>
        if t.TryColumn(name, &c) then Ok c
        else
            let declared = String.Join(", ", t.Columns |> Array.map (fun c -> c.Name))
            Error(InvalidDefinition [ sprintf "table %s has no declared column %s (declared: %s); declare it or fix the name" t.Name name declared ])

    /// `v` as the canonical value of column `c` of `t` (null for SQL NULL); Unstorable when the column does not take it.
    let coerce (t: TableSchema) (c: ColumnDecl) (v: obj) : Result<obj, FableError> =
        match Coerce.unwrap v with
        | null when c.Nullable -> Ok null
        | null ->
            Error(Unstorable(t.Where c, if c.Name = "id" then "the id is null; give one" else "the column is NOT NULL and null was given"))
        | v ->
            match Coerce.value c.Type v with
            | Ok x -> Ok x
            | Error why -> Error(Unstorable(t.Where c, why))

    /// An id of `t` as its canonical value.
    let key (t: TableSchema) (id: obj) = coerce t t.Key id

    /// A value compared with column `name` of `t`: the column must be declared and take the value.
    let operand (t: TableSchema) (name: string) (v: obj) : Result<ColumnDecl * obj, FableError> =
        column t name |> Result.bind (fun c -> coerce t c v |> Result.map (fun x -> c, x))

    let private rowIsNull (t: TableSchema) = Error(InvalidDefinition [ sprintf "a null row was written to %s" t.Name ])

    /// A row written through the table API, coerced column by column, `id` first; every column must be declared and
    /// the row must hold a non-null `id`.
    let coerceRow (t: TableSchema) (row: Row) : Result<Row, FableError> =
        if isNull (box row) then rowIsNull t
        else
            let names = ResizeArray<string>(row.Count + 1)
            let values = ResizeArray<obj>(row.Count + 1)
            names.Add "id"
            values.Add null
            let mutable failed = None
            for kv in row do
                if failed.IsNone then
                    match operand t kv.Key kv.Value with
                    | Error e -> failed <- Some e
                    | Ok(c, x) when c.Name = "id" -> values[0] <- x
                    | Ok(c, x) ->
                        names.Add c.Name
                        values.Add x
            match failed with
            | Some e -> Error e
            | None when isNull values[0] -> key t null |> Result.map (fun _ -> null)
            | None -> Ok(CompactRow(names.ToArray(), values.ToArray()) :> Row)

    /// Ok when inserting `row` (coerced) gives every NOT NULL column a value; Unstorable naming the first that
    /// lacks one otherwise (PostgreSQL's not-null violation, decided before anything is sent).
    let checkInsert (t: TableSchema) (row: Row) : Result<unit, FableError> =
        let missing =
            t.NotNull |> Array.tryFind (fun c ->
                match row.TryGetValue c.Name with
                | true, v -> isNull v
                | _ -> true)
        match missing with
        | None -> Ok()
        | Some c ->
            Error(Unstorable(t.Where c, sprintf "the column is NOT NULL and the row inserted into %s gives it no value; give one" t.Name))

    /// The error of an insert whose id is taken (a unique violation on the key).
    let duplicate (t: TableSchema) (id: obj) =
        Conflict(None, None, None, false, sprintf "a row with id %O already exists in %s; use Upsert to change it" id t.Name)

    /// `row` with every column of `t` (the ones it lacks as null), in declared order: a row as it reads back.
    let complete (t: TableSchema) (row: Row) : Row =
        CompactRow(
            t.Columns |> Array.map (fun c -> c.Name),
            t.Columns |> Array.map (fun c -> match row.TryGetValue c.Name with | true, v -> v | _ -> null)) :> Row

    /// The canonical value of ToRow's column `name` for an aggregate table `t`: the column must be declared (not `id`
    /// or `last_event_id`, which Fable owns) and take the value.
    let toRowValue (t: TableSchema) (name: string) (v: obj) : Result<obj, FableError> =
        if name = "id" || name = "last_event_id" then
            Error(InvalidDefinition [ sprintf "ToRow of aggregate %s writes column %s, which Fable owns" t.Name name ])
        else
            let mutable c = Unchecked.defaultof<ColumnDecl>
            if t.TryColumn(name, &c) then coerce t c v
            else
                Error(InvalidDefinition [
                    sprintf "aggregate table %s has no declared column %s (written by ToRow); declare it with the aggregate's columns or fix the name" t.Name name ])

    /// ToRow's row coerced value by value (`toRowValue`). A CompactRow (what `Row.ofSeq` builds) whose values are all
    /// canonical already is returned as is (rows are immutable): no allocation on every emit's common path.
    let private coerceValues (t: TableSchema) (row: Row) : Result<Row, FableError> =
        let n = row.Count
        let mutable failed = ValueNone
        match row with
        | :? CompactRow as c ->
            // Values are copied only from the first one coercion changed.
            let mutable values: obj[] = null
            let mutable i = 0
            while failed.IsNone && i < n do
                match toRowValue t c.Names[i] c.Values[i] with
                | Error e -> failed <- ValueSome e
                | Ok x ->
                    if isNull values && not (obj.ReferenceEquals(x, c.Values[i])) then
                        values <- Array.zeroCreate<obj> n
                        Array.blit c.Values 0 values 0 i
                    if not (isNull values) then values[i] <- x
                i <- i + 1
            match failed with
            | ValueSome e -> Error e
            | ValueNone -> Ok(if isNull values then row else CompactRow(c.Names, values) :> Row)
        | _ ->
            let names = Array.zeroCreate<string> n
            let values = Array.zeroCreate<obj> n
            let mutable i = 0
            for kv in row do
                if failed.IsNone then
                    match toRowValue t kv.Key kv.Value with
                    | Error e -> failed <- ValueSome e
                    | Ok x ->
                        names[i] <- kv.Key
                        values[i] <- x
                i <- i + 1
            match failed with
            | ValueSome e -> Error e
            | ValueNone -> Ok(CompactRow(names, values) :> Row)

    /// ToRow's row for an aggregate table, coerced; when `inserting`, every NOT NULL column must be in it and the
    /// declared columns it lacks are added as null (the row reads back as PostgreSQL's would). Runs on every emit:
    /// no allocation when ToRow's CompactRow is fine as it is.
    let coerceToRow (t: TableSchema) (inserting: bool) (row: Row) : Result<Row, FableError> =
        if isNull (box row) then Error(InvalidDefinition [ sprintf "ToRow of aggregate %s returned null" t.Name ])
        else
            let n = row.Count
            match coerceValues t row with
            | Error e -> Error e
            | Ok coerced ->
                if not inserting then Ok coerced
                else
                    match checkInsert t coerced with
                    | Error e -> Error e
                    | Ok() when n = t.Decl.Columns.Length -> Ok coerced
                    | Ok() ->
                        let all = t.Decl.Columns
                        Ok(CompactRow(
                            [| for c in all -> c.Name |],
                            [| for c in all -> match coerced.TryGetValue c.Name with | true, v -> v | _ -> null |]) :> Row)
