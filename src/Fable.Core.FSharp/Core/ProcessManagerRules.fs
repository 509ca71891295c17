// The rules every process-manager runner follows, whatever keeps its checkpoint: the event step (decode, handle,
// exceptions as typed errors), a batch's verdict (commit it, or roll it back whole and commit the events before the
// failing one as a batch of their own), the error policy's next step, and the effect of each control operation.
namespace Fable.FSharp

open System
open System.Threading
open System.Threading.Tasks

/// How handling a batch inside its transaction ended.
[<RequireQualifiedAccess>]
type internal BatchRun =
    /// Every event handled; the state after them, saved.
    | Handled of state: string
    /// Event `index` of the batch failed (its state could not be loaded or saved, it could not be decoded, or the
    /// handle returned an error or threw).
    | FailedAt of index: int * error: FableError

/// What the runner does with a batch's transaction.
[<RequireQualifiedAccess>]
type internal BatchVerdict =
    /// Write this state and checkpoint, then commit with the handlers' writes.
    | Commit of state: string * checkpoint: LogPosition
    /// Roll back; handle the first `count` events again as a batch of their own and commit it (a handler may so
    /// run twice for them; their database effects happen once); then apply the error policy to `failed`.
    | Retreat of count: int * failed: StoredEvent * error: FableError
    /// Roll back and apply the error policy to `failed`, the batch's first event.
    | Fail of failed: StoredEvent * error: FableError
    /// The runner was cancelled: roll back and record nothing.
    | Interrupted

/// The error bookkeeping after a failed attempt.
type internal FailureStep =
    { Attempts: int
      /// False when the policy stops the process manager.
      Active: bool
      /// When to try the same event again (None: no retry planned).
      RetryAfter: TimeSpan option
      /// The error as stored in LastError.
      Error: string }

/// A runtime control operation.
[<RequireQualifiedAccess>]
type internal Control =
    | Enable
    | Disable
    /// To a checkpoint with the initial state (saved).
    | Reset of checkpoint: LogPosition * initial: string
    /// To the origin with the initial state (saved), active.
    | Rebuild of initial: string

/// What a control operation changes in the stored status.
type internal ControlEffect =
    {
        /// The new checkpoint and state, when it moves.
        Moves: (LogPosition * string) option
        /// The new active flag (None: kept).
        Active: bool option
        /// Clears the last error, the attempts and a pending retry.
        ClearsFailure: bool
    }

/// The shared rules.
module internal ProcessManagerRules =
    /// The event as the handle gets it: decoded, None for a type the codec does not know, or the decoding error
    /// (an unreadable payload of a known type goes through the error policy).
    let incoming (codec: IEventCodec) (e: StoredEvent) : Result<Incoming, FableError> =
        match codec.Decode(e.TypeName, e.TypeVersion, e.Data) with
        | Ok evt -> Ok { Recorded = e; Event = Some evt }
        | Error(UnknownEventType _) -> Ok { Recorded = e; Event = None }
        | Error err -> Error err

    /// Decodes and handles one event from `state`: an exception of the handle is HandlerFailed (Cancelled when
    /// `ct` fired). A partition passes over the events of aggregates another partition owns (state unchanged, not
    /// decoded): its checkpoint moves past them.
    let handleEvent (def: ProcessManagerDef) (codec: IEventCodec) (uow: IUnitOfWork) (state: obj) (e: StoredEvent)
                    (ct: CancellationToken) : Task<Result<obj, FableError>> =
        if not (Partitioning.owns def.Partitioning e.Aggregate) then
            Task.FromResult(Ok state)
        else
            match incoming codec e with
            | Error err -> Task.FromResult(Error err)
            | Ok inc ->
                task {
                    try
                        return! def.Handle uow state inc ct
                    with
                    | :? OperationCanceledException when ct.IsCancellationRequested -> return Error Cancelled
                    | ex -> return Error(HandlerFailed(e.TypeName, def.Name, ex.Message, Some ex))
                }

    /// The stored state (JSON) as the handle's state.
    let load (def: ProcessManagerDef) (json: string) : Result<obj, FableError> =
        try Ok(def.Load json)
        with ex -> Error(HandlerFailed("state", def.Name, "the stored state cannot be loaded: " + ex.Message, Some ex))

    /// The handle's state as stored JSON.
    let save (def: ProcessManagerDef) (state: obj) : Result<string, FableError> =
        match (try Ok(def.Save state) with ex -> Error ex) with
        | Ok json when not (isNull json) -> Ok json
        | Ok _ -> Error(HandlerFailed("state", def.Name, "Save returned null", None))
        | Error ex -> Error(HandlerFailed("state", def.Name, "the state cannot be saved: " + ex.Message, Some ex))

    /// Handles `events` (at least one) in order inside `uow`, from the stored state `json`, up to the first failure.
    /// Never throws: a failure is attributed to the event it happened at (a state that cannot be loaded to the first,
    /// one that cannot be saved to the last).
    let runBatch (def: ProcessManagerDef) (codec: IEventCodec) (uow: IUnitOfWork) (json: string) (events: StoredEvent[])
                 (ct: CancellationToken) : Task<BatchRun> =
        task {
            match load def json with
            | Error err -> return BatchRun.FailedAt(0, err)
            | Ok initial ->
                let mutable state = initial
                let mutable failure = None
                let mutable i = 0
                while failure.IsNone && i < events.Length do
                    match! handleEvent def codec uow state events[i] ct with
                    | Ok s ->
                        state <- s
                        i <- i + 1
                    | Error err -> failure <- Some(BatchRun.FailedAt(i, err))
                match failure with
                | Some f -> return f
                | None ->
                    match save def state with
                    | Ok saved -> return BatchRun.Handled saved
                    | Error err -> return BatchRun.FailedAt(events.Length - 1, err)
        }

    /// What to do with a batch of `events` that ran as `run` (`cancelled`: the runner's token fired).
    let verdict (events: StoredEvent[]) (run: BatchRun) (cancelled: bool) : BatchVerdict =
        match run with
        | _ when cancelled -> BatchVerdict.Interrupted
        | BatchRun.Handled state -> BatchVerdict.Commit(state, events[events.Length - 1].Position)
        | BatchRun.FailedAt(0, err) -> BatchVerdict.Fail(events[0], err)
        | BatchRun.FailedAt(k, err) -> BatchVerdict.Retreat(k, events[k], err)

    /// The verdict when the commit of a handled batch was refused (a write the store rejects at commit, or a
    /// transaction a handler left aborted): a failure of its last event.
    let commitRefused (events: StoredEvent[]) (err: FableError) : BatchVerdict =
        verdict events (BatchRun.FailedAt(events.Length - 1, err)) false

    /// The text stored as LastError (and logged) when `e` failed with `err`.
    let describe (def: ProcessManagerDef) (e: StoredEvent) (err: FableError) =
        sprintf "process manager %s: event %d (%s v%d of %O, position %O) failed: %O" def.Name e.Id e.TypeName e.TypeVersion e.Aggregate e.Position err

    /// The error policy's next step after a failure of `e`, `attempts` failures of it being already counted: one more
    /// attempt counted and the error kept; retry after the interval, or stop (Stop, or the last allowed attempt).
    let failure (def: ProcessManagerDef) (attempts: int) (e: StoredEvent) (err: FableError) : FailureStep =
        let attempts = attempts + 1
        let retry =
            match def.ErrorPolicy with
            | OnFailure.Stop -> None
            | OnFailure.Retry(_, Some max) when attempts >= max -> None
            | OnFailure.Retry(interval, _) -> Some interval
        { Attempts = attempts; Active = retry.IsSome; RetryAfter = retry; Error = describe def e err }

    /// What `control` changes. Reset keeps the active flag; Rebuild and Enable activate; every operation but Disable
    /// clears the error bookkeeping.
    let effect (control: Control) : ControlEffect =
        match control with
        | Control.Enable -> { Moves = None; Active = Some true; ClearsFailure = true }
        | Control.Disable -> { Moves = None; Active = Some false; ClearsFailure = false }
        | Control.Reset(checkpoint, initial) -> { Moves = Some(checkpoint, initial); Active = None; ClearsFailure = true }
        | Control.Rebuild initial -> { Moves = Some(LogPosition.Origin, initial); Active = Some true; ClearsFailure = true }

    /// The initial state as stored JSON (validation has checked that it saves).
    let initial (def: ProcessManagerDef) : Result<string, FableError> =
        save def def.Initial
        |> Result.mapError (fun err -> InvalidDefinition [ sprintf "process manager %s: the initial state cannot be saved: %O" def.Name err ])
