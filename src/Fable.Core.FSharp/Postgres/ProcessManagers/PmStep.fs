// One step of a process manager on the connection that holds its lock: read the next batch below the horizon,
// handle it and store state + checkpoint in ONE transaction guarded by the row's version and checkpoint,
// or apply the error policy to the first failing event (events before it still commit). Never skips an event.
namespace Fable.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable

/// What one step did.
[<RequireQualifiedAccess>]
type internal StepOutcome =
    /// A batch of this many events committed.
    | Handled of count: int
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
                    let! r =
                        task {
                            try
                                return! pm.Handle uow s inc ct
                            with
                            | :? OperationCanceledException -> return Error Cancelled
                            | ex -> return Error(HandlerFailed(e.TypeName, pm.Name, ex.Message, Some ex))
                        }
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

    /// Handles `events` after `row` in one transaction on `conn`. On a failure at event k the transaction rolls
    /// back, events 0..k-1 are handled again and committed, then the failure of event k is recorded.
    let rec private attempt (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (row: PmRow) (events: RecordedEvent[]) (ct: CancellationToken) : Task<StepOutcome> =
        task {
            let! tx = conn.BeginTransactionAsync ct
            try
                let! locked = PmTable.load conn tx ctx.Schema pm.Name true ct
                match locked with
                | Some l when l.Version = row.Version && l.Active && l.RetryIn <= TimeSpan.Zero ->
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
                                try
                                    let! written = PmTable.save conn tx ctx.Schema l json last CancellationToken.None
                                    return Choice1Of2 written
                                with :? PostgresException as p when p.SqlState = "25P02" ->
                                    return Choice2Of2(FailedAt(events.Length - 1, PgErrors.ofExn None ct p, true))
                            }
                        | Choice2Of2 f -> Task.FromResult(Choice2Of2 f)
                    match run with
                    | Choice1Of2 written ->
                        if written = 1 then
                            do! tx.CommitAsync CancellationToken.None
                            return StepOutcome.Handled events.Length
                        else
                            do! tx.RollbackAsync CancellationToken.None
                            return StepOutcome.Changed
                    | Choice2Of2 failure ->
                        do! tx.RollbackAsync CancellationToken.None
                        match failure with
                        | _ when ct.IsCancellationRequested -> return raise (OperationCanceledException ct)
                        | FailedAt(_, _, true) when events.Length > 1 -> return! attempt ctx pm conn row events[0..0] ct
                        | FailedAt(0, err, _) -> return! recordFailure ctx pm conn row events[0] err
                        | FailedAt(k, err, _) ->
                            match! attempt ctx pm conn row events[0 .. k - 1] ct with
                            | StepOutcome.Handled _ ->
                                let after = { row with Version = row.Version + 1L; Checkpoint = events[k - 1].Position }
                                return! recordFailure ctx pm conn after events[k] err
                            | other -> return other
                        | AllHandled _ -> return StepOutcome.Changed
                | _ ->
                    do! tx.RollbackAsync CancellationToken.None
                    return StepOutcome.Changed
            finally
                // Rolls back when still open (an exception); a no-op after commit or rollback.
                try tx.Dispose() with _ -> ()
        }

    /// One step of `pm` on `conn` (which holds its advisory lock). An Error is a failure of the database or
    /// the connection (nothing was recorded); Cancelled when `ct` fired (a batch in flight rolled back whole).
    let run (ctx: PmContext) (pm: ProcessManagerDef) (conn: NpgsqlConnection) (ct: CancellationToken) : Task<Result<StepOutcome, FableError>> =
        task {
            try
                match! PmTable.load conn null ctx.Schema pm.Name false ct with
                | None -> return Error(InvalidDefinition [ sprintf "process manager %s has no row in %s.process_managers" pm.Name ctx.Schema ])
                | Some row when not row.Active -> return Ok StepOutcome.Inactive
                | Some row when row.RetryIn > TimeSpan.Zero -> return Ok(StepOutcome.Waiting row.RetryIn)
                | Some row ->
                    match! ctx.Interpreter.ReadAll(row.Checkpoint, pm.BatchSize, ct) with
                    | Error e -> return Error e
                    | Ok [] ->
                        let! last = PmTable.lastCommitted conn ctx.Schema ct
                        return Ok(StepOutcome.Idle(compare last row.Checkpoint > 0))
                    | Ok events ->
                        let! outcome = attempt ctx pm conn row (Array.ofList events) ct
                        return Ok outcome
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }
