// The in-memory process-manager host: background runners woken on commit, a deterministic CatchUp,
// and runtime control (status, enable, disable, reset, rebuild) over the registered process managers.
namespace Fable.InMemory

open System
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open Fable

/// Runs the process managers of one in-memory store.
type internal ProcessManagerHost(engine: Engine, rt: Runtime, lockTimeout: TimeSpan) =
    static let holder = "in-memory runner"

    let resolve (start: StartAt) =
        match start with
        | StartAt.Origin -> Position.Origin
        | StartAt.Head -> engine.Head()
        | StartAt.After p -> p

    let save (def: ProcessManagerDef) =
        try Ok(def.Save def.Initial)
        with e -> Error(HandlerFailed(def.Name, "Save", e.Message, Some e))

    let slots =
        [| for def in rt.ProcessManagers ->
               match save def with
               | Ok json -> PmSlot(def, resolve def.StartAt, json, None)
               | Error e -> PmSlot(def, resolve def.StartAt, "null", Some(string e)) |]

    let byName =
        let d = Dictionary<string, PmSlot>(StringComparer.Ordinal)
        for s in slots do
            d.TryAdd(s.Def.Name, s) |> ignore
        d

    let startLock = obj ()
    let mutable runners: Task[] = null
    let mutable stopper: CancellationTokenSource = null

    let find name =
        match byName.TryGetValue name with
        | true, s -> Ok s
        | _ -> Error(InvalidDefinition [ sprintf "no process manager named %s is registered" name ])

    let wakeAll () =
        for s in slots do
            if s.Wake.CurrentCount = 0 then s.Wake.Release() |> ignore

    /// Runs batches while they make progress; returns the outcome that stopped it.
    let drive (slot: PmSlot) (ct: CancellationToken) : Task<BatchOutcome> =
        task {
            do! slot.Gate.WaitAsync(ct)
            try
                let mutable outcome = BatchOutcome.Handled 0
                while (match outcome with BatchOutcome.Handled _ -> true | _ -> false) do
                    let! o =
                        task {
                            try
                                return! ProcessManagerBatch.step engine rt lockTimeout slot ct
                            with
                            | :? OperationCanceledException when ct.IsCancellationRequested -> return BatchOutcome.Interrupted
                            | e ->
                                ProcessManagerBatch.fail slot (Infrastructure(sprintf "process manager %s: %s" slot.Def.Name e.Message, Some e))
                                return (lock slot.Sync (fun () -> if slot.Active then BatchOutcome.Waiting TimeSpan.Zero else BatchOutcome.Inactive))
                        }
                    outcome <- o
                return outcome
            finally
                slot.Gate.Release() |> ignore
        }

    /// Handles one process manager until its position reaches `target`, it is inactive, or `ct` is cancelled.
    let catchUpOne (slot: PmSlot) (target: Position) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            try
                let mutable result = None
                while result.IsNone do
                    let struct (active, position) = lock slot.Sync (fun () -> struct (slot.Active, slot.Position))
                    if not active || not (ProcessManagerBatch.before position target) then
                        result <- Some(Ok())
                    else
                        match! drive slot ct with
                        | BatchOutcome.Waiting delay -> do! Task.Delay(delay, ct)
                        | BatchOutcome.Interrupted -> result <- Some(Error Cancelled)
                        | BatchOutcome.CaughtUp -> result <- Some(Ok())
                        | BatchOutcome.Handled _
                        | BatchOutcome.Inactive -> ()
                return result.Value
            with :? OperationCanceledException ->
                return Error Cancelled
        }

    let runner (slot: PmSlot) (ct: CancellationToken) : Task =
        task {
            try
                while not ct.IsCancellationRequested do
                    match! drive slot ct with
                    | BatchOutcome.Waiting delay ->
                        let! _ = slot.Wake.WaitAsync(delay, ct)
                        ()
                    | BatchOutcome.Interrupted -> ()
                    | _ -> do! slot.Wake.WaitAsync(ct)
            with :? OperationCanceledException ->
                ()
        }

    let control (name: string) (f: PmSlot -> unit) : Task<Result<unit, FableError>> =
        match find name with
        | Error e -> Task.FromResult(Error e)
        | Ok slot ->
            lock slot.Sync (fun () -> f slot)
            if slot.Wake.CurrentCount = 0 then slot.Wake.Release() |> ignore
            Task.FromResult(Ok())

    let reset (slot: PmSlot) (start: StartAt) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            try
                do! slot.Gate.WaitAsync(ct)
                try
                    match save slot.Def with
                    | Error e -> return Error e
                    | Ok json ->
                        let position = resolve start
                        lock slot.Sync (fun () ->
                            slot.Position <- position
                            slot.StateJson <- json
                            slot.Attempts <- 0
                            slot.RetryAt <- 0L)
                        return Ok()
                finally
                    slot.Gate.Release() |> ignore
            with :? OperationCanceledException ->
                return Error Cancelled
        }

    interface IProcessManagerHost with
        member _.Start(_ct) =
            lock startLock (fun () ->
                if isNull runners then
                    stopper <- new CancellationTokenSource()
                    engine.OnCommit <- Action wakeAll
                    let token = stopper.Token
                    runners <- [| for s in slots -> Task.Run(fun () -> runner s token) |])
            Task.CompletedTask

        member _.Stop() =
            let running =
                lock startLock (fun () ->
                    let r = runners
                    if not (isNull r) then
                        engine.OnCommit <- null
                        stopper.Cancel()
                        runners <- null
                    r)
            if isNull running then Task.CompletedTask
            else
                task {
                    do! Task.WhenAll running
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
            | Ok slot ->
                let struct (position, active, error, attempts, json) =
                    lock slot.Sync (fun () -> struct (slot.Position, slot.Active, slot.LastError, slot.Attempts, slot.StateJson))
                let running = lock startLock (fun () -> not (isNull runners))
                Task.FromResult(
                    Ok { Name = slot.Def.Name; Position = position; Lag = engine.CountAfter position; Active = active
                         LastError = error; Attempts = attempts; Holder = (if running then Some holder else None)
                         State = json })

        member _.Enable(name, _ct) =
            control name (fun s ->
                s.Active <- true
                s.LastError <- None
                s.Attempts <- 0
                s.RetryAt <- 0L)

        member _.Disable(name, _ct) = control name (fun s -> s.Active <- false)

        member _.Reset(name, start, ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok slot ->
                task {
                    let! r = reset slot start ct
                    if slot.Wake.CurrentCount = 0 then slot.Wake.Release() |> ignore
                    return r
                }

        member _.Rebuild(name, ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok slot ->
                task {
                    match! reset slot StartAt.Origin ct with
                    | Error e -> return Error e
                    | Ok() -> return! catchUpOne slot (engine.Head()) ct
                }
