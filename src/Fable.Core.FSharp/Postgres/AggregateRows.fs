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
    /// The lock is keyed by the text `fable.create:<schema>:<table>:<key as text>` (the key's text form is the
    /// same in SQL as in `Sql.keyText`).
    let lockAndLoad (ctx: Context) (id: AggregateId) : NpgsqlBatchCommand list =
        let createLock =
            Events.text ctx "create-lock" id.Table (fun () ->
                sprintf
                    "SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE %s = $1) THEN false ELSE (SELECT true FROM pg_advisory_xact_lock(hashtextextended(%s || $1::text, 0))) END AS create_lock"
                    (Sql.table id.Table) idCol (Sql.literal (sprintf "fable.create:%s:%s:" ctx.Options.Schema id.Table)))
        let lockRow = Events.text ctx "lock-row" id.Table (fun () -> sprintf "SELECT * FROM %s WHERE %s = $1 FOR UPDATE" (Sql.table id.Table) idCol)
        [ Sql.command createLock [ Sql.keyParam id.Key ]; Sql.command lockRow [ Sql.keyParam id.Key ] ]

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
            match cols |> List.filter (fun (c, _) -> c = "id" || c = "last_event_id"), Storable.checkRow def.Table row with
            | [], Ok() -> Ok cols
            | [], Error e -> Error e
            | reserved, _ ->
                Error(InvalidDefinition [ for (c, _) in reserved -> sprintf "ToRow of aggregate %s writes column %s, which Fable owns" def.Table c ])

    /// Writes the row after events: an INSERT when the row did not exist (a row created meanwhile is a
    /// unique violation, hence a conflict), else an UPDATE guarded by `old` that raises the guard error
    /// when the row's last_event_id is not `old` any more. `last` None: the id the session took last from
    /// the event sequence (the last event, inserted by the statement before in the same batch).
    let write (ctx: Context) (id: AggregateId) (existed: bool) (old: int64 option) (last: int64 option) (cols: (string * obj) list) =
        // The text depends on the table and ToRow's column names: cached under both (names joined by NUL,
        // which no identifier contains).
        let names = String.Join("\000", [ for (c, _) in cols -> c ])
        let build () =
            let t = Sql.table id.Table
            if existed then
                let sets =
                    [ for (i, (c, _)) in List.indexed cols -> sprintf "%s = $%d" (Sql.quote c) (i + 1) ]
                    @ [ sprintf "%s = COALESCE($%d, %s)" lastCol (cols.Length + 1) (Events.currentId ctx) ]
                let n = cols.Length
                sprintf
                    "WITH u AS (UPDATE %s SET %s WHERE %s = $%d AND %s IS NOT DISTINCT FROM $%d RETURNING 1) SELECT %s.guard_row(EXISTS (SELECT 1 FROM u), $%d)"
                    t (String.Join(", ", sets)) idCol (n + 2) lastCol (n + 3) ctx.Schema (n + 4)
            else
                let quoted = [ idCol ] @ [ for (c, _) in cols -> Sql.quote c ] @ [ lastCol ]
                let values = [ for i in 1 .. quoted.Length - 1 -> sprintf "$%d" i ] @ [ sprintf "COALESCE($%d, %s)" quoted.Length (Events.currentId ctx) ]
                sprintf "INSERT INTO %s (%s) VALUES (%s)" t (String.Join(", ", quoted)) (String.Join(", ", values))
        let sql = Events.text ctx (if existed then "update-row" else "insert-row") (id.Table + "\000" + names) build
        let values = [ for (_, v) in cols -> Sql.valueParam v ]
        if existed then
            let message =
                String.Concat(
                    "aggregate ", id.Table, "/", id.Key.ToString(), ": last_event_id is no longer ",
                    (match old with Some o -> o.ToString(Globalization.CultureInfo.InvariantCulture) | None -> "NULL"),
                    " under the emit's lock; nothing was written")
            Sql.command sql (values @ [ Sql.int64Param last; Sql.keyParam id.Key; Sql.int64Param old; Sql.textParam message ])
        else
            Sql.command sql ([ Sql.keyParam id.Key ] @ values @ [ Sql.int64Param last ])
