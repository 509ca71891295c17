// The tables an application declares: each has a primary key `id` of a key kind and typed columns. Aggregate tables
// are declared the same way (their `id` and `last_event_id` implied). Pure data and its validation.
namespace Fable.FSharp

open System

/// The PostgreSQL type of a declared column. Each has one canonical .NET value (what Npgsql reads back).
[<RequireQualifiedAccess>]
type ColumnType =
    /// `uuid` ↔ Guid.
    | Uuid
    /// `bigint` ↔ int64.
    | BigInt
    /// `integer` ↔ int32.
    | Integer
    /// `text` ↔ string.
    | Text
    /// `boolean` ↔ bool.
    | Boolean
    /// `numeric` (unconstrained) ↔ decimal.
    | Numeric
    /// `double precision` ↔ double.
    | DoublePrecision
    /// `timestamp with time zone` ↔ DateTime in UTC, truncated to microseconds.
    | TimestampTz
    /// `jsonb` ↔ the JSON text.
    | Jsonb
    /// `bytea` ↔ byte[].
    | Bytea

    /// The type as PostgreSQL's `format_type` writes it.
    member this.SqlName =
        match this with
        | Uuid -> "uuid"
        | BigInt -> "bigint"
        | Integer -> "integer"
        | Text -> "text"
        | Boolean -> "boolean"
        | Numeric -> "numeric"
        | DoublePrecision -> "double precision"
        | TimestampTz -> "timestamp with time zone"
        | Jsonb -> "jsonb"
        | Bytea -> "bytea"

    /// The column type of an `id` of key kind `k`.
    static member OfKeyKind(k: KeyType) =
        match k with
        | KeyType.Uuid -> Uuid
        | KeyType.Int -> BigInt
        | _ -> Text

/// One declared column besides `id`.
type ColumnDecl =
    { Name: string
      Type: ColumnType
      /// Whether the column takes NULL (a NOT NULL column must be given when a row is inserted).
      Nullable: bool }

/// Whether a table holds an aggregate (Fable writes its row from ToRow) or ordinary rows (the table API).
[<RequireQualifiedAccess>]
type TableKind =
    | Ordinary
    | Aggregate

/// A declared table: its name, the kind of its primary key `id`, and its other columns.
type TableDecl =
    { Name: string
      KeyKind: KeyType
      Kind: TableKind
      /// Every column but `id` (and, for an aggregate table, `last_event_id`).
      Columns: ColumnDecl list }

/// Builds and validates table declarations.
module TableDecl =
    /// A NOT NULL column.
    let column name (t: ColumnType) = { Name = name; Type = t; Nullable = false }

    /// A nullable column.
    let nullable name (t: ColumnType) = { Name = name; Type = t; Nullable = true }

    /// An ordinary table written through the table API.
    let table name (keyKind: KeyType) (columns: ColumnDecl list) =
        { Name = name; KeyKind = keyKind; Kind = TableKind.Ordinary; Columns = columns }

    /// An aggregate table: `columns` are what ToRow writes (`id` and `last_event_id` are implied).
    let aggregate name (keyKind: KeyType) (columns: ColumnDecl list) =
        { Name = name; KeyKind = keyKind; Kind = TableKind.Aggregate; Columns = columns }

    /// The columns Fable owns in a table of this kind.
    let reserved (kind: TableKind) =
        match kind with
        | TableKind.Aggregate -> [ "id"; "last_event_id" ]
        | TableKind.Ordinary -> [ "id" ]

    /// Every problem of a list of declarations: blank or duplicate table names, blank, duplicate or reserved
    /// column names, undefined key kinds.
    let validate (decls: TableDecl list) : string list =
        [ for (name, n) in decls |> List.filter (fun d -> not (isNull (box d))) |> List.countBy (fun d -> d.Name) do
              if n > 1 then yield sprintf "table %s is declared %d times; declare it once" name n
          for d in decls do
              if isNull (box d) then yield "a table declaration is null"
              elif String.IsNullOrWhiteSpace d.Name then yield "a table declaration has a blank name"
              else
                  if not (Enum.IsDefined d.KeyKind) then
                      yield sprintf "table %s has key kind %d, which is not Uuid, Int or Text" d.Name (int d.KeyKind)
                  let columns = if isNull (box d.Columns) then [] else d.Columns
                  for (c, n) in columns |> List.filter (fun c -> not (isNull (box c))) |> List.countBy (fun c -> c.Name) do
                      if n > 1 then yield sprintf "column %s.%s is declared %d times; declare it once" d.Name c n
                  for c in columns do
                      if isNull (box c) || String.IsNullOrWhiteSpace c.Name then
                          yield sprintf "table %s declares a column with a blank name" d.Name
                      elif reserved d.Kind |> List.contains c.Name then
                          yield
                              sprintf "table %s declares column %s, which Fable implies for %s tables; leave it out"
                                  d.Name c.Name (if d.Kind = TableKind.Aggregate then "aggregate" else "all") ]
