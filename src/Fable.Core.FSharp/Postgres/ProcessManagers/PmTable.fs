// Statements over the process-managers table: register, load, failure bookkeeping, runtime control (behind the
// exclusive gate), the holder and the status query (lag, live lock holder). The batch's own reads and guarded
// checkpoint write are in PmBatch.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// A process manager's row as the runner reads it.
type internal PmRow =
    { Name: string
      State: string
      Checkpoint: LogPosition
      Active: bool
      LastError: string option
      Attempts: int
      /// How long until the next attempt is due (zero when due now or no retry is pending), by the server's clock.
      RetryIn: TimeSpan
      Holder: string option
      /// Grows with every change of the row; every write is guarded by it.
      Version: int64 }

/// SQL over `"<schema>".process_managers`, executed on a given connection (and transaction, when not null).
module internal PmTable =
    let private bigint (v: int64) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Bigint)
    let private text (v: string) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Text)
    let private jsonb (v: string) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Jsonb)
    let private bool (v: bool) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Boolean)

    let private optional (t: NpgsqlDbType) (v: obj option) =
        match v with
        | Some v -> NpgsqlParameter(Value = v, NpgsqlDbType = t)
        | None -> NpgsqlParameter(Value = DBNull.Value, NpgsqlDbType = t)

    /// Runs `sql` and returns its rows.
    let rows (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (sql: string) (ps: NpgsqlParameter list) (ct: CancellationToken) : Task<Row list> =
        task {
            use cmd = new NpgsqlCommand(sql, conn, tx)
            for p in ps do
                cmd.Parameters.Add p |> ignore
            use! reader = cmd.ExecuteReaderAsync ct
            let acc = Collections.Generic.List<Row>()
            let mutable go = true
            while go do
                let! has = reader.ReadAsync ct
                if has then acc.Add(Sql.readRow reader) else go <- false
            return List.ofSeq acc
        }

    /// Runs `sql` and returns the number of rows it changed.
    let execute (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (sql: string) (ps: NpgsqlParameter list) (ct: CancellationToken) : Task<int> =
        task {
            use cmd = new NpgsqlCommand(sql, conn, tx)
            for p in ps do
                cmd.Parameters.Add p |> ignore
            return! cmd.ExecuteNonQueryAsync ct
        }

    /// Takes the gate of `name` for the rest of the transaction: shared for a batch, exclusive for a control
    /// operation (waits while the other kind holds it; a waiting exclusive request goes before later shared ones).
    let gate (schema: string) (name: string) (exclusive: bool) =
        Sql.command
            (if exclusive then "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"
             else "SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))")
            [ text (PmSchema.gateText schema name) ]

    /// Runs the control statement `sql` on `name` behind the exclusive gate, in one round trip and one implicit
    /// transaction; returns the number of rows it changed.
    let private control conn (schema: string) (name: string) (sql: string) (ps: NpgsqlParameter list) (ct: CancellationToken) : Task<int> =
        task {
            use batch = new NpgsqlBatch(conn)
            batch.BatchCommands.Add(gate schema name true)
            let statement = Sql.command sql ps
            batch.BatchCommands.Add statement
            let! _ = batch.ExecuteNonQueryAsync ct
            return statement.RecordsAffected
        }

    /// The table in `schema` (unquoted) as SQL.
    let table (schema: string) = Sql.quote schema + ".process_managers"

    let private i64 (r: Row) (c: string) = Convert.ToInt64(r[c], Globalization.CultureInfo.InvariantCulture)

    /// The columns of a PmRow as selected from the table (`wait_seconds`: until the next attempt, by the server's clock).
    let rowColumns =
        """name, state::text AS state, checkpoint_tx, checkpoint_id, active, last_error, attempts, holder, version,
           CASE WHEN next_attempt_at > clock_timestamp()
                THEN EXTRACT(EPOCH FROM next_attempt_at - clock_timestamp())::float8 ELSE 0 END AS wait_seconds"""

    /// A PmRow from a row selected with `rowColumns`.
    let ofRow (r: Row) : PmRow =
        { Name = string r["name"]
          State = string r["state"]
          Checkpoint = { Tx = i64 r "checkpoint_tx"; Id = i64 r "checkpoint_id" }
          Active = r["active"] :?> bool
          LastError = Row.tryGet "last_error" r |> Option.map string
          Attempts = r["attempts"] :?> int
          RetryIn = TimeSpan.FromSeconds(Convert.ToDouble(r["wait_seconds"], Globalization.CultureInfo.InvariantCulture))
          Holder = Row.tryGet "holder" r |> Option.map string
          Version = i64 r "version" }

    /// Inserts the row of a process manager that has none (at `start`, with `state`); keeps an existing row.
    let register conn (schema: string) (name: string) (state: string) (start: LogPosition) ct =
        execute conn null
            (sprintf "INSERT INTO %s (name, state, checkpoint_tx, checkpoint_id) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING" (table schema))
            [ text name; jsonb state; bigint start.Tx; bigint start.Id ] ct

    /// The row of `name`, or None.
    let load conn (schema: string) (name: string) ct : Task<PmRow option> =
        task {
            let! rs = rows conn null (sprintf "SELECT %s FROM %s WHERE name = $1" rowColumns (table schema)) [ text name ] ct
            return rs |> List.tryHead |> Option.map ofRow
        }

    /// Records a failed attempt at the event after the checkpoint as the error policy's `step` says (attempts, error,
    /// next attempt by the server's clock, active only when it was and the step keeps it). Guarded by the version;
    /// returns (active, attempts) afterwards, None when the row changed meanwhile.
    let fail conn (schema: string) (old: PmRow) (step: FailureStep) ct =
        task {
            let! rs =
                rows conn null
                    (sprintf
                        """UPDATE %s SET attempts = $2, last_error = $3,
                                  next_attempt_at = CASE WHEN $4::interval IS NULL THEN NULL ELSE clock_timestamp() + $4::interval END,
                                  active = active AND $5, version = version + 1, updated_at = now()
                           WHERE name = $1 AND version = $6
                           RETURNING active, attempts"""
                        (table schema))
                    [ text old.Name
                      NpgsqlParameter(Value = step.Attempts, NpgsqlDbType = NpgsqlDbType.Integer)
                      text step.Error
                      optional NpgsqlDbType.Interval (step.RetryAfter |> Option.map box)
                      bool step.Active
                      bigint old.Version ] ct
            return rs |> List.tryHead |> Option.map (fun r -> (r["active"] :?> bool), (r["attempts"] :?> int))
        }

    /// Marks the caller's session as the holder of `name` (after it took the advisory lock).
    let setHolder conn (schema: string) (name: string) (holder: string) ct =
        execute conn null
            (sprintf "UPDATE %s SET holder = $2, holder_pid = pg_backend_pid() WHERE name = $1" (table schema))
            [ text name; text holder ] ct

    /// Clears the holder when it is the caller's session.
    let clearHolder conn (schema: string) (name: string) ct =
        execute conn null
            (sprintf "UPDATE %s SET holder = NULL, holder_pid = NULL WHERE name = $1 AND holder_pid = pg_backend_pid()" (table schema))
            [ text name ] ct

    /// Applies a control operation's `effect` (Core's rule) to `name`, after a batch in flight and before the next
    /// one; 0 when there is no such row.
    let apply conn (schema: string) (name: string) (effect: ControlEffect) ct =
        let moves = effect.Moves.IsSome
        let checkpoint, state = defaultArg effect.Moves (LogPosition.Origin, "null")
        control conn schema name
            (sprintf
                """UPDATE %s SET state = CASE WHEN $2 THEN $3 ELSE state END,
                          checkpoint_tx = CASE WHEN $2 THEN $4 ELSE checkpoint_tx END,
                          checkpoint_id = CASE WHEN $2 THEN $5 ELSE checkpoint_id END,
                          active = COALESCE($6, active),
                          attempts = CASE WHEN $7 THEN 0 ELSE attempts END,
                          last_error = CASE WHEN $7 THEN NULL ELSE last_error END,
                          next_attempt_at = CASE WHEN $7 THEN NULL ELSE next_attempt_at END,
                          version = version + 1, updated_at = now()
                   WHERE name = $1"""
                (table schema))
            [ text name; bool moves; jsonb state; bigint checkpoint.Tx; bigint checkpoint.Id
              optional NpgsqlDbType.Boolean (effect.Active |> Option.map box)
              bool effect.ClearsFailure ] ct

    /// The status rows selected by `where` (on `p`, the process_managers row): each row, the committed events after
    /// its checkpoint (those still behind the horizon included: they are committed and not handled yet; by the
    /// no-skip rule none can be before the checkpoint), and the holder only while that session still holds the
    /// advisory lock. `$1` is the schema.
    let private statusWhere conn (schema: string) (where: string) (ps: NpgsqlParameter list) ct : Task<ProcessManagerInfo list> =
        task {
            let s = Sql.quote schema
            let! rs =
                rows conn null
                    (sprintf
                        """SELECT p.name, p.state::text AS state, p.checkpoint_tx, p.checkpoint_id, p.active, p.last_error, p.attempts,
                                  CASE WHEN EXISTS (SELECT 1 FROM pg_locks l
                                                    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid = p.holder_pid
                                                      AND ((l.classid::bigint << 32) | l.objid::bigint)
                                                          = hashtextextended('fable.pm:' || $1 || ':' || p.name, 0))
                                       THEN p.holder END AS holder,
                                  (SELECT count(*) FROM %s.events e
                                   WHERE (e.tx, e.id) > (p.checkpoint_tx, p.checkpoint_id)) AS lag
                           FROM %s p WHERE %s ORDER BY p.name"""
                        s (table schema) where)
                    (text schema :: ps) ct
            return
                rs
                |> List.map (fun r ->
                    { Name = string r["name"]
                      Position = { Tx = i64 r "checkpoint_tx"; Id = i64 r "checkpoint_id" }
                      Lag = i64 r "lag"
                      Active = r["active"] :?> bool
                      LastError = Row.tryGet "last_error" r |> Option.map string
                      Attempts = r["attempts"] :?> int
                      Holder = Row.tryGet "holder" r |> Option.map string
                      State = string r["state"] })
        }

    /// The lag (committed events after the checkpoint) of each of `names`, read synchronously on a connection of
    /// `ds` (for the lag gauge, whose callback is synchronous); at most `timeout` seconds.
    let lags (ds: NpgsqlDataSource) (schema: string) (names: string[]) (timeout: int) : struct (string * int64)[] =
        use conn = ds.OpenConnection()
        use cmd =
            new NpgsqlCommand(
                sprintf
                    "SELECT p.name, (SELECT count(*) FROM %s.events e WHERE (e.tx, e.id) > (p.checkpoint_tx, p.checkpoint_id)) FROM %s p WHERE p.name = ANY($1)"
                    (Sql.quote schema) (table schema),
                conn)
        cmd.CommandTimeout <- timeout
        cmd.Parameters.Add(NpgsqlParameter(Value = names, NpgsqlDbType = (NpgsqlDbType.Array ||| NpgsqlDbType.Text))) |> ignore
        use reader = cmd.ExecuteReader()
        [| while reader.Read() do
               yield struct (reader.GetString 0, reader.GetInt64 1) |]

    /// The status of `name` (see `statusWhere`).
    let status conn (schema: string) (name: string) ct : Task<ProcessManagerInfo option> =
        task {
            let! found = statusWhere conn schema "p.name = $2" [ text name ] ct
            return List.tryHead found
        }

    /// The status of every process manager stored in `schema`, registered here or not, by name.
    let statusAll conn (schema: string) ct : Task<ProcessManagerInfo list> = statusWhere conn schema "true" [] ct

    /// The position of the last committed event, horizon or not (Origin when there is none).
    let lastCommitted conn (schema: string) ct : Task<LogPosition> =
        task {
            let! rs = rows conn null (sprintf "SELECT tx, id FROM %s.events ORDER BY tx DESC, id DESC LIMIT 1" (Sql.quote schema)) [] ct
            return
                match rs with
                | r :: _ -> { Tx = i64 r "tx"; Id = i64 r "id" }
                | [] -> LogPosition.Origin
        }

    /// Tries to take the session advisory lock of `name`; true when this session holds it.
    let tryLock conn (schema: string) (name: string) ct =
        task {
            let! rs = rows conn null "SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok" [ text (PmSchema.lockText schema name) ] ct
            return (List.head rs)["ok"] :?> bool
        }

    /// Releases the session advisory lock of `name`.
    let unlock conn (schema: string) (name: string) ct =
        task {
            let! _ = rows conn null "SELECT pg_advisory_unlock(hashtextextended($1, 0)) AS ok" [ text (PmSchema.lockText schema name) ] ct
            return ()
        }
