// The portable row API (ITables) on the session's connection and transaction: quoted identifiers,
// parameters for values, one round trip per call; a duplicate insert is a Conflict, not an aborted transaction.
namespace Fable.Postgres

open System
open Npgsql
open Fable

/// ITables over a session.
type internal PgTables(session: Session) =
    let idCol = Sql.quote "id"

    let aggOf (table: string) (id: obj) =
        AggregateKey.tryOfObj id |> Option.map (fun k -> { Table = table; Key = k })

    let columnsOf (table: string) (row: Row) =
        if isNull (box row) then
            Error(InvalidDefinition [ sprintf "a null row was written to %s" table ])
        else
            let cols = [ for kv in row -> kv.Key, kv.Value ]
            match cols |> List.tryFind (fun (c, _) -> c = "id") with
            | Some(_, v) when not (isNull v || v :? DBNull) -> Ok(v, cols)
            | _ -> Error(InvalidDefinition [ sprintf "a row written to %s has no id" table ])

    let insertSql (table: string) (cols: (string * obj) list) (onConflict: string) =
        let names = [ for (c, _) in cols -> Sql.quote c ]
        let values = [ for i in 1 .. cols.Length -> sprintf "$%d" i ]
        Sql.command
            (sprintf "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) %s RETURNING 1"
                (Sql.table table) (String.Join(", ", names)) (String.Join(", ", values)) idCol onConflict)
            [ for (_, v) in cols -> Sql.valueParam v ]

    let first (rows: Row list list) = match rows with r :: _ -> r | [] -> []

    interface ITables with
        member _.Get(table, id, ct) =
            task {
                let cmd = Sql.command (sprintf "SELECT * FROM %s WHERE %s = $1" (Sql.table table) idCol) [ Sql.valueParam id ]
                let! r = session.Query(aggOf table id, [ cmd ], ct)
                return r |> Result.map (first >> List.tryHead)
            }

        member _.Find(table, column, value, ct) =
            task {
                let cmd =
                    if isNull value || value :? DBNull then
                        Sql.command (sprintf "SELECT * FROM %s WHERE %s IS NULL ORDER BY %s" (Sql.table table) (Sql.quote column) idCol) []
                    else
                        Sql.command
                            (sprintf "SELECT * FROM %s WHERE %s = $1 ORDER BY %s" (Sql.table table) (Sql.quote column) idCol)
                            [ Sql.valueParam value ]
                let! r = session.Query(None, [ cmd ], ct)
                return r |> Result.map first
            }

        member _.Insert(table, row, ct) =
            task {
                match columnsOf table row with
                | Error e -> return Error e
                | Ok(id, cols) ->
                    let! r = session.Query(aggOf table id, [ insertSql table cols "DO NOTHING" ], ct)
                    match r with
                    | Error e -> return Error e
                    | Ok rows when (first rows).IsEmpty ->
                        return Error(Conflict(aggOf table id, None, None, false, sprintf "a row %s/%O already exists" table id))
                    | Ok _ -> return Ok()
            }

        member _.Upsert(table, row, ct) =
            task {
                match columnsOf table row with
                | Error e -> return Error e
                | Ok(id, cols) ->
                    let sets = [ for (c, _) in cols do if c <> "id" then yield sprintf "%s = EXCLUDED.%s" (Sql.quote c) (Sql.quote c) ]
                    let action = if sets.IsEmpty then "DO NOTHING" else "DO UPDATE SET " + String.Join(", ", sets)
                    let! r = session.Query(aggOf table id, [ insertSql table cols action ], ct)
                    return r |> Result.map ignore
            }

        member _.Delete(table, id, ct) =
            task {
                let cmd = Sql.command (sprintf "DELETE FROM %s WHERE %s = $1 RETURNING 1" (Sql.table table) idCol) [ Sql.valueParam id ]
                let! r = session.Query(aggOf table id, [ cmd ], ct)
                return r |> Result.map (fun rows -> not (first rows).IsEmpty)
            }
