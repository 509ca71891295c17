// One step of a process manager on the connection that holds its lock: lock its row and read the next batch
// below the horizon (one round trip), handle it and store state + checkpoint in the same transaction guarded by
// the row's version and checkpoint (one round trip with COMMIT), or do what Core's batch verdict says on a failure
// (roll back whole, commit the events before the failing one alone, record the failure). Never skips an event.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open System.Runtime.ExceptionServices
open Microsoft.Extensions.Logging
open Npgsql
open Fable.FSharp

/// What one step did.
[<RequireQualifiedAccess>]
type internal StepOutcome =
    /// A batch of `count` events committed; the checkpoint is now `checkpoint`.
    | Handled of count: int * checkpoint: LogPosition
    /// An event failed; the failure was recorded (the process manager is still active or now stopped).
    | Failed of error: FableError * active: bool * attempts: int
    /// Nothing to read; `blocked` when committed events wait behind the horizon (an older transaction is open).
    | Idle of blocked: bool
    /// A retry is planned after this delay.
    | Waiting of TimeSpan
    /// The process manager is disabled (or stopped by its policy).
    | Inactive
    /// The row changed under the step (reset, enable, another runner); step again.
    | Changed

/// What steps need to know about the store.
type internal PmContext =
    { Store: PostgresStore
      Interpreter: IInterpreter
      /// The schema name (unquoted).
      Schema: string
      /// The "Fable.ProcessManagers" logger (NullLogger when none was given).
      Log: ILogger }

/// A batch failed with `cause`, and rolling it back failed too (the connection is gone): the step reports the cause.
exception internal RollbackFailed of cause: FableError * rollback: exn

/// Running steps.
module internal PmStep =
    /// Rolls back `tx` after a failure `cause`; a rollback that throws raises RollbackFailed carrying the cause.
    let private rollbackAfter (tx: NpgsqlTransaction) (cause: FableError) =
        task {
            try
                do! tx.RollbackAsync CancellationToken.None
            with e ->
                return raise (RollbackFailed(cause, e))
        }

    /// The step's error when a batch failed with `cause` and its rollback with `rollback` (the connection is gone):
    /// a lost connection, saying what the batch failed with, keeping the database's own exception when there is one.
    let private afterRollbackFailed (cause: FableError) (rollback: exn) =
        let inner = match cause with Infrastructure(_, Some x) -> Some x | _ -> Some rollback
        Infrastructure(sprintf "the connection was lost during the batch, so the server rolled it back (nothing of it was committed; the runner reconnects and handles it again); the batch had failed with %O" cause, inner)

    /// Applies the error policy (Core's rule) to `evt` failing with `err` at `row` (guarded by its version).
    let private recordFailure (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (row: PmRow) (evt: StoredEvent) (err: FableError) =
        task {
            let step = ProcessManagerRules.failure pm row.Attempts evt err
            match! PmTable.fail conn ctx.Schema row step CancellationToken.None with
            | Some(active, attempts) ->
                FableLog.failed ctx.Log pm.Name evt.Position attempts active (defaultArg step.RetryAfter TimeSpan.Zero) err step.Error
                return StepOutcome.Failed(err, active, attempts)
            | None -> return StepOutcome.Changed
        }

    /// Handles `events` in the transaction `tx` on `conn`, which holds the lock of the row `l` (due, its events
    /// read after its checkpoint), and ends that transaction as Core's verdict says: state + checkpoint written and
    /// committed with the handlers' writes in one round trip, or rolled back. On a failure at event k, events
    /// 0..k-1 are handled again in a new transaction and committed, then the failure of event k is recorded.
    let rec private handleLocked (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (l: PmRow) (events: StoredEvent[]) (ct: CancellationToken) : Task<StepOutcome> =
        task {
            let! run =
                ctx.Store.InTransaction(conn, tx, (fun uow -> task {
                    let! r = ProcessManagerRules.runBatch pm ctx.Interpreter.Codec uow l.State events ct
                    return Ok r }), ct)
            // runBatch never fails; InTransaction refuses before any event ran.
            let run = match run with Ok r -> r | Error err -> BatchRun.FailedAt(0, err)
            let! verdict =
                match ProcessManagerRules.verdict events run ct.IsCancellationRequested with
                | BatchVerdict.Commit(json, last) ->
                    task {
                        FaultPoints.reachBeforeCheckpoint pm last
                        // A handler that swallowed a database error leaves the transaction aborted: the write fails
                        // (25P02), which counts as a failure of the batch's last event, not of the connection.
                        match! PmBatch.close ctx.Schema conn tx l json last with
                        | PmClosed.Committed -> return Some(BatchVerdict.Commit(json, last))
                        | PmClosed.Changed -> return None
                        | PmClosed.Aborted p -> return Some(ProcessManagerRules.commitRefused events (PgErrors.ofExn None ct p))
                    }
                | other -> Task.FromResult(Some other)
            match verdict with
            | Some(BatchVerdict.Commit(_, last)) -> return StepOutcome.Handled(events.Length, last)
            | None ->
                do! tx.RollbackAsync CancellationToken.None
                return StepOutcome.Changed
            | Some BatchVerdict.Interrupted ->
                do! tx.RollbackAsync CancellationToken.None
                return raise (OperationCanceledException ct)
            | Some(BatchVerdict.Fail(e, err)) ->
                do! rollbackAfter tx err
                return! recordFailure ctx pm conn l e err
            | Some(BatchVerdict.Retreat(k, e, err)) ->
                do! rollbackAfter tx err
                match! attempt ctx pm conn l events[0 .. k - 1] ct with
                | StepOutcome.Handled _ ->
                    // The prefix's commit cleared the error bookkeeping and moved the checkpoint.
                    let after = { l with Version = l.Version + 1L; Checkpoint = events[k - 1].Position; Attempts = 0; LastError = None }
                    return! recordFailure ctx pm conn after e err
                | other -> return other
        }

    /// Handles the known `events` after `row` in a new transaction (a prefix of a batch that failed): locks the
    /// row, checks it is still `row` (same version) and due, then goes on as handleLocked.
    and private attempt (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (row: PmRow) (events: StoredEvent[]) (ct: CancellationToken) : Task<StepOutcome> =
        task {
            let! tx = conn.BeginTransactionAsync ct
            try
                match! PmBatch.lock ctx.Schema conn tx pm.Name None ct with
                | Some l when l.Version = row.Version && l.Active && l.RetryIn <= TimeSpan.Zero ->
                    return! handleLocked ctx pm conn tx l events ct
                | _ ->
                    do! tx.RollbackAsync CancellationToken.None
                    return StepOutcome.Changed
            finally
                // Rolls back when still open (an exception); a no-op after commit or rollback.
                try tx.Dispose() with _ -> ()
        }

    /// Why nothing was locked: the process manager is inactive, waits for a retry, or has nothing to read
    /// (`blocked` when committed events wait behind the horizon).
    let private notLocked (ctx: PmContext) (conn: NpgsqlConnection) (row: PmRow) (ct: CancellationToken) =
        task {
            if not row.Active then
                return StepOutcome.Inactive
            elif row.RetryIn > TimeSpan.Zero then
                return StepOutcome.Waiting row.RetryIn
            else
                let! last = PmTable.lastCommitted conn ctx.Schema ct
                return StepOutcome.Idle(compare last row.Checkpoint > 0)
        }

    /// Handles the batch `events` locked in `tx` (as handleLocked), read with `requested` events at most; when it
    /// is full, reads the next batch ahead meanwhile with Core's grown size. The read ahead is kept, and the next
    /// batch grown, only when the batch committed whole; otherwise the next batch has the declared size.
    let private handleBatch (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (ahead: PmAhead) (l: PmRow) (events: StoredEvent[]) (requested: int) (ct: CancellationToken) =
        task {
            let last = events[events.Length - 1].Position
            ahead.Sizing <- BatchSizing.Declared
            if events.Length >= requested then ahead.Start(last, BatchSizing.grown pm.BatchSize requested, ct)
            let trace = Telemetry.startBatch TelemetryNames.Postgresql pm.Name l.Checkpoint last events.Length
            let! handled =
                task {
                    try
                        let! o = handleLocked ctx pm conn tx l events ct
                        return Ok o
                    with e ->
                        return Error e
                }
            let outcome =
                match handled with
                | Ok o -> o
                | Error e ->
                    // The batch rolled back (cancelled, or a failure of the connection): PmStep.run maps it.
                    Telemetry.endBatch trace (if e :? OperationCanceledException then "cancelled" else "error") [||] DateTimeOffset.UtcNow
                    ExceptionDispatchInfo.Throw e
                    StepOutcome.Changed
            match outcome with
            | StepOutcome.Handled(_, checkpoint) when checkpoint = last ->
                ahead.Sizing <- BatchSizing.after pm.BatchSize requested (Some(events.Length, last))
            | _ -> ahead.Clear()
            if not (isNull trace) then
                match outcome with
                | StepOutcome.Handled _ -> Telemetry.endBatch trace "ok" events DateTimeOffset.UtcNow
                | StepOutcome.Failed(err, active, _) ->
                    Telemetry.batchFailed trace err
                    Telemetry.endBatch trace (if active then "retry" else "stopped") [||] DateTimeOffset.UtcNow
                | _ -> Telemetry.endBatch trace "changed" [||] DateTimeOffset.UtcNow
            return outcome
        }

    /// The batch read ahead, when there is one and the row's checkpoint is still where it starts: locked in `tx`.
    /// The lock's round trip runs while the read ahead finishes (both start from the same position); when the
    /// read found nothing, the row stays locked in `tx` and the step opens its batch as usual in it.
    /// The batch's size is the one Core's sizing gives at the locked checkpoint (the size the read ahead asked for).
    let private lockAhead (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (ahead: PmAhead) (ct: CancellationToken) =
        task {
            match ahead.After with
            | Some after ->
                let locking = PmBatch.lock ctx.Schema conn tx pm.Name (Some after) ct
                let! taken = ahead.Take()
                let! locked = locking
                match taken, locked with
                | Some(_, events), Some l when events.Length > 0 ->
                    let requested = BatchSizing.size pm.BatchSize ahead.Sizing l.Checkpoint
                    return Some(l, Array.truncate requested events, requested)
                | _ -> return None
            | None -> return None
        }

    /// One step of `pm` on `conn` (which holds its advisory lock): with a batch read ahead after the row's
    /// checkpoint, one round trip locks the row; otherwise one round trip reads the row, locks it and reads the next
    /// batch when there is one. A second round trip commits the batch. An Error is a failure of the database or
    /// the connection (nothing was recorded); Cancelled when `ct` fired (a batch in flight rolled back whole).
    let run (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (ahead: PmAhead) (ct: CancellationToken) : Task<Result<StepOutcome, FableError>> =
        task {
            try
                let! tx = conn.BeginTransactionAsync ct
                try
                    match! lockAhead ctx pm conn tx ahead ct with
                    | Some(l, events, requested) ->
                        let! outcome = handleBatch ctx pm conn tx ahead l events requested ct
                        return Ok outcome
                    | None ->
                        // Read as many as the grown size may ask for; the locked checkpoint then says how many count.
                        match! PmBatch.open' ctx.Schema conn tx pm.Name (BatchSizing.most pm.BatchSize ahead.Sizing) ct with
                        | Ok { Locked = Some l; Events = events } when events.Length > 0 && l.Active && l.RetryIn <= TimeSpan.Zero ->
                            let requested = BatchSizing.size pm.BatchSize ahead.Sizing l.Checkpoint
                            let! outcome = handleBatch ctx pm conn tx ahead l (Array.truncate requested events) requested ct
                            return Ok outcome
                        | opened ->
                            ahead.Sizing <- BatchSizing.Declared
                            do! tx.RollbackAsync CancellationToken.None
                            match opened with
                            | Error e -> return Error e
                            | Ok { Row = None } -> return Error(InvalidDefinition [ sprintf "process manager %s has no row in %s.process_managers" pm.Name ctx.Schema ])
                            // Locked, but the events were gone or the row was not due after all: look again.
                            | Ok { Locked = Some _ } -> return Ok StepOutcome.Changed
                            | Ok { Row = Some row } ->
                                let! outcome = notLocked ctx conn row ct
                                return Ok outcome
                finally
                    try tx.Dispose() with _ -> ()
            with
            | RollbackFailed(cause, rollback) ->
                ahead.Clear()
                return Error(afterRollbackFailed cause rollback)
            | e ->
                ahead.Clear()
                return Error(PgErrors.ofExn None ct e)
        }
