// The aggregate row as SQL: lock-and-load (with a create lock while the row is missing) and the row write guarded
// by the old last_event_id (a mismatch raises the schema's guard error), alone or in one statement with the events'
// INSERT. The row's rules are Core's AggregateRow.
namespace Fable.FSharp.Postgres

open System
open Npgsql
open Fable.FSharp

/// Statements over an application's aggregate table.
module internal AggregateRows =
    let private idCol = Sql.quote "id"
    let private lastCol = Sql.quote "last_event_id"

    /// The row FOR UPDATE, alone: how an emit locks an aggregate the store saw with a row (`KnownRows`). No row
    /// means it is gone: the emit then locks again with `lockAndLoad`, which queues creators and tells a fork.
    let lockRow (ctx: Context) (id: AggregateId) =
        let sql = Events.text ctx "lock-row" id.Table (fun () -> sprintf "SELECT * FROM %s WHERE %s = $1 FOR UPDATE" (Sql.table id.Table) idCol)
        Sql.command sql [ Sql.keyParam id.Key ]

    /// Lock-and-load, two statements in one batch. The first takes a transaction advisory lock keyed by
    /// schema, table and key only when the row is missing, so concurrent creators of one aggregate queue up, and
    /// then tells whether the aggregate has a first event although its row is missing (`forked`: a fork if it
    /// emitted, `AggregateRow.forked`; false when the row exists). The second (a new statement, hence a fresh
    /// snapshot) reads the row FOR UPDATE: a creator that waited sees the row its predecessor committed (and
    /// then ignores `forked`, which its older snapshot computed; a fork it misses meets the unique first-event
    /// index).
    /// The lock is keyed by the text `fable.create:<schema>:<table>:<key as text>` (the key's text form is the
    /// same in SQL as in `Sql.keyText`).
    let lockAndLoad (ctx: Context) (id: AggregateId) : NpgsqlBatchCommand list =
        let createLock =
            Events.text ctx "create-lock" id.Table (fun () ->
                sprintf
                    "SELECT CASE WHEN EXISTS (SELECT 1 FROM %s WHERE %s = $1) THEN false ELSE (SELECT EXISTS (SELECT 1 FROM %s.events e WHERE e.aggregate_table = %s AND e.aggregate_key = $1::text AND e.prev_event_id IS NULL) FROM pg_advisory_xact_lock(hashtextextended(%s || $1::text, 0))) END AS forked"
                    (Sql.table id.Table) idCol ctx.Schema (Sql.literal id.Table) (Sql.literal (sprintf "fable.create:%s:%s:" ctx.Options.Schema id.Table)))
        [ Sql.command createLock [ Sql.keyParam id.Key ]
          lockRow ctx id ]

    /// The row without locking.
    let select (id: AggregateId) =
        Sql.command (sprintf "SELECT * FROM %s WHERE %s = $1" (Sql.table id.Table) idCol) [ Sql.keyParam id.Key ]

    /// The column/parameter pairs of a row `AggregateRow.stored` gave, each typed as its declared column.
    let columns (tables: TableSchemas) (table: string) (row: Row) : (string * NpgsqlParameter) list =
        let schema = tables.Find table
        [ for kv in row ->
              let mutable c = Unchecked.defaultof<ColumnDecl>
              if not (isNull schema) && schema.TryColumn(kv.Key, &c) then kv.Key, Sql.columnParam c kv.Value
              else kv.Key, Sql.valueParam kv.Value ]

    /// The guard error's text as SQL, from the SQL of the key (`key`) and of the expected last_event_id (`old`),
    /// built by the server, so an emit sends no text for it: the row's last_event_id is not `old` any more. The
    /// key's text form is the same in SQL as in `AggregateKey.ToString`.
    let private guardMessage (id: AggregateId) (key: string) (old: string) =
        sprintf "%s || %s::text || ': last_event_id is no longer ' || COALESCE(%s::text, 'NULL') || %s"
            (Sql.literal ("aggregate " + id.Table + "/")) key old (Sql.literal " under the emit's lock (changed by SQL outside Fable?); nothing was written")

    /// Raises the guard error unless the row's last_event_id is still `last`: sent with the emit's last batch when
    /// the last event's handlers (which may run SQL of their own) ran after the row's last write.
    let guard (ctx: Context) (id: AggregateId) (last: int64) =
        let sql =
            Events.text ctx "guard-row" id.Table (fun () ->
                sprintf "SELECT %s.guard_row(EXISTS (SELECT 1 FROM %s WHERE %s = $1 AND %s = $2), %s)" ctx.Schema (Sql.table id.Table) idCol lastCol (guardMessage id "$1" "$2"))
        Sql.command sql [ Sql.keyParam id.Key; Sql.int64Param (Some last) ]

    /// Whether `cols` has the column names `names`, in that order.
    let private sameNames (names: string[]) (cols: (string * NpgsqlParameter) list) =
        let mutable rest = cols
        let mutable i = 0
        let mutable same = true
        while same && i < names.Length do
            match rest with
            | (c, _) :: tail ->
                same <- String.Equals(c, names[i], StringComparison.Ordinal)
                rest <- tail
                i <- i + 1
            | [] -> same <- false
        same && List.isEmpty rest

    /// The row write's statement: the columns `names` from parameter `$base + 1` on, the key, old last_event_id (the
    /// guard's) and new last_event_id as the SQL given: an INSERT (key, columns, last), or an UPDATE (columns, last)
    /// of the row whose last_event_id is still `old`, returning 1 when it matched.
    let private rowStatement (id: AggregateId) (existed: bool) (names: string list) (b: int) (key: string) (old: string) (last: string) =
        let t = Sql.table id.Table
        if existed then
            let sets = [ for (i, c) in List.indexed names -> sprintf "%s = $%d" (Sql.quote c) (b + i + 1) ] @ [ sprintf "%s = %s" lastCol last ]
            sprintf "UPDATE %s SET %s WHERE %s = %s AND %s IS NOT DISTINCT FROM %s RETURNING 1" t (String.Join(", ", sets)) idCol key lastCol old
        else
            let quoted = [ idCol ] @ [ for c in names -> Sql.quote c ] @ [ lastCol ]
            let values = [ key ] @ [ for i in 1 .. names.Length -> sprintf "$%d" (b + i) ] @ [ last ]
            sprintf "INSERT INTO %s (%s) VALUES (%s)" t (String.Join(", ", quoted)) (String.Join(", ", values))

    /// The text for `slot` (a table and kind of write) writing the columns `cols` names: the last text per slot is
    /// kept with its names, and reused while ToRow gives the same names (compared without allocating).
    let private rowText (ctx: Context) (slot: struct (string * int)) (cols: (string * NpgsqlParameter) list) (build: string list -> string) =
        match ctx.RowTexts.TryGetValue slot with
        | true, struct (names, sql) when sameNames names cols -> sql
        | _ ->
            let names = List.map fst cols
            let sql = build names
            ctx.RowTexts[slot] <- struct (Array.ofList names, sql)
            sql

    /// Writes the row with the state after event `last` (recorded by an earlier statement): an INSERT when the row
    /// does not exist yet (a row created meanwhile is a unique violation), else an UPDATE guarded by `old` that
    /// raises the guard error when the row's last_event_id is not `old` any more. Parameters: the columns, then
    /// the new last_event_id, the key and (an UPDATE) the old last_event_id.
    let write (ctx: Context) (id: AggregateId) (existed: bool) (old: int64 option) (last: int64) (cols: (string * NpgsqlParameter) list) =
        let sql =
            rowText ctx (struct (id.Table, if existed then 1 else 0)) cols (fun names ->
                let n = names.Length
                let key, old = sprintf "$%d" (n + 2), sprintf "$%d" (n + 3)
                let statement = rowStatement id existed names 0 key old (sprintf "$%d" (n + 1))
                if existed then
                    sprintf "WITH u AS (%s) SELECT %s.guard_row(EXISTS (SELECT 1 FROM u), %s)" statement ctx.Schema (guardMessage id key old)
                else statement)
        let c = NpgsqlBatchCommand(sql)
        for (_, p) in cols do
            c.Parameters.Add p |> ignore
        c.Parameters.Add(Sql.int64Param (Some last)) |> ignore
        c.Parameters.Add(Sql.keyParam id.Key) |> ignore
        if existed then
            c.Parameters.Add(Sql.int64Param old) |> ignore
        c

    /// Records `events` (the first follows `prev`; `Events.insertText`) and writes the row with the state after the
    /// last of them, in ONE statement: the write takes the last id from the INSERT (`RETURNING`) and the key from
    /// the INSERT's parameters; an UPDATE is guarded as in `write`, by `prev` (the row must still hold the event the
    /// first one follows), and its guard raises in the same statement, so nothing of it can commit. Returns the `id`,
    /// `tx` and `inserted_at` of each event, like the INSERT alone.
    let recordAndWrite (ctx: Context) (id: AggregateId) (existed: bool) (prev: int64 option) (events: StoredEvent[]) (cols: (string * NpgsqlParameter) list) =
        let multi = events.Length > 1
        let sql =
            rowText ctx (struct (id.Table, 2 + (if existed then 2 else 0) + (if multi then 1 else 0))) cols (fun names ->
                let key = sprintf "$%d" (Events.keyParameter multi)
                let statement = rowStatement id existed names 6 key "$1" "(SELECT max(e.id) FROM e)"
                // The guard in a materialized one-row CTE: called once, not once per event.
                let guard, from =
                    if existed then sprintf ", g AS MATERIALIZED (SELECT %s.guard_row(EXISTS (SELECT 1 FROM w), %s))" ctx.Schema (guardMessage id key "$1"), "e, g"
                    else "", "e"
                sprintf "WITH e AS (%s), w AS (%s)%s SELECT e.id, e.tx, e.inserted_at FROM %s" (Events.insertText ctx multi id) statement guard from)
        let c = NpgsqlBatchCommand(sql)
        Events.insertParameters c prev events
        for (_, p) in cols do
            c.Parameters.Add p |> ignore
        c
