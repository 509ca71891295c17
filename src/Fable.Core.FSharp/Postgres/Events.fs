// The events table as SQL: the statements that record, list and follow events, and RecordedEvent read back
// from a row. Also the interpreter context every operation shares (runtime, options, schema, statement texts).
namespace Fable.Postgres

open System
open System.Collections.Concurrent
open Npgsql
open NpgsqlTypes
open Fable

/// What every operation of one store needs.
type internal Context =
    { Runtime: Runtime
      Options: PostgresOptions
      /// The schema as a quoted identifier.
      Schema: string
      /// Stable type names whose route has at least one handler (their events are written before handlers run).
      HasHandlers: Set<string>
      /// Statement texts built once per (statement, table) and reused by every emit (see `Events.text`).
      Texts: ConcurrentDictionary<struct (string * string), string> }

/// Statements over the events table.
module internal Events =
    /// A context for a runtime and options.
    let context (rt: Runtime) (options: PostgresOptions) =
        { Runtime = rt
          Options = options
          Schema = Sql.quote options.Schema
          HasHandlers =
            rt.Router.Routes
            |> Map.toSeq
            |> Seq.choose (fun (_, (t, hs)) -> if List.isEmpty hs then None else Some(rt.NameOf t))
            |> Set.ofSeq
          Texts = ConcurrentDictionary() }

    /// The text of `statement` for `table` (any string naming the variant), built by `build` the first time.
    let inline text (ctx: Context) (statement: string) (table: string) ([<InlineIfLambda>] build: unit -> string) =
        match ctx.Texts.TryGetValue(struct (statement, table)) with
        | true, sql -> sql
        | _ -> ctx.Texts.GetOrAdd(struct (statement, table), build ())

    /// The columns of a RecordedEvent, as selected.
    let columns =
        "id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta::text AS meta, data::text AS data, inserted_at, tx"

    /// The sequence expression that allocates event ids.
    let nextId (ctx: Context) = sprintf "nextval(%s::regclass)" (Sql.literal (ctx.Schema + ".event_ids"))

    /// `count` new event ids.
    let allocate (ctx: Context) (count: int) =
        Sql.command (text ctx "allocate" "" (fun () -> sprintf "SELECT %s FROM generate_series(1, $1)" (nextId ctx))) [ NpgsqlParameter(Value = count) ]

    /// Records one event with its id and ordering key already known; returns the payload as stored (jsonb's
    /// normal form, which is what the log returns).
    let insert (ctx: Context) (e: RecordedEvent) =
        Sql.command
            (text ctx "insert" "" (fun () ->
                sprintf
                    "INSERT INTO %s.events (id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING data::text AS data"
                    ctx.Schema))
            [ NpgsqlParameter(Value = e.Id, NpgsqlDbType = NpgsqlDbType.Bigint)
              Sql.int64Param e.PrevEventId
              Sql.textParam e.Aggregate.Table
              Sql.textParam (Sql.keyText e.Aggregate.Key)
              Sql.textParam (Sql.kindText e.Aggregate.Key.Kind)
              Sql.textParam e.TypeName
              NpgsqlParameter(Value = e.TypeVersion, NpgsqlDbType = NpgsqlDbType.Integer)
              NpgsqlParameter(Value = e.Meta, NpgsqlDbType = NpgsqlDbType.Jsonb)
              NpgsqlParameter(Value = e.Data, NpgsqlDbType = NpgsqlDbType.Jsonb)
              NpgsqlParameter(Value = e.Position.Tx, NpgsqlDbType = NpgsqlDbType.Bigint) ]

    /// Records several events of one aggregate and one transaction (same aggregate and ordering key) in one
    /// statement; returns `id, data` per event, the payload as stored.
    let insertMany (ctx: Context) (events: RecordedEvent[]) =
        let first = events[0]
        Sql.command
            (text ctx "insert-many" "" (fun () ->
                sprintf
                    "INSERT INTO %s.events (id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx) SELECT u.id, u.prev, $7, $8, $9, u.type_name, u.type_version, u.meta::jsonb, u.data::jsonb, $10 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::int[], $5::text[], $6::text[]) AS u(id, prev, type_name, type_version, meta, data) RETURNING id, data::text AS data"
                    ctx.Schema))
            [ NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> e.Id) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Bigint))
              NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> Option.toNullable e.PrevEventId) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Bigint))
              NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> e.TypeName) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))
              NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> e.TypeVersion) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Integer))
              NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> e.Meta) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))
              NpgsqlParameter(Value = Array.map (fun (e: RecordedEvent) -> e.Data) events, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))
              Sql.textParam first.Aggregate.Table
              Sql.textParam (Sql.keyText first.Aggregate.Key)
              Sql.textParam (Sql.kindText first.Aggregate.Key.Kind)
              NpgsqlParameter(Value = first.Position.Tx, NpgsqlDbType = NpgsqlDbType.Bigint) ]

    /// The aggregate's events in chain order (ids grow along a chain: each is taken under the row lock).
    let log (ctx: Context) (id: AggregateId) =
        Sql.command
            (sprintf "SELECT %s FROM %s.events WHERE aggregate_table = $1 AND aggregate_key = $2 ORDER BY id" columns ctx.Schema)
            [ Sql.textParam id.Table; Sql.textParam (Sql.keyText id.Key) ]

    /// The follower horizon: every transaction with an xid below it has ended (same snapshot as the rows read).
    let horizon = "(SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"

    /// Up to `max` events after `after` in (tx, id) order, below the horizon.
    let readAll (ctx: Context) (after: Position) (max: int) =
        sprintf "SELECT %s FROM %s.events WHERE (tx, id) > ($1, $2) AND tx < %s ORDER BY tx, id LIMIT $3" columns ctx.Schema horizon,
        [ NpgsqlParameter(Value = after.Tx, NpgsqlDbType = NpgsqlDbType.Bigint)
          NpgsqlParameter(Value = after.Id, NpgsqlDbType = NpgsqlDbType.Bigint)
          NpgsqlParameter(Value = max, NpgsqlDbType = NpgsqlDbType.Integer) ]

    /// The last position below the horizon.
    let head (ctx: Context) =
        sprintf "SELECT tx, id FROM %s.events WHERE tx < %s ORDER BY tx DESC, id DESC LIMIT 1" ctx.Schema horizon

    /// A recorded event from a row selected with `columns`.
    let ofRow (r: Row) : Result<RecordedEvent, FableError> =
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
    let ofReader (reader: NpgsqlDataReader) : Result<RecordedEvent, FableError> =
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
