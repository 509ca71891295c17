// One step of a process manager on the connection that holds its lock: lock its row and read the next batch
// below the horizon (one round trip), handle it and store state + checkpoint in the same transaction guarded by
// the row's version and checkpoint (one round trip with COMMIT), or apply the error policy to the first failing
// event (events before it still commit). Never skips an event.
namespace Fable.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable

/// What one step did.
[<RequireQualifiedAccess>]
type internal StepOutcome =
    /// A batch of `count` events committed; the checkpoint is now `checkpoint`.
    | Handled of count: int * checkpoint: Position
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
      Log: string -> unit }

/// Running steps.
module internal PmStep =
    /// The incoming event for a handler: the decoded event, None for a type the codec does not know, or the
    /// decoding error (an unreadable payload goes through the error policy).
    let private incoming (codec: IEventCodec) (e: RecordedEvent) =
        match codec.Decode(e.TypeName, e.TypeVersion, e.Data) with
        | Ok o -> Ok { Recorded = e; Event = Some o }
        | Error(UnknownEventType _) -> Ok { Recorded = e; Event = None }
        | Error err -> Error err

    /// How a batch attempt ended inside its transaction.
    type private Run =
        | AllHandled of state: obj
        /// Event `index` failed (or, with `saving`, the state after the batch could not be saved).
        | FailedAt of index: int * error: FableError * saving: bool

    /// Handles `events` in order inside the unit of work, from `state`.
    let private handleAll (pm: ProcessManagerDef) (codec: IEventCodec) (events: RecordedEvent[]) (state: obj) (current: int ref) (uow: IUnitOfWork) (ct: CancellationToken) =
        task {
            let mutable s = state
            let mutable failure = None
            let mutable i = 0
            while failure.IsNone && i < events.Length do
                current.Value <- i
                let e = events[i]
                match incoming codec e with
                | Error err -> failure <- Some(FailedAt(i, err, false))
                | Ok inc ->
                    let mutable r = Error Cancelled
                    try
                        let! handled = pm.Handle uow s inc ct
                        r <- handled
                    with
                    | :? OperationCanceledException -> r <- Error Cancelled
                    | ex -> r <- Error(HandlerFailed(e.TypeName, pm.Name, ex.Message, Some ex))
                    match r with
                    | Ok s' -> s <- s'
                    | Error err -> failure <- Some(FailedAt(i, err, false))
                i <- i + 1
            match failure with
            | Some f -> return Ok f
            | None -> return Ok(AllHandled s)
        }

    let private describe (pm: ProcessManagerDef) (e: RecordedEvent) (err: FableError) =
        sprintf "process manager %s: event %d (%s v%d of %O, position %O) failed: %O" pm.Name e.Id e.TypeName e.TypeVersion e.Aggregate e.Position err

    /// Applies the error policy to `evt` failing with `err` at `row`.
    let private recordFailure (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (row: PmRow) (evt: RecordedEvent) (err: FableError) =
        task {
            let message = describe pm evt err
            let retryAfter, stop, maxAttempts =
                match pm.ErrorPolicy with
                | ErrorPolicy.Retry(interval, max) -> Some interval, false, max
                | ErrorPolicy.Stop -> None, true, None
            match! PmTable.fail conn ctx.Schema row message retryAfter stop maxAttempts CancellationToken.None with
            | Some(active, attempts) ->
                ctx.Log(sprintf "%s (attempt %d%s)" message attempts (if active then ", will retry" else ", process manager stopped"))
                return StepOutcome.Failed(err, active, attempts)
            | None -> return StepOutcome.Changed
        }

    /// Handles `events` in the transaction `tx` on `conn`, which holds the lock of the row `l` (due, its events
    /// read after its checkpoint), and ends that transaction: state + checkpoint written and committed in one
    /// round trip, or rolled back. On a failure at event k, events 0..k-1 are handled again in a new transaction
    /// and committed, then the failure of event k is recorded.
    let rec private handleLocked (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (l: PmRow) (events: RecordedEvent[]) (ct: CancellationToken) : Task<StepOutcome> =
        task {
            let current = ref 0
            let! run =
                match (try Ok(pm.Load l.State) with ex -> Error ex) with
                | Error ex ->
                    Task.FromResult(Ok(FailedAt(0, HandlerFailed("state", pm.Name, "the stored state cannot be loaded: " + ex.Message, Some ex), false)))
                | Ok state -> ctx.Store.InTransaction(conn, tx, (fun uow -> handleAll pm ctx.Interpreter.Codec events state current uow ct), ct)
            let run =
                match run with
                | Ok(AllHandled s) ->
                    match (try Ok(pm.Save s) with ex -> Error ex) with
                    | Ok json when not (isNull json) -> Choice1Of2 json
                    | Ok _ -> Choice2Of2(FailedAt(events.Length - 1, HandlerFailed("state", pm.Name, "Save returned null", None), true))
                    | Error ex -> Choice2Of2(FailedAt(events.Length - 1, HandlerFailed("state", pm.Name, "the state cannot be saved: " + ex.Message, Some ex), true))
                | Ok f -> Choice2Of2 f
                | Error err -> Choice2Of2(FailedAt(current.Value, err, false))
            let last = events[events.Length - 1].Position
            // A handler that swallowed a database error leaves the transaction aborted: the save fails
            // (25P02), which counts as a failure of the batch's last event, not of the connection.
            let! run =
                match run with
                | Choice1Of2 json ->
                    task {
                        match! PmBatch.close ctx.Schema conn tx l json last with
                        | PmClosed.Committed -> return Choice1Of2 true
                        | PmClosed.Changed -> return Choice1Of2 false
                        | PmClosed.Aborted p -> return Choice2Of2(FailedAt(events.Length - 1, PgErrors.ofExn None ct p, true))
                    }
                | Choice2Of2 f -> Task.FromResult(Choice2Of2 f)
            match run with
            | Choice1Of2 true -> return StepOutcome.Handled(events.Length, last)
            | Choice1Of2 false ->
                do! tx.RollbackAsync CancellationToken.None
                return StepOutcome.Changed
            | Choice2Of2 failure ->
                do! tx.RollbackAsync CancellationToken.None
                match failure with
                | _ when ct.IsCancellationRequested -> return raise (OperationCanceledException ct)
                | FailedAt(_, _, true) when events.Length > 1 -> return! attempt ctx pm conn l events[0..0] ct
                | FailedAt(0, err, _) -> return! recordFailure ctx pm conn l events[0] err
                | FailedAt(k, err, _) ->
                    match! attempt ctx pm conn l events[0 .. k - 1] ct with
                    | StepOutcome.Handled _ ->
                        let after = { l with Version = l.Version + 1L; Checkpoint = events[k - 1].Position }
                        return! recordFailure ctx pm conn after events[k] err
                    | other -> return other
                | AllHandled _ -> return StepOutcome.Changed
        }

    /// Handles the known `events` after `row` in a new transaction (a prefix of a batch that failed): locks the
    /// row, checks it is still `row` (same version) and due, then goes on as handleLocked.
    and private attempt (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (row: PmRow) (events: RecordedEvent[]) (ct: CancellationToken) : Task<StepOutcome> =
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

    /// Handles the batch `events` locked in `tx` (as handleLocked), reading the next batch ahead meanwhile when
    /// this one is full; a read ahead is kept only when the batch committed whole.
    let private handleBatch (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (ahead: PmAhead) (l: PmRow) (events: RecordedEvent[]) (ct: CancellationToken) =
        task {
            let last = events[events.Length - 1].Position
            if events.Length >= pm.BatchSize then ahead.Start(last, pm.BatchSize, ct)
            let! outcome = handleLocked ctx pm conn tx l events ct
            match outcome with
            | StepOutcome.Handled(_, checkpoint) when checkpoint = last -> ()
            | _ -> ahead.Clear()
            return outcome
        }

    /// The batch read ahead, when there is one and the row's checkpoint is still where it starts: locked in `tx`.
    /// The lock's round trip runs while the read ahead finishes (both start from the same position); when the
    /// read found nothing, the row stays locked in `tx` and the step opens its batch as usual in it.
    let private lockAhead (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (ahead: PmAhead) (ct: CancellationToken) =
        task {
            match ahead.After with
            | Some after ->
                let locking = PmBatch.lock ctx.Schema conn tx pm.Name (Some after) ct
                let! taken = ahead.Take()
                let! locked = locking
                match taken, locked with
                | Some(_, events), Some l when events.Length > 0 -> return Some(l, events)
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
                    | Some(l, events) ->
                        let! outcome = handleBatch ctx pm conn tx ahead l events ct
                        return Ok outcome
                    | None ->
                        match! PmBatch.open' ctx.Schema conn tx pm.Name pm.BatchSize ct with
                        | Ok { Locked = Some l; Events = events } when events.Length > 0 && l.Active && l.RetryIn <= TimeSpan.Zero ->
                            let! outcome = handleBatch ctx pm conn tx ahead l events ct
                            return Ok outcome
                        | opened ->
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
            with e ->
                ahead.Clear()
                return Error(PgErrors.ofExn None ct e)
        }
