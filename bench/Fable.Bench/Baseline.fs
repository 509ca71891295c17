// The hand-written Npgsql baseline: the same work as a Fable emit with the fewest round trips
// (one batch: BEGIN + SELECT … FOR UPDATE; one batch: INSERT event + guarded UPDATE + COMMIT), and a raw keyset read.
module Fable.Bench.Baseline

open System
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes

/// Creates the baseline's own tables (same shape as Fable's) with `accounts` rows.
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
                  tx bigint NOT NULL);
                CREATE UNIQUE INDEX ON base.events (prev_event_id);
                CREATE INDEX ON base.events (tx, id);
                CREATE INDEX ON base.events (aggregate_table, aggregate_key, id);
                """
            )
        let! _ = cmd.ExecuteNonQueryAsync()
        use ins = ds.CreateCommand("INSERT INTO base.accounts SELECT g, NULL, 0 FROM generate_series(1, $1) g")
        ins.Parameters.AddWithValue(int64 accounts) |> ignore
        let! _ = ins.ExecuteNonQueryAsync()
        ()
    }

/// One emit of `events` deposits to account `id`: 2 round trips, exactly the work an emit does.
let emit (ds: NpgsqlDataSource) (id: int64) (events: int) =
    task {
        use! conn = ds.OpenConnectionAsync()
        use b1 = new NpgsqlBatch(conn)
        b1.BatchCommands.Add(NpgsqlBatchCommand "BEGIN")
        let sel = NpgsqlBatchCommand "SELECT last_event_id, balance FROM base.accounts WHERE id = $1 FOR UPDATE"
        sel.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        b1.BatchCommands.Add sel
        let mutable last = Nullable<int64>()
        let mutable balance = 0L
        do!
            task {
                use! r = b1.ExecuteReaderAsync()
                let! _ = r.NextResultAsync()
                let! has = r.ReadAsync()
                if has then
                    last <- (if r.IsDBNull 0 then Nullable() else Nullable(r.GetInt64 0))
                    balance <- r.GetInt64 1
            }
        use b2 = new NpgsqlBatch(conn)
        let ins =
            NpgsqlBatchCommand(
                """
                WITH ids AS (SELECT g, nextval('base.events_id_seq') AS id FROM generate_series(1, $3) g),
                chain AS (SELECT g, id, coalesce(lag(id) OVER (ORDER BY g), $2) AS prev FROM ids),
                e AS (
                  INSERT INTO base.events (id, prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx)
                  SELECT id, prev, 'accounts', $1::text, 'int', 'deposited', 1, '{}'::jsonb,
                         jsonb_build_object('amount', 1),
                         greatest(pg_current_xact_id()::text::bigint,
                                  coalesce((SELECT tx FROM base.events WHERE id = $2), 0))
                  FROM chain
                  RETURNING id)
                UPDATE base.accounts SET balance = balance + $3, last_event_id = (SELECT id FROM chain ORDER BY g DESC LIMIT 1)
                WHERE id = $1 AND last_event_id IS NOT DISTINCT FROM $2
                """
            )
        ins.Parameters.Add(NpgsqlParameter(Value = id)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = (if last.HasValue then box last.Value else box DBNull.Value), NpgsqlDbType = NpgsqlDbType.Bigint)) |> ignore
        ins.Parameters.Add(NpgsqlParameter(Value = events)) |> ignore
        b2.BatchCommands.Add ins
        b2.BatchCommands.Add(NpgsqlBatchCommand "COMMIT")
        let! _ = b2.ExecuteNonQueryAsync()
        return events
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
