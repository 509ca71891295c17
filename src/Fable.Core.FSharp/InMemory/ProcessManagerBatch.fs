// One in-memory process manager's stored status and its batch step: read committed events after the checkpoint,
// handle them in one unit of work and commit handler writes + state + checkpoint together, following the shared
// rules of Core/ProcessManagerRules.fs (a failure at event k rolls the batch back and commits events 0..k-1 alone).
namespace Fable.FSharp.InMemory

open System
open System.Threading
open System.Threading.Tasks
open Microsoft.Extensions.Logging
open Fable.FSharp

/// What the store keeps of one process manager (the in-memory counterpart of its PostgreSQL row).
type internal PmProgress =
    { Position: LogPosition
      /// The state as JSON (through the definition's Save/Load).
      StateJson: string
      Active: bool
      LastError: string option
      /// Failures of the event after the checkpoint.
      Attempts: int
      /// When a retry is due (Environment.TickCount64 milliseconds; none pending when in the past).
      RetryAt: int64 }

/// The changes the shared rules make to a process manager's progress.
module internal PmProgress =
    /// A batch committed up to `checkpoint` with `state`: the error bookkeeping is cleared.
    let committed (checkpoint: LogPosition) (state: string) (p: PmProgress) =
        { p with Position = checkpoint; StateJson = state; Attempts = 0; LastError = None; RetryAt = 0L }

    /// The error policy's `step`, taken at `now`.
    let failed (step: FailureStep) (now: int64) (p: PmProgress) =
        { p with
            Attempts = step.Attempts
            LastError = Some step.Error
            Active = p.Active && step.Active
            RetryAt = match step.RetryAfter with Some i -> now + int64 (max 0.0 i.TotalMilliseconds) | None -> 0L }

    /// A control operation's effect.
    let apply (effect: ControlEffect) (p: PmProgress) =
        let p = match effect.Moves with Some(position, state) -> { p with Position = position; StateJson = state } | None -> p
        let p = match effect.Active with Some active -> { p with Active = active } | None -> p
        if effect.ClearsFailure then { p with LastError = None; Attempts = 0; RetryAt = 0L } else p

/// One process manager: its definition, its progress (guarded by `Sync`) and the gates its runner uses.
type internal PmSlot(def: ProcessManagerDef, progress: PmProgress) =
    let sync = obj ()
    let mutable current = progress
    /// The definition.
    member val Def = def
    /// Held while a batch or a control operation runs: one at a time per process manager.
    member val Gate = new SemaphoreSlim(1, 1)
    /// Released after commits to wake the background runner.
    member val Wake = new SemaphoreSlim(0)
    /// The progress now.
    member _.Progress = lock sync (fun () -> current)
    /// Changes the progress.
    member _.Update(f: PmProgress -> PmProgress) = lock sync (fun () -> current <- f current)
    /// How the next batch is sized (Core's BatchSizing rule); changed under the Gate.
    member val Sizing = BatchSizing.Declared with get, set

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
    /// The runner itself failed (not a handler): nothing of the batch was committed and nothing recorded.
    | Crashed of FableError

/// The batch step of the in-memory process-manager runner.
module internal ProcessManagerBatch =
    /// Whether `position` is before `target` in (Tx, Id) order.
    let before (position: LogPosition) (target: LogPosition) =
        position.Tx < target.Tx || (position.Tx = target.Tx && position.Id < target.Id)

    /// Applies the error policy to `e` failing with `err` (logged, and noted on the batch's `trace`); the outcome
    /// that follows.
    let private fail (log: ILogger) (trace: BatchTrace) (slot: PmSlot) (e: StoredEvent) (err: FableError) =
        let step = ref Unchecked.defaultof<FailureStep>
        slot.Update(fun p ->
            step.Value <- ProcessManagerRules.failure slot.Def p.Attempts e err
            PmProgress.failed step.Value Environment.TickCount64 p)
        let step = step.Value
        let p = slot.Progress
        Telemetry.batchFailed trace err
        FableLog.failed log slot.Def.Name e.Position step.Attempts p.Active (defaultArg step.RetryAfter TimeSpan.Zero) err step.Error
        if not p.Active then BatchOutcome.Inactive
        else BatchOutcome.Waiting(TimeSpan.FromMilliseconds(float (max 0L (p.RetryAt - Environment.TickCount64))))

    /// Handles `events` from the state `json` in one unit of work; commits the handlers' writes with the new state
    /// and checkpoint when the verdict is Commit, and otherwise leaves nothing behind.
    let private attempt (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (slot: PmSlot) (json: string)
                        (events: StoredEvent[]) (ct: CancellationToken) : Task<BatchVerdict> =
        task {
            let uow = UnitOfWork(engine, rt, lockTimeout)
            try
                let! run = ProcessManagerRules.runBatch slot.Def rt.Codec uow json events ct
                match ProcessManagerRules.verdict events run ct.IsCancellationRequested with
                | BatchVerdict.Commit(state, checkpoint) as commit ->
                    FaultPoints.reachBeforeCheckpoint slot.Def checkpoint
                    uow.Overlay.OnCommit(fun () -> slot.Update(PmProgress.committed checkpoint state))
                    match uow.Commit() with
                    | Ok _ -> return commit
                    | Error err -> return ProcessManagerRules.commitRefused events err
                | other -> return other
            finally
                uow.End()
        }

    /// Handles `events`; on a failure at event k, handles events 0..k-1 again as a batch of their own, then applies
    /// the error policy to event k.
    let rec private settle engine rt lockTimeout log trace (slot: PmSlot) json (events: StoredEvent[]) ct : Task<BatchOutcome> =
        task {
            match! attempt engine rt lockTimeout slot json events ct with
            | BatchVerdict.Commit _ -> return BatchOutcome.Handled events.Length
            | BatchVerdict.Interrupted -> return BatchOutcome.Interrupted
            | BatchVerdict.Fail(e, err) -> return fail log trace slot e err
            | BatchVerdict.Retreat(k, e, err) ->
                match! settle engine rt lockTimeout log trace slot json events[0 .. k - 1] ct with
                | BatchOutcome.Handled _ -> return fail log trace slot e err
                | other -> return other
        }

    /// `settle` in a "fable.process_manager.batch" span (when anybody listens), from the checkpoint `from`.
    let private traced (engine: Engine) rt lockTimeout log (slot: PmSlot) (from: LogPosition) json (events: StoredEvent[]) ct : Task<BatchOutcome> =
        task {
            let trace = Telemetry.startBatch null slot.Def.Name from events[events.Length - 1].Position events.Length
            let mutable outcome = BatchOutcome.Interrupted
            try
                let! o = settle engine rt lockTimeout log trace slot json events ct
                outcome <- o
                return o
            finally
                match outcome with
                | BatchOutcome.Handled _ -> Telemetry.endBatch trace "ok" events (engine.Now())
                | BatchOutcome.Waiting _ -> Telemetry.endBatch trace "retry" [||] (engine.Now())
                | BatchOutcome.Inactive -> Telemetry.endBatch trace "stopped" [||] (engine.Now())
                | BatchOutcome.Interrupted -> Telemetry.endBatch trace "cancelled" [||] (engine.Now())
                | _ -> Telemetry.endBatch trace "error" [||] (engine.Now())
        }

    /// One batch for a process manager whose Gate the caller holds, sized by Core's BatchSizing rule: a full
    /// batch committed whole grows the next one; anything else leaves the declared size.
    let step (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (log: ILogger) (slot: PmSlot) (ct: CancellationToken) : Task<BatchOutcome> =
        let p = slot.Progress
        let now = Environment.TickCount64
        if not p.Active then Task.FromResult BatchOutcome.Inactive
        elif p.RetryAt > now then Task.FromResult(BatchOutcome.Waiting(TimeSpan.FromMilliseconds(float (p.RetryAt - now))))
        else
            let declared = slot.Def.BatchSize
            let requested = BatchSizing.size declared slot.Sizing p.Position
            slot.Sizing <- BatchSizing.Declared
            match engine.ReadAll(p.Position, requested) with
            | [] -> Task.FromResult BatchOutcome.CaughtUp
            | events ->
                let events = Array.ofList events
                task {
                    let! outcome = traced engine rt lockTimeout log slot p.Position p.StateJson events ct
                    match outcome with
                    | BatchOutcome.Handled n when n = events.Length ->
                        slot.Sizing <- BatchSizing.after declared requested (Some(n, events[n - 1].Position))
                    | _ -> ()
                    return outcome
                }
