// The portable row API (ITables) on the session's connection and transaction. Core's TableSchema checks the
// table, columns, key and values first (as in memory); each call is one batch [SAVEPOINT; statement; RELEASE], so a
// failed call leaves the unit of work (and an emit around it) usable. Upsert updates first and inserts when no row.
namespace Fable.FSharp.Postgres

open System
open Npgsql
open Fable.FSharp

/// ITables over a session, checked against the runtime's declared tables.
type internal PgTables(session: Session, schemas: TableSchemas) =
    let idCol = Sql.quote "id"

    /// The declared columns as a select list (a row reads back with exactly these, as in memory).
    let selectList (t: TableSchema) = String.Join(", ", t.Columns |> Array.map (fun c -> Sql.quote c.Name))

    /// `ORDER BY id` in PostgreSQL's code point order for text keys ("C" collation), as in memory.
    let orderBy (t: TableSchema) =
        if t.Decl.KeyKind = KeyType.Text then sprintf "ORDER BY %s COLLATE \"C\"" idCol else "ORDER BY " + idCol

    /// The row's columns with their declarations and values, `id` first.
    let columnsOf (t: TableSchema) (row: Row) =
        [ for kv in row ->
              let mutable c = Unchecked.defaultof<ColumnDecl>
              t.TryColumn(kv.Key, &c) |> ignore
              c, kv.Value ]

    let first (rows: Row list list) = match rows with r :: _ -> r | [] -> []

    let checkedRow (table: string) (row: Row) =
        TableSchema.table schemas table |> Result.bind (fun t -> TableSchema.coerceRow t row |> Result.map (fun r -> t, r))

    interface ITables with
        member _.Get(table, id, ct) =
            task {
                match TableSchema.table schemas table |> Result.bind (fun t -> TableSchema.key t id |> Result.map (fun k -> t, k)) with
                | Error e -> return Error e
                | Ok(t, key) ->
                    let cmd =
                        Sql.command (sprintf "SELECT %s FROM %s WHERE %s = $1" (selectList t) (Sql.table table) idCol)
                            [ Sql.columnParam t.Key key ]
                    let! r = session.Query(None, [ cmd ], ct)
                    return r |> Result.map (first >> List.tryHead)
            }

        member _.Find(table, column, value, ct) =
            task {
                match TableSchema.table schemas table |> Result.bind (fun t -> TableSchema.operand t column value |> Result.map (fun o -> t, o)) with
                | Error e -> return Error e
                | Ok(t, (c, v)) ->
                    let cmd =
                        if isNull v then
                            Sql.command (sprintf "SELECT %s FROM %s WHERE %s IS NULL %s" (selectList t) (Sql.table table) (Sql.quote c.Name) (orderBy t)) []
                        else
                            Sql.command
                                (sprintf "SELECT %s FROM %s WHERE %s = $1 %s" (selectList t) (Sql.table table) (Sql.quote c.Name) (orderBy t))
                                [ Sql.columnParam c v ]
                    let! r = session.Query(None, [ cmd ], ct)
                    return r |> Result.map first
            }

        member _.Insert(table, row, ct) =
            task {
                match checkedRow table row |> Result.bind (fun (t, r) -> TableSchema.checkInsert t r |> Result.map (fun () -> t, r)) with
                | Error e -> return Error e
                | Ok(t, r) ->
                    let cols = columnsOf t r
                    let sql =
                        sprintf "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO NOTHING RETURNING 1"
                            (Sql.table table) (String.Join(", ", [ for (c, _) in cols -> Sql.quote c.Name ]))
                            (String.Join(", ", [ for i in 1 .. cols.Length -> sprintf "$%d" i ])) idCol
                    let! result = session.Query(None, [ Sql.command sql [ for (c, v) in cols -> Sql.columnParam c v ] ], ct)
                    match result with
                    | Error e -> return Error e
                    | Ok rows when (first rows).IsEmpty -> return Error(TableSchema.duplicate t r["id"])
                    | Ok _ -> return Ok()
            }

        member _.Upsert(table, row, ct) =
            task {
                match checkedRow table row with
                | Error e -> return Error e
                | Ok(t, r) ->
                    let cols = columnsOf t r
                    let names = String.Join(", ", [ for (c, _) in cols -> Sql.quote c.Name ])
                    let values = String.Join(", ", [ for i in 1 .. cols.Length -> sprintf "$%d" i ])
                    // Update the listed columns of an existing row, insert when there is none: an unlisted NOT NULL
                    // column only matters for a new row, as in memory (INSERT … ON CONFLICT checks it always).
                    let sql =
                        if cols.Length = 1 then
                            sprintf "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO NOTHING" (Sql.table table) names values idCol
                        else
                            let sets = [ for (i, (c, _)) in List.indexed cols do if i > 0 then yield sprintf "%s = $%d" (Sql.quote c.Name) (i + 1) ]
                            sprintf
                                "WITH u AS (UPDATE %s SET %s WHERE %s = $1 RETURNING 1) INSERT INTO %s (%s) SELECT %s WHERE NOT EXISTS (SELECT 1 FROM u)"
                                (Sql.table table) (String.Join(", ", sets)) idCol (Sql.table table) names values
                    let! result = session.Query(None, [ Sql.command sql [ for (c, v) in cols -> Sql.columnParam c v ] ], ct)
                    match result with
                    | Error(Infrastructure(_, Some(:? PostgresException as p))) when p.SqlState = "23502" ->
                        // A new row without a NOT NULL column: the same error as Core gives in memory.
                        return TableSchema.checkInsert t r |> Result.bind (fun () -> result |> Result.map ignore)
                    | r -> return r |> Result.map ignore
            }

        member _.Delete(table, id, ct) =
            task {
                match TableSchema.table schemas table |> Result.bind (fun t -> TableSchema.key t id |> Result.map (fun k -> t, k)) with
                | Error e -> return Error e
                | Ok(t, key) ->
                    let cmd = Sql.command (sprintf "DELETE FROM %s WHERE %s = $1 RETURNING 1" (Sql.table table) idCol) [ Sql.columnParam t.Key key ]
                    let! r = session.Query(None, [ cmd ], ct)
                    return r |> Result.map (fun rows -> not (first rows).IsEmpty)
            }
