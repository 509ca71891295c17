// The versioned schema of the Postgres interpreter and the migration runner: steps apply in version order,
// each once, in one transaction under an advisory lock, so several processes may migrate at once.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// One step of Fable's schema.
type internal Migration =
    {
        /// The version this step brings the schema to (1, 2, 3, ... with no gaps).
        Version: int
        /// What the step does (stored in `schema_version`).
        Description: string
        /// The statements of the step for a schema, given as a quoted identifier (e.g. "fable").
        Statements: string -> string list
    }

/// The schema steps and the runner.
module internal Migrations =
    /// Version 1: the event sequence and log with the follower and log indexes, the no-fork and
    /// first-event constraints, and the row guard function emits call.
    let v1 =
        { Version = 1
          Description = "events table, follower and log indexes, row guard"
          Statements =
            fun s ->
                [ sprintf "CREATE SEQUENCE %s.event_ids AS bigint" s
                  sprintf
                      """CREATE TABLE %s.events (
                           id bigint NOT NULL DEFAULT nextval(%s) PRIMARY KEY,
                           prev_event_id bigint NULL,
                           aggregate_table text NOT NULL,
                           aggregate_key text NOT NULL,
                           key_kind text NOT NULL CHECK (key_kind IN ('uuid', 'int', 'text')),
                           type_name text NOT NULL,
                           type_version integer NOT NULL CHECK (type_version >= 1),
                           meta jsonb NOT NULL DEFAULT '{}'::jsonb,
                           data jsonb NOT NULL,
                           inserted_at timestamptz NOT NULL DEFAULT now(),
                           tx bigint NOT NULL,
                           CONSTRAINT events_no_fork UNIQUE (prev_event_id))"""
                      s (Sql.literal (s + ".event_ids") + "::regclass")
                  sprintf "ALTER SEQUENCE %s.event_ids OWNED BY %s.events.id" s s
                  sprintf "CREATE UNIQUE INDEX events_first_event ON %s.events (aggregate_table, aggregate_key) WHERE prev_event_id IS NULL" s
                  sprintf "CREATE INDEX events_follow ON %s.events (tx, id)" s
                  sprintf "CREATE INDEX events_log ON %s.events (aggregate_table, aggregate_key, id)" s
                  sprintf
                      """CREATE FUNCTION %s.guard_row(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
                         BEGIN
                           IF NOT ok THEN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = what; END IF;
                         END $$"""
                      s PgErrors.GuardMismatch
                  sprintf "COMMENT ON COLUMN %s.events.tx IS 'follower ordering key: max(writer xid, tx of the aggregate''s previous event); read only below pg_snapshot_xmin'" s ]
        }

    /// Version 2: the process-managers table (state, checkpoint, error bookkeeping, holder).
    let v2 =
        { Version = 2
          Description = "process managers table"
          Statements = PmSchema.statements }

    /// Version 3: one unique chain index on (aggregate_table, aggregate_key, prev_event_id) replaces the no-fork
    /// constraint (unique prev_event_id) and the log index (aggregate_table, aggregate_key, id): it refuses a second
    /// event after the same predecessor within an aggregate and serves an aggregate's log (its events in chain order
    /// are its events in id order), so each event costs one index entry fewer. First events (prev_event_id NULL) stay
    /// under events_first_event. On a large log the CREATE INDEX blocks writes while it builds: build it beforehand
    /// with CREATE UNIQUE INDEX CONCURRENTLY under the same name (see docs/postgres.md) and this step keeps it.
    let v3 =
        { Version = 3
          Description = "chain index (aggregate_table, aggregate_key, prev_event_id) replaces the no-fork and log indexes"
          Statements =
            fun s ->
                [ sprintf "CREATE UNIQUE INDEX IF NOT EXISTS events_chain ON %s.events (aggregate_table, aggregate_key, prev_event_id)" s
                  sprintf "ALTER TABLE %s.events DROP CONSTRAINT IF EXISTS events_no_fork" s
                  sprintf "DROP INDEX IF EXISTS %s.events_log" s ] }

    /// Every step in version order. Append new steps at the end; never change a step once released.
    let all = [ v1; v2; v3 ]

    /// Problems of a step list: versions must be 1, 2, 3, ... in order.
    let validate (steps: Migration list) =
        [ for (i, m) in List.indexed steps do
              if m.Version <> i + 1 then
                  yield sprintf "migration %s has version %d, expected %d" m.Description m.Version (i + 1) ]

    /// Brings `schema` to the last version of `steps` in one transaction under an advisory lock keyed by the
    /// schema; returns the version it is at afterwards. Steps already applied are skipped; a database at a
    /// newer version than `steps` knows is left as it is.
    let run (ds: NpgsqlDataSource) (schema: string) (steps: Migration list) (ct: CancellationToken) : Task<Result<int, FableError>> =
        task {
            match validate steps with
            | _ :: _ as problems -> return Error(InvalidDefinition problems)
            | [] ->
                try
                    use! conn = ds.OpenConnectionAsync ct
                    use! tx = conn.BeginTransactionAsync ct
                    let q = Sql.quote schema
                    let exec (sql: string) (ps: NpgsqlParameter list) =
                        task {
                            use cmd = new NpgsqlCommand(sql, conn, tx)
                            for p in ps do
                                cmd.Parameters.Add p |> ignore
                            return! cmd.ExecuteScalarAsync ct
                        }
                    let! _ = exec "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))" [ Sql.textParam ("fable.migrate:" + schema) ]
                    let! _ = exec (sprintf "CREATE SCHEMA IF NOT EXISTS %s" q) []
                    let! _ =
                        exec
                            (sprintf "CREATE TABLE IF NOT EXISTS %s.schema_version (version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())" q)
                            []
                    let! current = exec (sprintf "SELECT COALESCE(max(version), 0) FROM %s.schema_version" q) []
                    let current = Convert.ToInt32 current
                    for step in steps |> List.filter (fun m -> m.Version > current) do
                        for sql in step.Statements q do
                            let! _ = exec sql []
                            ()
                        let! _ =
                            exec (sprintf "INSERT INTO %s.schema_version (version, description) VALUES ($1, $2)" q)
                                [ NpgsqlParameter(Value = step.Version); Sql.textParam step.Description ]
                        ()
                    do! tx.CommitAsync ct
                    return Ok(max current (List.length steps))
                with e ->
                    return Error(PgErrors.ofExn None ct e)
        }
