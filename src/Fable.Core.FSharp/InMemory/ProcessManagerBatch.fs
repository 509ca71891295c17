// One in-memory process manager's stored status and its batch step: read committed events after the checkpoint,
// handle them in one unit of work (each event in a savepoint), commit handler writes + state + checkpoint together.
namespace Fable.InMemory

open System
open System.Threading
open System.Threading.Tasks
open Fable

/// The stored status of one process manager (guarded by `Sync`) and the gates its runner uses.
type internal PmSlot(def: ProcessManagerDef, position: Position, stateJson: string, lastError: string option) =
    /// The definition.
    member val Def = def
    /// Held while a batch, reset or rebuild runs: one at a time per process manager.
    member val Gate = new SemaphoreSlim(1, 1)
    /// Released after commits to wake the background runner.
    member val Wake = new SemaphoreSlim(0)
    /// Guards the status fields below.
    member val Sync = obj ()
    /// The last position handled.
    member val Position = position with get, set
    /// The state as JSON (through the definition's Save/Load).
    member val StateJson = stateJson with get, set
    /// Whether it handles events.
    member val Active = lastError.IsNone with get, set
    /// The last failure, kept until it is enabled again or an event is handled.
    member val LastError = lastError with get, set
    /// Failures of the current event.
    member val Attempts = 0 with get, set
    /// When a retry is due (Environment.TickCount64 milliseconds; no wait when in the past).
    member val RetryAt = 0L with get, set

/// What one batch step did.
[<RequireQualifiedAccess>]
type internal BatchOutcome =
    /// Handled this many events (there may be more).
    | Handled of int
    /// Nothing committed after the checkpoint.
    | CaughtUp
    /// A retry is due after this delay.
    | Waiting of TimeSpan
    /// Disabled (by a caller or by its error policy).
    | Inactive
    /// Cancelled; nothing of the batch was committed.
    | Interrupted

/// The batch step of the in-memory process-manager runner.
module internal ProcessManagerBatch =
    let private isBefore (a: Position) (b: Position) = a.Tx < b.Tx || (a.Tx = b.Tx && a.Id < b.Id)

    /// Whether `position` is before `target` in (Tx, Id) order.
    let before (position: Position) (target: Position) = isBefore position target

    /// Applies the error policy to a failure: counts the attempt, keeps the error, schedules a retry or stops.
    let fail (slot: PmSlot) (err: FableError) =
        lock slot.Sync (fun () ->
            slot.Attempts <- slot.Attempts + 1
            slot.LastError <- Some(string err)
            match slot.Def.ErrorPolicy with
            | ErrorPolicy.Stop -> slot.Active <- false
            | ErrorPolicy.Retry(_, Some n) when slot.Attempts >= n -> slot.Active <- false
            | ErrorPolicy.Retry(interval, _) ->
                slot.RetryAt <- Environment.TickCount64 + int64 (max 0.0 interval.TotalMilliseconds))

    let private handleOne (codec: IEventCodec) (uow: UnitOfWork) (def: ProcessManagerDef) (state: obj)
                          (e: RecordedEvent) (ct: CancellationToken) : Task<Result<obj, FableError>> =
        task {
            let incoming =
                match codec.Decode(e.TypeName, e.TypeVersion, e.Data) with
                | Ok evt -> Ok { Recorded = e; Event = Some evt }
                | Error(UnknownEventType _) -> Ok { Recorded = e; Event = None }
                | Error err -> Error err
            match incoming with
            | Error err -> return Error err
            | Ok inc ->
                try
                    return! def.Handle uow state inc ct
                with
                | :? OperationCanceledException when ct.IsCancellationRequested -> return Error Cancelled
                | ex -> return Error(HandlerFailed(e.TypeName, def.Name, ex.Message, Some ex))
        }

    /// Handles `events` in `uow` from the stored state; a failing event is rolled back to its savepoint and ends the
    /// batch. Registers the new state and checkpoint to publish with the commit. Returns (handled, failure).
    let private handleBatch (codec: IEventCodec) (slot: PmSlot) (json: string) (events: RecordedEvent list)
                            (ct: CancellationToken) (uow: UnitOfWork) : Task<Result<int * FableError option, FableError>> =
        task {
            let def = slot.Def
            match (try Ok(def.Load json) with e -> Error(HandlerFailed(def.Name, "Load", e.Message, Some e))) with
            | Error err -> return Ok(0, Some err)
            | Ok initial ->
                let mutable state = initial
                let mutable last = Position.Origin
                let mutable handled = 0
                let mutable failure = None
                let mutable rest = events
                while failure.IsNone && not rest.IsEmpty do
                    let e = rest.Head
                    rest <- rest.Tail
                    let sp = uow.Overlay.Savepoint()
                    match! handleOne codec uow def state e ct with
                    | Ok s ->
                        state <- s
                        last <- e.Position
                        handled <- handled + 1
                    | Error err ->
                        uow.Overlay.RollbackTo sp
                        failure <- Some err
                if handled = 0 then
                    return Ok(0, failure)
                else
                    match (try Ok(def.Save state) with e -> Error(HandlerFailed(def.Name, "Save", e.Message, Some e))) with
                    | Error err -> return Error err
                    | Ok saved ->
                        uow.Overlay.OnCommit(fun () ->
                            lock slot.Sync (fun () ->
                                slot.Position <- last
                                slot.StateJson <- saved
                                slot.Attempts <- 0
                                slot.LastError <- None
                                slot.RetryAt <- 0L))
                        return Ok(handled, failure)
        }

    let private afterFailure (slot: PmSlot) =
        lock slot.Sync (fun () ->
            if not slot.Active then BatchOutcome.Inactive
            else BatchOutcome.Waiting(TimeSpan.FromMilliseconds(float (max 0L (slot.RetryAt - Environment.TickCount64)))))

    /// One batch for a process manager whose Gate the caller holds.
    let step (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (slot: PmSlot) (ct: CancellationToken) : Task<BatchOutcome> =
        task {
            let struct (active, retryAt, position, json) =
                lock slot.Sync (fun () -> struct (slot.Active, slot.RetryAt, slot.Position, slot.StateJson))
            let now = Environment.TickCount64
            if not active then
                return BatchOutcome.Inactive
            elif retryAt > now then
                return BatchOutcome.Waiting(TimeSpan.FromMilliseconds(float (retryAt - now)))
            else
                match engine.ReadAll(position, slot.Def.BatchSize) with
                | [] -> return BatchOutcome.CaughtUp
                | events ->
                    match! Transaction.run engine rt lockTimeout (handleBatch rt.Codec slot json events ct) ct with
                    | Ok(n, None) -> return BatchOutcome.Handled n
                    | Error Cancelled when ct.IsCancellationRequested -> return BatchOutcome.Interrupted
                    | Ok(_, Some err)
                    | Error err ->
                        fail slot err
                        return afterFailure slot
        }
