// The aggregate row as SQL: lock-and-load (with a create lock while the row is missing), state from the row,
// and the row write guarded by the old last_event_id (a mismatch raises the schema's guard error).
namespace Fable.Postgres

open System
open Npgsql
open Fable

/// Statements over an application's aggregate table.
module internal AggregateRows =
    let private idCol = Sql.quote "id"
    let private lastCol = Sql.quote "last_event_id"

    /// Lock-and-load, two statements in one batch. The first takes a transaction advisory lock keyed by
    /// schema, table and key only when the row is missing, so concurrent creators of one aggregate queue up;
    /// the second (a new statement, hence a fresh snapshot) reads the row FOR UPDATE: a creator that waited
    /// sees the row its predecessor committed.
    let lockAndLoad (ctx: Context) (id: AggregateId) : NpgsqlBatchCommand list =
        let t = Sql.table id.Table
        let lockKey = sprintf "fable.create:%s:%s:%s" ctx.Options.Schema id.Table (Sql.keyText id.Key)
        [ Sql.command
              (sprintf
                  "SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE %s = $2) THEN false ELSE (SELECT true FROM pg_advisory_xact_lock(hashtextextended($1, 0))) END AS create_lock"
                  t idCol)
              [ Sql.textParam lockKey; Sql.keyParam id.Key ]
          Sql.command (sprintf "SELECT * FROM %s WHERE %s = $1 FOR UPDATE" t idCol) [ Sql.keyParam id.Key ] ]

    /// The row without locking.
    let select (id: AggregateId) =
        Sql.command (sprintf "SELECT * FROM %s WHERE %s = $1" (Sql.table id.Table) idCol) [ Sql.keyParam id.Key ]

    /// The state of a loaded row (OfRow), or the initial state when there is no row.
    let stateOf (def: AggregateDef<'S>) (key: AggregateKey) (row: Row option) : Result<'S, FableError> =
        try
            match row with
            | Some r -> Ok(def.OfRow r)
            | None -> Ok(def.Initial key)
        with e ->
            Error(HandlerFailed(def.Table, (if row.IsSome then "OfRow" else "Initial"), e.Message, Some e))

    /// The columns ToRow writes for `state`; id and last_event_id are Fable's and may not appear.
    let columnsOf (def: AggregateDef<'S>) (state: 'S) : Result<(string * obj) list, FableError> =
        match (try Ok(def.ToRow state) with e -> Error(HandlerFailed(def.Table, "ToRow", e.Message, Some e))) with
        | Error e -> Error e
        | Ok row when isNull (box row) -> Error(InvalidDefinition [ sprintf "ToRow of aggregate %s returned null" def.Table ])
        | Ok row ->
            let cols = [ for kv in row -> kv.Key, kv.Value ]
            match cols |> List.filter (fun (c, _) -> c = "id" || c = "last_event_id") with
            | [] -> Ok cols
            | reserved ->
                Error(InvalidDefinition [ for (c, _) in reserved -> sprintf "ToRow of aggregate %s writes column %s, which Fable owns" def.Table c ])

    /// Writes the row after events: an INSERT when the row did not exist (a row created meanwhile is a
    /// unique violation, hence a conflict), else an UPDATE guarded by `old` that raises the guard error
    /// when the row's last_event_id is not `old` any more.
    let write (ctx: Context) (id: AggregateId) (existed: bool) (old: int64 option) (last: int64 option) (cols: (string * obj) list) =
        let t = Sql.table id.Table
        if existed then
            let sets =
                [ for (i, (c, _)) in List.indexed cols -> sprintf "%s = $%d" (Sql.quote c) (i + 1) ]
                @ [ sprintf "%s = $%d" lastCol (cols.Length + 1) ]
            let n = cols.Length
            let message = sprintf "aggregate %O: last_event_id is no longer %s under the emit's lock; nothing was written" id (match old with Some o -> string o | None -> "NULL")
            Sql.command
                (sprintf
                    "WITH u AS (UPDATE %s SET %s WHERE %s = $%d AND %s IS NOT DISTINCT FROM $%d RETURNING 1) SELECT %s.guard_row(EXISTS (SELECT 1 FROM u), $%d)"
                    t (String.Join(", ", sets)) idCol (n + 2) lastCol (n + 3) ctx.Schema (n + 4))
                ([ for (_, v) in cols -> Sql.valueParam v ]
                 @ [ Sql.int64Param last; Sql.keyParam id.Key; Sql.int64Param old; Sql.textParam message ])
        else
            let names = [ idCol ] @ [ for (c, _) in cols -> Sql.quote c ] @ [ lastCol ]
            let values = [ for i in 1 .. names.Length -> sprintf "$%d" i ]
            Sql.command
                (sprintf "INSERT INTO %s (%s) VALUES (%s)" t (String.Join(", ", names)) (String.Join(", ", values)))
                ([ Sql.keyParam id.Key ] @ [ for (_, v) in cols -> Sql.valueParam v ] @ [ Sql.int64Param last ])
