// The in-memory process-manager host: background runners woken on commit, a deterministic CatchUp,
// and runtime control (status, enable, disable, reset, rebuild) over the registered process managers.
namespace Fable.FSharp.InMemory

open System
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open Microsoft.Extensions.Logging
open Fable.FSharp

/// Runs the process managers of one in-memory store.
type internal ProcessManagerHost(engine: Engine, rt: Runtime, lockTimeout: TimeSpan, log: ILogger) =
    static let holder = "in-memory runner"
    /// How long a runner waits after a failure of its own (not a handler's) before trying again.
    static let backoff = TimeSpan.FromMilliseconds 100.0

    let head () = Task.FromResult(Ok(engine.Head()))

    /// The first progress of `def` (at its StartAt with its initial state); validation has checked both, so the
    /// error branch only keeps a broken definition inactive with its error.
    let registered (def: ProcessManagerDef) =
        let start = (Following.startPosition head def.StartAt).Result
        match ProcessManagerRules.initial def, start with
        | Ok json, Ok position ->
            { Position = position; StateJson = json; Active = true; LastError = None; Attempts = 0; RetryAt = 0L }
        | Error e, _
        | _, Error e ->
            { Position = LogPosition.Origin; StateJson = "null"; Active = false; LastError = Some(string e); Attempts = 0; RetryAt = 0L }

    let slots = [| for def in rt.ProcessManagers -> PmSlot(def, registered def) |]

    let byName =
        let d = Dictionary<string, PmSlot>(StringComparer.Ordinal)
        for s in slots do
            d.TryAdd(s.Def.Name, s) |> ignore
        d

    let startLock = obj ()
    let mutable runners: Task[] = null
    let mutable stopper: CancellationTokenSource = null
    // The process managers in the lag gauge (fable.process_manager.lag), while started.
    let mutable lagGauge: IDisposable = null

    let find name =
        match (if isNull name then (false, Unchecked.defaultof<_>) else byName.TryGetValue name) with
        | true, s -> Ok s
        | _ -> Error(ProcessManager.unknownName rt.ProcessManagers name)

    let wake (slot: PmSlot) =
        if slot.Wake.CurrentCount = 0 then slot.Wake.Release() |> ignore

    let wakeAll () =
        for s in slots do
            wake s

    /// Runs `work` holding the slot's Gate: after a batch in flight, before the next one.
    let gated (slot: PmSlot) (ct: CancellationToken) (work: unit -> Task<'T>) : Task<'T> =
        task {
            do! slot.Gate.WaitAsync(ct)
            try
                return! work ()
            finally
                slot.Gate.Release() |> ignore
        }

    /// One batch under the Gate; a failure of the runner itself (not of a handler) is Crashed.
    let stepOnce (slot: PmSlot) (ct: CancellationToken) : Task<BatchOutcome> =
        task {
            try
                return! gated slot ct (fun () -> ProcessManagerBatch.step engine rt lockTimeout log slot ct)
            with
            | :? OperationCanceledException when ct.IsCancellationRequested -> return BatchOutcome.Interrupted
            | e -> return BatchOutcome.Crashed(Infrastructure(sprintf "process manager %s: unexpected failure: %s" slot.Def.Name e.Message, Some e))
        }

    /// Runs batches while they make progress; returns the outcome that stopped it.
    let drive (slot: PmSlot) (ct: CancellationToken) : Task<BatchOutcome> =
        task {
            let mutable outcome = BatchOutcome.Handled 0
            while (match outcome with BatchOutcome.Handled _ -> true | _ -> false) do
                let! o = stepOnce slot ct
                outcome <- o
            return outcome
        }

    /// Handles one process manager until its position reaches `target`, it is inactive, or `ct` is cancelled.
    /// Starts from the declared batch size, as every catch-up does.
    let catchUpOne (slot: PmSlot) (target: LogPosition) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            try
                do! gated slot ct (fun () -> task { slot.Sizing <- BatchSizing.Declared })
                let mutable result = None
                while result.IsNone do
                    let p = slot.Progress
                    if not p.Active || not (ProcessManagerBatch.before p.Position target) then
                        result <- Some(Ok())
                    else
                        match! drive slot ct with
                        | BatchOutcome.Waiting delay -> do! Task.Delay(delay, ct)
                        | BatchOutcome.Interrupted -> result <- Some(Error Cancelled)
                        | BatchOutcome.Crashed e -> result <- Some(Error e)
                        | BatchOutcome.CaughtUp -> result <- Some(Ok())
                        | BatchOutcome.Handled _
                        | BatchOutcome.Inactive -> ()
                return result.Value
            with :? OperationCanceledException ->
                return Error Cancelled
        }

    let runner (slot: PmSlot) (ct: CancellationToken) : Task =
        task {
            Telemetry.detach ()
            try
                do! gated slot ct (fun () -> task { slot.Sizing <- BatchSizing.Declared })
                while not ct.IsCancellationRequested do
                    match! drive slot ct with
                    | BatchOutcome.Waiting delay ->
                        let! _ = slot.Wake.WaitAsync(delay, ct)
                        ()
                    | BatchOutcome.Crashed e ->
                        FableLog.runnerFailed log slot.Def.Name holder e backoff
                        do! Task.Delay(backoff, ct)
                    | BatchOutcome.Interrupted -> ()
                    | _ -> do! slot.Wake.WaitAsync(ct)
            with :? OperationCanceledException ->
                ()
        }

    /// Applies `control` (built from the definition, once the Gate is held) to `name` and wakes its runner.
    let control (name: string) (ct: CancellationToken) (build: PmSlot -> Task<Result<Control, FableError>>) : Task<Result<PmSlot, FableError>> =
        match find name with
        | Error e -> Task.FromResult(Error e)
        | Ok slot ->
            task {
                try
                    let! r =
                        gated slot ct (fun () ->
                            task {
                                match! build slot with
                                | Error e -> return Error e
                                | Ok c ->
                                    slot.Update(PmProgress.apply (ProcessManagerRules.effect c))
                                    slot.Sizing <- BatchSizing.Declared
                                    FableLog.control log slot.Def.Name c
                                    return Ok slot
                            })
                    wake slot
                    return r
                with :? OperationCanceledException ->
                    return Error Cancelled
            }

    let fixedControl (c: Control) = fun (_: PmSlot) -> Task.FromResult(Ok c)

    let done' (t: Task<Result<PmSlot, FableError>>) : Task<Result<unit, FableError>> =
        task {
            let! r = t
            return Result.map ignore r
        }

    /// Reset to `start` (`rebuild`: to the origin, active).
    let resetControl (start: StartAt) (rebuild: bool) (slot: PmSlot) =
        task {
            match ProcessManagerRules.initial slot.Def with
            | Error e -> return Error e
            | Ok json when rebuild -> return Ok(Control.Rebuild json)
            | Ok json ->
                let! position = Following.startPosition head start
                return position |> Result.map (fun p -> Control.Reset(p, json))
        }

    /// The status of one slot (the engine holds exactly the registered process managers: they are all it stores).
    let statusOf (slot: PmSlot) =
        let p = slot.Progress
        let running = lock startLock (fun () -> not (isNull runners))
        { Name = slot.Def.Name; Position = p.Position; Lag = engine.CountAfter p.Position; Active = p.Active
          LastError = p.LastError; Attempts = p.Attempts; Holder = (if running then Some holder else None)
          State = p.StateJson }

    interface IProcessManagerHost with
        member _.Start(_ct) =
            lock startLock (fun () ->
                if isNull runners then
                    stopper <- new CancellationTokenSource()
                    engine.OnCommit <- Action wakeAll
                    let token = stopper.Token
                    lagGauge <- Telemetry.registerLag (fun () -> seq { for s in slots -> struct (s.Def.Name, engine.CountAfter s.Progress.Position) })
                    for s in slots do
                        FableLog.runnerAcquired log s.Def.Name holder
                    runners <- [| for s in slots -> Task.Run(fun () -> runner s token) |])
            Task.CompletedTask

        member _.Stop() =
            let running =
                lock startLock (fun () ->
                    let r = runners
                    if not (isNull r) then
                        engine.OnCommit <- null
                        lagGauge.Dispose()
                        lagGauge <- null
                        stopper.Cancel()
                        runners <- null
                    r)
            if isNull running then Task.CompletedTask
            else
                task {
                    do! Task.WhenAll running
                    for s in slots do
                        FableLog.runnerReleased log s.Def.Name holder
                    lock startLock (fun () -> if isNull runners then stopper.Dispose())
                }

        member _.CatchUp(ct) =
            task {
                let target = engine.Head()
                let mutable result = Ok()
                for s in slots do
                    if Result.isOk result then
                        let! r = catchUpOne s target ct
                        result <- r
                return result
            }

        member _.Status(name, _ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok slot -> Task.FromResult(Ok(statusOf slot))

        member _.ListStored(_ct) =
            Task.FromResult(Ok [ for s in slots |> Array.sortWith (fun a b -> String.CompareOrdinal(a.Def.Name, b.Def.Name)) -> statusOf s ])

        member _.Enable(name, ct) = control name ct (fixedControl Control.Enable) |> done'

        member _.Disable(name, ct) = control name ct (fixedControl Control.Disable) |> done'

        member _.Reset(name, start, ct) = control name ct (resetControl start false) |> done'

        member _.Rebuild(name, ct) =
            task {
                match! control name ct (resetControl StartAt.Origin true) with
                | Error e -> return Error e
                | Ok slot -> return! catchUpOne slot (engine.Head()) ct
            }
