// The hand-written Npgsql baselines: R2, the strongest hand-written emit (2 round trips, 5 statements, a minimal
// events table), and G, Fable's own guarantees hand-written (Fable's events schema, tx ordering key, unique chain,
// creators queued on a create lock, a row guard that raises before COMMIT); plus a raw keyset read.
module Fable.Bench.Baseline

open System
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes

/// Creates baseline G's own tables (Fable's events schema, constraints and indexes) with `accounts` rows.
let setup (ds: NpgsqlDataSource) (accounts: int) =
    task {
        use cmd =
            ds.CreateCommand(
                """
                DROP SCHEMA IF EXISTS base CASCADE;
                CREATE SCHEMA base;
                CREATE TABLE base.accounts (id bigint PRIMARY KEY, last_event_id bigint NULL, balance bigint NOT NULL);
                CREATE TABLE base.events (
                  id bigserial PRIMARY KEY, prev_event_id bigint NULL, aggregate_table text NOT NULL,
                  aggregate_key text NOT NULL, key_kind text NOT NULL, type_name text NOT NULL, type_version int NOT NULL,
                  meta jsonb NOT NULL, data jsonb NOT NULL, inserted_at timestamptz NOT NULL DEFAULT now(),
                  tx bigint NOT NULL, CHECK (key_kind IN ('uuid', 'int', 'text')), CHECK (type_version >= 1));
                CREATE UNIQUE INDEX ON base.events (aggregate_table, aggregate_key, prev_event_id);
                CREATE UNIQUE INDEX ON base.events (aggregate_table, aggregate_key) WHERE prev_event_id IS NULL;
                CREATE INDEX ON base.events (tx, id);
                CREATE FUNCTION base.guard_row(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
                  BEGIN IF NOT ok THEN RAISE EXCEPTION USING ERRCODE = 'FB409', MESSAGE = what; END IF; END $$;
                """
            )
        let! _ = cmd.ExecuteNonQueryAsync()
        use ins = ds.CreateCommand("INSERT INTO base.accounts SELECT g, NULL, 0 FROM generate_series(1, $1) g")
        ins.Parameters.AddWithValue(int64 accounts) |> ignore
        let! _ = ins.ExecuteNonQueryAsync()
        ()
    }

/// Moves the reader of a `BEGIN; SELECT …` batch to the SELECT's row (the reader may start on either result).
let private selectedRow (r: NpgsqlDataReader) =
    task {
        let mutable found = None
        while found.IsNone do
            if r.FieldCount > 0 then
                let! has = r.ReadAsync()
                found <- Some has
            else
                let! more = r.NextResultAsync()
                if not more then found <- Some false
        return found.Value
    }

/// G's create lock, before the row lock ($1 account): while the row is missing, concurrent creators queue on a
/// transaction advisory lock, and a missing row whose aggregate has a first event is told apart (a fork otherwise).
let private gCreateLock =
    """
    SELECT CASE WHEN EXISTS (SELECT 1 FROM base.accounts WHERE id = $1) THEN false
           ELSE (SELECT EXISTS (SELECT 1 FROM base.events e WHERE e.aggregate_table = 'accounts' AND e.aggregate_key = $1::text AND e.prev_event_id IS NULL)
                 FROM pg_advisory_xact_lock(hashtextextended('bench.create:accounts:' || $1::text, 0))) END
    """

/// G's row guard: raises (so COMMIT, later in the batch, never runs) unless the UPDATE in CTE `u` matched.
let private gGuard = "SELECT base.guard_row(EXISTS (SELECT 1 FROM u), 'account ' || $1::text || ': last_event_id changed under the lock')"

/// G's statement for one event: a plain `INSERT … VALUES` that takes the id from the sequence, chains it to $2 and
/// stamps the ordering key, and the guarded UPDATE in a CTE of the same statement ($1 account, $2 previous event).
let private gInsertOne =
    """
    WITH e AS (
      INSERT INTO base.events (id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx)
      VALUES (nextval('base.events_id_seq'), $2, 'accounts', $1::text, 'int', 'deposited', 1, $4::jsonb, $3::jsonb,
              greatest(pg_current_xact_id()::text::bigint, coalesce((SELECT tx FROM base.events WHERE id = $2), 0)))
      RETURNING id),
    u AS (
      UPDATE base.accounts SET balance = balance + 1, last_event_id = (SELECT id FROM e)
      WHERE id = $1 AND last_event_id IS NOT DISTINCT FROM $2 RETURNING 1)
    """ + gGuard

/// G's statement for `$5` events: ids from the sequence in order, each chained to the one before (a window
/// function: the ids are not known before the statement runs), then the guarded UPDATE.
let private gInsertMany =
    """
    WITH ids AS (SELECT g, nextval('base.events_id_seq') AS id FROM generate_series(1, $5) g),
    chain AS (SELECT g, id, coalesce(lag(id) OVER (ORDER BY g), $2) AS prev FROM ids),
    e AS (
      INSERT INTO base.events (id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx)
      SELECT id, prev, 'accounts', $1::text, 'int', 'deposited', 1, $4::jsonb, $3::jsonb,
             greatest(pg_current_xact_id()::text::bigint, coalesce((SELECT tx FROM base.events WHERE id = $2), 0))
      FROM chain
      RETURNING id),
    u AS (
      UPDATE base.accounts SET balance = balance + $5, last_event_id = (SELECT id FROM chain ORDER BY g DESC LIMIT 1)
      WHERE id = $1 AND last_event_id IS NOT DISTINCT FROM $2 RETURNING 1)
    """ + gGuard

/// Baseline G: one emit of `events` deposits to account `id` with Fable's guarantees, 2 round trips: batch 1
/// `BEGIN`, the create lock, `SELECT … FOR UPDATE`; batch 2 one statement that records the chained events with their
/// ordering key `tx` and updates the row behind a guard that raises (a plain `VALUES` for one event), then `COMMIT`. Payload and metadata are the
/// same texts R2 sends. `npgsqlBegin`: begin with `BeginTransaction` as Fable must (it hands the `NpgsqlTransaction` to
/// handlers and callers), which Npgsql prepends as a simple query, instead of `BEGIN` inside the batch.
let emitWith (npgsqlBegin: bool) (ds: NpgsqlDataSource) (id: int64) (events: int) =
    task {
        use! conn = ds.OpenConnectionAsync()
        use b1 = new NpgsqlBatch(conn)
        if npgsqlBegin then
            conn.BeginTransaction() |> ignore
        else
            b1.BatchCommands.Add(NpgsqlBatchCommand "BEGIN")
        let lock = NpgsqlBatchCommand gCreateLock
        lock.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        b1.BatchCommands.Add lock
        let sel = NpgsqlBatchCommand "SELECT last_event_id, balance FROM base.accounts WHERE id = $1 FOR UPDATE"
        sel.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        b1.BatchCommands.Add sel
        let! r = b1.ExecuteReaderAsync()
        let! _ = selectedRow r // the create lock's answer (false: the row exists)
        let! _ = r.NextResultAsync()
        let! has = r.ReadAsync()
        if not has then failwithf "account %d does not exist" id
        let last = if r.IsDBNull 0 then Nullable() else Nullable(r.GetInt64 0)
        do! r.DisposeAsync()
        use b2 = new NpgsqlBatch(conn)
        let ins = NpgsqlBatchCommand(if events = 1 then gInsertOne else gInsertMany)
        ins.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = (if last.HasValue then box last.Value else box DBNull.Value), NpgsqlDbType = NpgsqlDbType.Bigint)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = "{\"Amount\": 1}")) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = "{}")) |> ignore
        if events > 1 then ins.Parameters.Add(NpgsqlParameter(Value = events)) |> ignore
        b2.BatchCommands.Add ins
        b2.BatchCommands.Add(NpgsqlBatchCommand "COMMIT")
        // A guard that did not match raises: the batch fails and COMMIT never runs.
        let! _ = b2.ExecuteNonQueryAsync()
        return events
    }

/// Baseline G as described above (`BEGIN` inside the first batch).
let emit ds id events = emitWith false ds id events

/// Creates baseline R2's tables: the aggregate row with a version, and a minimal events table (id, aggregate,
/// version, type, data, meta, time) with the stream index a reader needs.
let setupR2 (ds: NpgsqlDataSource) (accounts: int) =
    task {
        use cmd =
            ds.CreateCommand(
                """
                DROP SCHEMA IF EXISTS r2 CASCADE;
                CREATE SCHEMA r2;
                CREATE TABLE r2.accounts (id bigint PRIMARY KEY, version int NOT NULL, balance bigint NOT NULL);
                CREATE TABLE r2.events (
                  id bigserial PRIMARY KEY, aggregate_id bigint NOT NULL, version int NOT NULL, type_name text NOT NULL,
                  data jsonb NOT NULL, meta jsonb NOT NULL, inserted_at timestamptz NOT NULL DEFAULT now());
                CREATE UNIQUE INDEX ON r2.events (aggregate_id, version);
                """
            )
        let! _ = cmd.ExecuteNonQueryAsync()
        use ins = ds.CreateCommand("INSERT INTO r2.accounts SELECT g, 0, 0 FROM generate_series(1, $1) g")
        ins.Parameters.AddWithValue(int64 accounts) |> ignore
        let! _ = ins.ExecuteNonQueryAsync()
        ()
    }

/// R2's INSERT for `n` events: one plain multi-row `VALUES` ($1 aggregate, $2 first version, $3 data, $4 meta).
let private r2Inserts =
    Collections.Concurrent.ConcurrentDictionary<int, string>()

let private r2Insert (n: int) =
    r2Inserts.GetOrAdd(n, fun n ->
        let rows = [ for k in 0 .. n - 1 -> sprintf "($1, $2 + %d, 'deposited', $3::jsonb, $4::jsonb)" k ]
        "INSERT INTO r2.events (aggregate_id, version, type_name, data, meta) VALUES " + String.Join(", ", rows))

/// Baseline R2: one emit of `events` deposits to account `id`, 2 round trips: batch 1 `BEGIN; SELECT … FOR UPDATE`,
/// batch 2 a plain `INSERT … VALUES`, the guarded `UPDATE` of the row and `COMMIT`.
let emitR2 (ds: NpgsqlDataSource) (id: int64) (events: int) =
    task {
        use! conn = ds.OpenConnectionAsync()
        use b1 = new NpgsqlBatch(conn)
        b1.BatchCommands.Add(NpgsqlBatchCommand "BEGIN")
        let sel = NpgsqlBatchCommand "SELECT version, balance FROM r2.accounts WHERE id = $1 FOR UPDATE"
        sel.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        b1.BatchCommands.Add sel
        let mutable version = 0
        let mutable balance = 0L
        let! r = b1.ExecuteReaderAsync()
        let! has = selectedRow r
        if not has then failwithf "account %d does not exist" id
        version <- r.GetInt32 0
        balance <- r.GetInt64 1
        do! r.DisposeAsync()
        use b2 = new NpgsqlBatch(conn)
        let ins = NpgsqlBatchCommand(r2Insert events)
        ins.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = version + 1)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = "{\"Amount\": 1}")) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = "{}")) |> ignore
        b2.BatchCommands.Add ins
        let upd = NpgsqlBatchCommand "UPDATE r2.accounts SET version = $2, balance = $3 WHERE id = $1 AND version = $4"
        upd.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        upd.Parameters.Add(NpgsqlParameter(Value = version + events)) |> ignore
        upd.Parameters.Add(NpgsqlParameter(Value = balance + int64 events)) |> ignore
        upd.Parameters.Add(NpgsqlParameter(Value = version)) |> ignore
        b2.BatchCommands.Add upd
        b2.BatchCommands.Add(NpgsqlBatchCommand "COMMIT")
        let! _ = b2.ExecuteNonQueryAsync()
        if upd.RecordsAffected <> 1 then failwithf "baseline R2: the guarded UPDATE of account %d matched no row" id
        return events
    }

/// The machine's commit latency: `n` single-row INSERTs, each its own transaction (autocommit) on one connection;
/// the sorted latencies in ms.
let commitLatencies (ds: NpgsqlDataSource) (n: int) =
    task {
        use! conn = ds.OpenConnectionAsync()
        use ddl = new NpgsqlCommand("DROP TABLE IF EXISTS public.bench_regime; CREATE TABLE public.bench_regime (id bigserial PRIMARY KEY, v int NOT NULL)", conn)
        let! _ = ddl.ExecuteNonQueryAsync()
        use cmd = new NpgsqlCommand("INSERT INTO public.bench_regime (v) VALUES ($1)", conn)
        let p = NpgsqlParameter(Value = 0)
        cmd.Parameters.Add p |> ignore
        let lats = Array.zeroCreate<float> n
        for i in 0 .. n + 19 do
            p.Value <- i
            let t0 = Diagnostics.Stopwatch.GetTimestamp()
            let! _ = cmd.ExecuteNonQueryAsync()
            // The first 20 warm the connection and the plan.
            if i >= 20 then lats[i - 20] <- Diagnostics.Stopwatch.GetElapsedTime(t0).TotalMilliseconds
        Array.sortInPlace lats
        return lats
    }

/// Reads every event of `table` (schema-qualified, with Fable's columns) by keyset pages of `page`; returns the count.
let keysetRead (ds: NpgsqlDataSource) (table: string) (page: int) =
    task {
        use! conn = ds.OpenConnectionAsync()
        let mutable tx = 0L
        let mutable id = 0L
        let mutable total = 0L
        let mutable more = true
        while more do
            use cmd =
                new NpgsqlCommand(
                    sprintf
                        "SELECT id, prev_event_id, aggregate_table, aggregate_key, type_name, type_version, meta::text, data::text, inserted_at, tx FROM %s WHERE (tx, id) > ($1, $2) ORDER BY tx, id LIMIT $3"
                        table,
                    conn
                )
            cmd.Parameters.Add(NpgsqlParameter(Value = tx)) |> ignore
            cmd.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
            cmd.Parameters.Add(NpgsqlParameter(Value = page)) |> ignore
            use! r = cmd.ExecuteReaderAsync()
            let mutable n = 0
            while! r.ReadAsync() do
                id <- r.GetInt64 0
                let _prev = if r.IsDBNull 1 then 0L else r.GetInt64 1
                let _t = r.GetString 2
                let _k = r.GetString 3
                let _n = r.GetString 4
                let _v = r.GetInt32 5
                let _m = r.GetString 6
                let _d = r.GetString 7
                let _at = r.GetFieldValue<DateTimeOffset> 8
                tx <- r.GetInt64 9
                n <- n + 1
            total <- total + int64 n
            more <- n = page
        return total
    }
