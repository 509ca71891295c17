// The round trips of a handled batch on the connection that holds the process manager's lock: Open sends BEGIN,
// takes the gate, reads the row, locks it only when events wait after its checkpoint and reads those events below
// the horizon, in one batch (Lock only takes the gate and the row, for a batch read ahead or a retried prefix);
// Close sends the guarded state + checkpoint write and COMMIT in one batch.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// What the opening round trip found (inside the batch's transaction).
type internal PmOpened =
    {
        /// The row as it was before the lock (None: the process manager has no row).
        Row: PmRow option
        /// The row locked FOR UPDATE, present only when it is active, due, and committed events wait after its
        /// checkpoint below the horizon.
        Locked: PmRow option
        /// Up to the batch size of those events in (tx, id) order, read after the lock (empty without it).
        Events: StoredEvent[]
    }

/// How the closing round trip ended.
[<RequireQualifiedAccess>]
type internal PmClosed =
    /// State and checkpoint written, transaction committed.
    | Committed
    /// The row was not the one the batch locked (nothing written; the transaction must be rolled back).
    | Changed
    /// The transaction was already aborted by a database error the handle swallowed (must be rolled back).
    | Aborted of PostgresException

/// The batch's round trips.
module internal PmBatch =
    let private bigint (v: int64) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Bigint)
    let private text (v: string) = NpgsqlParameter(Value = v, NpgsqlDbType = NpgsqlDbType.Text)

    /// The row is active and no retry is pending (the same test as RetryIn <= 0).
    let private due = "p.active AND (p.next_attempt_at IS NULL OR p.next_attempt_at <= clock_timestamp())"

    /// The statements of Open: the gate (shared); the row; the row FOR UPDATE when due and events wait below the
    /// horizon; the events after the checkpoint of the row as it is now. Without the lock the last one reads
    /// nothing useful and is ignored; with it, the row cannot change before the last statement's snapshot, so the
    /// events follow exactly the locked checkpoint.
    let private openCommands (schema: string) (name: string) (batchSize: int) =
        let pm = PmTable.table schema
        [ PmTable.gate schema name false
          Sql.command (sprintf "SELECT %s FROM %s p WHERE p.name = $1" PmTable.rowColumns pm) [ text name ]
          Sql.command
              (sprintf
                  """SELECT %s FROM %s p
                     WHERE p.name = $1 AND %s
                       AND EXISTS (SELECT 1 FROM %s.events e
                                   WHERE (e.tx, e.id) > (p.checkpoint_tx, p.checkpoint_id) AND e.tx < %s)
                     FOR UPDATE"""
                  PmTable.rowColumns pm due (Sql.quote schema) Events.horizon)
              [ text name ]
          Sql.command
              (sprintf
                  """SELECT %s FROM %s.events
                     WHERE (tx, id) > (SELECT p.checkpoint_tx, p.checkpoint_id FROM %s p WHERE p.name = $1 AND %s) AND tx < %s
                     ORDER BY tx, id LIMIT $2"""
                  Events.columns (Sql.quote schema) pm due Events.horizon)
              [ text name; NpgsqlParameter(Value = batchSize, NpgsqlDbType = NpgsqlDbType.Integer) ] ]

    let private readRows (reader: NpgsqlDataReader) (ct: CancellationToken) =
        task {
            let acc = Collections.Generic.List<Row>()
            let mutable go = true
            while go do
                let! has = reader.ReadAsync ct
                if has then acc.Add(Sql.readRow reader) else go <- false
            return acc
        }

    /// Open, in the transaction `tx` just begun on `conn` (BEGIN travels with the batch). Error when an event
    /// row cannot be read back (the transaction is left for the caller to roll back).
    let open' (schema: string) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (name: string) (batchSize: int) (ct: CancellationToken) : Task<Result<PmOpened, FableError>> =
        task {
            use batch = new NpgsqlBatch(conn, tx)
            for c in openCommands schema name batchSize do
                batch.BatchCommands.Add c
            use! reader = batch.ExecuteReaderAsync ct
            let! _ = reader.NextResultAsync ct
            let! row = readRows reader ct
            let! _ = reader.NextResultAsync ct
            let! locked = readRows reader ct
            let! _ = reader.NextResultAsync ct
            // The events statement selects nothing when the row was not locked.
            match! Events.readEvents reader (if locked.Count = 0 then 0 else batchSize) ct with
            | Error e -> return Error e
            | Ok events ->
                return
                    Ok
                        { Row = Seq.tryHead row |> Option.map PmTable.ofRow
                          Locked = Seq.tryHead locked |> Option.map PmTable.ofRow
                          Events = events }
        }

    /// Takes the gate (shared) and the row FOR UPDATE in `tx`, in one round trip (BEGIN included): with
    /// `checkpoint`, only when the row's checkpoint is still that position and it is due (for a batch read ahead
    /// after it). None when nothing was locked.
    let lock (schema: string) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (name: string) (checkpoint: LogPosition option) (ct: CancellationToken) : Task<PmRow option> =
        task {
            use batch = new NpgsqlBatch(conn, tx)
            batch.BatchCommands.Add(PmTable.gate schema name false)
            let select = sprintf "SELECT %s FROM %s p WHERE p.name = $1" PmTable.rowColumns (PmTable.table schema)
            batch.BatchCommands.Add(
                match checkpoint with
                | Some c ->
                    Sql.command (select + sprintf " AND p.checkpoint_tx = $2 AND p.checkpoint_id = $3 AND %s FOR UPDATE" due)
                        [ text name; bigint c.Tx; bigint c.Id ]
                | None -> Sql.command (select + " FOR UPDATE") [ text name ]
            )
            use! reader = batch.ExecuteReaderAsync ct
            let! _ = reader.NextResultAsync ct
            let! rows = readRows reader ct
            return rows |> Seq.tryHead |> Option.map PmTable.ofRow
        }

    /// Close: writes `state` and `checkpoint` over `old` (the locked row) and commits, in one round trip. The
    /// write is guarded by the version and checkpoint of `old` and by `active`: when they do not match, the row
    /// guard raises, COMMIT never runs and the result is Changed.
    let close (schema: string) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (old: PmRow) (state: string) (checkpoint: LogPosition) : Task<PmClosed> =
        task {
            use batch = new NpgsqlBatch(conn, tx)
            batch.BatchCommands.Add(
                Sql.command
                    (sprintf
                        """WITH u AS (
                             UPDATE %s SET state = $2, checkpoint_tx = $3, checkpoint_id = $4, attempts = 0, last_error = NULL,
                                    next_attempt_at = NULL, version = version + 1, updated_at = now()
                             WHERE name = $1 AND version = $5 AND checkpoint_tx = $6 AND checkpoint_id = $7 AND active
                             RETURNING 1)
                           SELECT %s.guard_row(EXISTS (SELECT 1 FROM u), $8)"""
                        (PmTable.table schema) (Sql.quote schema))
                    [ text old.Name
                      NpgsqlParameter(Value = state, NpgsqlDbType = NpgsqlDbType.Jsonb)
                      bigint checkpoint.Tx
                      bigint checkpoint.Id
                      bigint old.Version
                      bigint old.Checkpoint.Tx
                      bigint old.Checkpoint.Id
                      text (sprintf "process manager %s changed while its batch ran" old.Name) ]
            )
            batch.BatchCommands.Add(NpgsqlBatchCommand("COMMIT"))
            try
                let! _ = batch.ExecuteNonQueryAsync CancellationToken.None
                return PmClosed.Committed
            with
            | :? PostgresException as p when p.SqlState = PgErrors.GuardMismatch -> return PmClosed.Changed
            | :? PostgresException as p when p.SqlState = "25P02" -> return PmClosed.Aborted p
        }
