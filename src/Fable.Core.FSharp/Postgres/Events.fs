// The events table as SQL: the statements that record, list and follow events, and StoredEvent read back
// from a row. Also the interpreter context every operation shares (runtime, options, schema, statement texts).
namespace Fable.FSharp.Postgres

open System
open System.Collections.Concurrent
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// What every operation of one store needs.
type internal Context =
    { Runtime: Runtime
      Options: PostgresOptions
      /// The schema as a quoted identifier.
      Schema: string
      /// Statement texts built once per (statement, table) and reused by every emit (see `Events.text`).
      Texts: ConcurrentDictionary<struct (string * string), string>
      /// The last row-write text per (table, kind of write: `AggregateRows.write`), with the column names it writes (`AggregateRows.write`).
      RowTexts: ConcurrentDictionary<struct (string * int), struct (string[] * string)>
      /// The aggregates this store saw with a row: their emits lock the row without the create lock (`KnownRows`).
      Known: KnownRows }

/// Statements over the events table.
module internal Events =
    /// A context for a runtime and options.
    let context (rt: Runtime) (options: PostgresOptions) =
        { Runtime = rt
          Options = options
          Schema = Sql.quote options.Schema
          Texts = ConcurrentDictionary()
          RowTexts = ConcurrentDictionary()
          Known = KnownRows() }

    /// The text of `statement` for `table` (any string naming the variant), built by `build` the first time.
    let inline text (ctx: Context) (statement: string) (table: string) ([<InlineIfLambda>] build: unit -> string) =
        match ctx.Texts.TryGetValue(struct (statement, table)) with
        | true, sql -> sql
        | _ -> ctx.Texts.GetOrAdd(struct (statement, table), build ())

    /// The columns of a StoredEvent, as selected.
    let columns =
        "id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta::text AS meta, data::text AS data, inserted_at, tx"

    /// The sequence expression that allocates event ids.
    let nextId (ctx: Context) = sprintf "nextval(%s::regclass)" (Sql.literal (ctx.Schema + ".event_ids"))

    /// The ordering key of the events an INSERT records after event `$1` (NULL for a first event): the
    /// transaction's xid, or the key of that previous event when it is larger (the INSERT is a statement after the
    /// row lock, so it sees that event).
    let private orderingKey (ctx: Context) =
        sprintf "GREATEST(pg_current_xact_id()::text::bigint, COALESCE((SELECT e.tx FROM %s.events e WHERE e.id = $1), 0))" ctx.Schema

    /// The statement name of an INSERT into the events table for a key kind (texts are cached per table and name).
    let private insertName (multi: bool) (kind: KeyType) =
        match multi, kind with
        | false, KeyType.Uuid -> "insert-uuid"
        | false, KeyType.Int -> "insert-int"
        | false, _ -> "insert-text"
        | true, KeyType.Uuid -> "insert-chain-uuid"
        | true, KeyType.Int -> "insert-chain-int"
        | true, _ -> "insert-chain-text"

    /// The text of an INSERT that records events of one aggregate and transaction (one ordering key) that follow
    /// each other in its chain, in one statement, under the aggregate's lock, returning the `id`, `tx` and
    /// `inserted_at` of each event; its parameters are `$1`..`$6` (`insertParameters`): `$1` the previous event,
    /// the key (of its own type, stored as its text) at `keyParameter`. Every id comes from the
    /// sequence in chain order, so ids grow along the chain; the first event follows `$1` (NULL: the aggregate's
    /// first event), each next one the row before it. The table and key kind are literals of the text (one text
    /// per table and kind, prepared once). Payload and metadata are not sent back: Core computed their jsonb text.
    let insertText (ctx: Context) (multi: bool) (agg: AggregateId) =
        let constants () = Sql.literal agg.Table + ", " + Sql.literal (Sql.kindText agg.Key.Kind)
        if not multi then
            text ctx (insertName false agg.Key.Kind) agg.Table (fun () ->
                sprintf
                    "INSERT INTO %s.events (id, prev_event_id, aggregate_table, key_kind, aggregate_key, type_name, type_version, meta, data, tx) VALUES (%s, $1, %s, $2::text, $3, $4, $5, $6, %s) RETURNING id, tx, inserted_at"
                    ctx.Schema (nextId ctx) (constants ()) (orderingKey ctx))
        else
            // The subquery takes the ids row by row in ORDINALITY order (it is not flattened: nextval is volatile).
            text ctx (insertName true agg.Key.Kind) agg.Table (fun () ->
                sprintf
                    "INSERT INTO %s.events (id, prev_event_id, aggregate_table, key_kind, aggregate_key, type_name, type_version, meta, data, tx) SELECT c.id, CASE WHEN c.ord = 1 THEN $1 ELSE lag(c.id) OVER (ORDER BY c.ord) END, %s, $6::text, c.type_name, c.type_version, c.meta::jsonb, c.data::jsonb, %s FROM (SELECT u.ord, %s AS id, u.type_name, u.type_version, u.meta, u.data FROM unnest($2::text[], $3::int[], $4::text[], $5::text[]) WITH ORDINALITY AS u(type_name, type_version, meta, data, ord)) c ORDER BY c.ord RETURNING id, tx, inserted_at"
                    ctx.Schema (constants ()) (orderingKey ctx) (nextId ctx))

    /// The number of the key's parameter in `insertText` (a statement that writes the row too uses it again).
    let keyParameter (multi: bool) = if multi then 6 else 2

    /// Adds the six parameters of `insertText` for `events` (the first follows `prev`) to `c`. The events' `Id`,
    /// `PrevEventId`, `Position` and `InsertedAt` are ignored (the statement computes them).
    let insertParameters (c: NpgsqlBatchCommand) (prev: int64 option) (events: StoredEvent[]) =
        let first = events[0]
        let key = Sql.keyParam first.Aggregate.Key
        // Parameters added one by one: this INSERT is on every emit's path (no list to build).
        let ps = c.Parameters
        ps.Add(Sql.int64Param prev) |> ignore
        if events.Length = 1 then
            ps.Add key |> ignore
            ps.Add(Sql.textParam first.TypeName) |> ignore
            ps.Add(NpgsqlParameter<int>(TypedValue = first.TypeVersion, NpgsqlDbType = NpgsqlDbType.Integer)) |> ignore
            ps.Add(NpgsqlParameter(Value = first.Meta, NpgsqlDbType = NpgsqlDbType.Jsonb)) |> ignore
            ps.Add(NpgsqlParameter(Value = first.Data, NpgsqlDbType = NpgsqlDbType.Jsonb)) |> ignore
        else
            ps.Add(NpgsqlParameter(Value = Array.map (fun (e: StoredEvent) -> e.TypeName) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))) |> ignore
            ps.Add(NpgsqlParameter(Value = Array.map (fun (e: StoredEvent) -> e.TypeVersion) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Integer))) |> ignore
            ps.Add(NpgsqlParameter(Value = Array.map (fun (e: StoredEvent) -> e.Meta) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))) |> ignore
            ps.Add(NpgsqlParameter(Value = Array.map (fun (e: StoredEvent) -> e.Data) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))) |> ignore
            ps.Add key |> ignore

    /// The aggregate's events in chain order (ids grow along a chain: each is taken under the row lock).
    let log (ctx: Context) (id: AggregateId) =
        Sql.command
            (sprintf "SELECT %s FROM %s.events WHERE aggregate_table = $1 AND aggregate_key = $2 ORDER BY id" columns ctx.Schema)
            [ Sql.textParam id.Table; Sql.textParam (Sql.keyText id.Key) ]

    /// The follower horizon: every transaction with an xid below it has ended (same snapshot as the rows read).
    let horizon = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"

    /// Up to `max` events after `after` in (tx, id) order, below the horizon.
    let readAll (ctx: Context) (after: LogPosition) (max: int) =
        sprintf "SELECT %s FROM %s.events WHERE (tx, id) > ($1, $2) AND tx < %s ORDER BY tx, id LIMIT $3" columns ctx.Schema horizon,
        [ NpgsqlParameter(Value = after.Tx, NpgsqlDbType = NpgsqlDbType.Bigint)
          NpgsqlParameter(Value = after.Id, NpgsqlDbType = NpgsqlDbType.Bigint)
          NpgsqlParameter(Value = max, NpgsqlDbType = NpgsqlDbType.Integer) ]

    /// The last position below the horizon.
    let head (ctx: Context) =
        sprintf "SELECT tx, id FROM %s.events WHERE tx < %s ORDER BY tx DESC, id DESC LIMIT 1" ctx.Schema horizon

    /// A recorded event from a row selected with `columns`.
    let ofRow (r: Row) : Result<StoredEvent, FableError> =
        let get (c: string) = r[c]
        match Sql.parseKey (string (get "key_kind")) (string (get "aggregate_key")) with
        | Error m -> Error(Infrastructure(sprintf "event %O: %s" (get "id") m, None))
        | Ok key ->
            let id = get "id" :?> int64
            let insertedAt =
                match get "inserted_at" with
                | :? DateTime as d -> DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc))
                | :? DateTimeOffset as d -> d
                | v -> DateTimeOffset.Parse(string v, Globalization.CultureInfo.InvariantCulture)
            Ok
                { Id = id
                  PrevEventId = Row.tryGet "prev_event_id" r |> Option.map (fun v -> v :?> int64)
                  Aggregate = { Table = string (get "aggregate_table"); Key = key }
                  TypeName = string (get "type_name")
                  TypeVersion = get "type_version" :?> int
                  Meta = string (get "meta")
                  Data = string (get "data")
                  InsertedAt = insertedAt
                  Position = { Tx = get "tx" :?> int64; Id = id } }

    /// The current row of `reader`, selected with `columns` (read by position, in that order), as an event:
    /// the same result as `ofRow` without building a Row, for followers that read many rows.
    let ofReader (reader: NpgsqlDataReader) : Result<StoredEvent, FableError> =
        let id = reader.GetInt64 0
        match Sql.parseKey (reader.GetString 4) (reader.GetString 3) with
        | Error m -> Error(Infrastructure(sprintf "event %d: %s" id m, None))
        | Ok key ->
            Ok
                { Id = id
                  PrevEventId = if reader.IsDBNull 1 then None else Some(reader.GetInt64 1)
                  Aggregate = { Table = reader.GetString 2; Key = key }
                  TypeName = reader.GetString 5
                  TypeVersion = reader.GetInt32 6
                  Meta = reader.GetString 7
                  Data = reader.GetString 8
                  InsertedAt = reader.GetFieldValue<DateTimeOffset> 9
                  Position = { Tx = reader.GetInt64 10; Id = id } }

    /// Reads every remaining row of `reader` (selected with `columns`) as an event, stopping at the first row
    /// that cannot be read back.
    let readEvents (reader: NpgsqlDataReader) (capacity: int) (ct: Threading.CancellationToken) : Threading.Tasks.Task<Result<StoredEvent[], FableError>> =
        task {
            let acc = Collections.Generic.List<StoredEvent>(capacity)
            let mutable failure = None
            let mutable go = true
            while go do
                let! has = reader.ReadAsync ct
                if not has then
                    go <- false
                else
                    match ofReader reader with
                    | Ok e -> acc.Add e
                    | Error e ->
                        failure <- Some e
                        go <- false
            match failure with
            | Some e -> return Error e
            | None -> return Ok(acc.ToArray())
        }

    /// Up to `max` events after `after` in (tx, id) order, below the horizon (`readAll`), queried on `conn` outside
    /// any transaction: what `ReadAll` and a process manager's read-ahead both run.
    let readAllOn (ctx: Context) (conn: NpgsqlConnection) (after: LogPosition) (max: int) (ct: Threading.CancellationToken) =
        task {
            let sql, ps = readAll ctx after max
            use cmd = new NpgsqlCommand(sql, conn)
            for p in ps do
                cmd.Parameters.Add p |> ignore
            use! reader = cmd.ExecuteReaderAsync ct
            return! readEvents reader (min max 1000) ct
        }

    /// Every row as an event, or the first error.
    let ofRows (rows: Row list) =
        let rec go acc rows =
            match rows with
            | [] -> Ok(List.rev acc)
            | r :: rest ->
                match ofRow r with
                | Ok e -> go (e :: acc) rest
                | Error e -> Error e
        go [] rows
