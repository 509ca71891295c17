// The process-manager host on PostgreSQL (IProcessManagerHost): registers the runtime's process managers in the
// schema's process_managers table, runs one background runner per name (one holder system-wide through an
// advisory lock), catches up on demand, and controls process managers at runtime (enable, disable, reset, rebuild).
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Microsoft.Extensions.Logging
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// Runs the process managers of a `PostgresStore`'s runtime. Each follows the global log with the no-skip rule
/// (`ReadAll` below the snapshot horizon, in (tx, id) order); its handler's writes, new state and checkpoint
/// commit in one transaction, so database effects happen exactly once. Thread-safe.
type PostgresProcessManagers private (ctx: PmContext, pms: ProcessManagerDef list, runnerId: string, timing: PmTiming) =
    let byName = pms |> List.map (fun p -> p.Name, p) |> dict
    let wake = PmSignal()
    let progress = PmSignal()
    let gate = obj ()
    let mutable running: (CancellationTokenSource * Task) option = None
    // Emits committed through this process's store wake its runners at once, without a round trip through
    // NOTIFY (which still wakes runners in other processes).
    let mutable subscription: IDisposable option = None
    // This host's process managers in the lag gauge (fable.process_manager.lag), while started.
    let mutable lagGauge: IDisposable option = None
    let names = [| for p in pms -> p.Name |]

    let find (name: string) =
        match (if isNull name then (false, Unchecked.defaultof<_>) else byName.TryGetValue name) with
        | true, p -> Ok p
        | _ -> Error(ProcessManager.unknownName pms name)

    let withConnection (ct: CancellationToken) (work: NpgsqlConnection -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        task {
            try
                use! conn = ctx.Store.DataSource.OpenConnectionAsync ct
                return! work conn
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }

    /// Wakes runners here at once and in other processes through the store's channel.
    let notify (conn: NpgsqlConnection) (ct: CancellationToken) =
        task {
            let! _ =
                PmTable.execute conn null "SELECT pg_notify($1, '')"
                    [ NpgsqlParameter(Value = ctx.Store.Options.NotifyChannel, NpgsqlDbType = NpgsqlDbType.Text) ] ct
            wake.Set()
        }

    /// The stored state (jsonb, normalised by the server) in the process manager's own JSON form: Save (Load
    /// stored); the stored text when that fails.
    let canonical (pm: ProcessManagerDef) (stored: string) =
        match (try Ok(pm.Save(pm.Load stored)) with e -> Error e) with
        | Ok json when not (isNull json) -> json
        | _ -> stored

    let unknown (name: string) = Error(InvalidDefinition [ sprintf "process manager %s has no row in %s.process_managers" name ctx.Schema ])

    /// Applies the control operation `c` to `name` (one UPDATE), logs it and wakes the runners.
    let control (name: string) (c: Control) (ct: CancellationToken) =
        withConnection ct (fun conn ->
            task {
                let! n = PmTable.apply conn ctx.Schema name (ProcessManagerRules.effect c) ct
                if n = 0 then
                    return unknown name
                else
                    FableLog.control ctx.Log name c
                    do! notify conn ct
                    return Ok()
            })

    static let positionOf (interpreter: IInterpreter) (start: StartAt) (ct: CancellationToken) =
        Following.startPosition (fun () -> interpreter.Head ct) start

    /// Registers the process managers of the store's runtime (rows missing from the table are inserted at their
    /// StartAt; existing rows keep their checkpoint and state) and returns their host, not started.
    /// `runnerId` names this runner in Status (default: machine, process id and a random suffix);
    /// `pollInterval` bounds how long a runner waits before looking again without a notification and how often a
    /// waiting runner retries the lock (default 1 s); `loggerFactory` gives the "Fable.ProcessManagers" logger
    /// (takeovers, retries, stops, connection losses, control operations; nothing is logged without one).
    static member Create(store: PostgresStore, ?runnerId: string, ?pollInterval: TimeSpan, ?loggerFactory: ILoggerFactory, ?ct: CancellationToken) : Task<Result<PostgresProcessManagers, FableError>> =
        task {
            let ct = defaultArg ct CancellationToken.None
            let runnerId =
                defaultArg runnerId (sprintf "%s:%d:%s" Environment.MachineName Environment.ProcessId (Guid.NewGuid().ToString("N").Substring(0, 8)))
            let poll = defaultArg pollInterval (TimeSpan.FromSeconds 1.0)
            let log = FableLog.processManagers (Option.toObj loggerFactory)
            let pms = store.Runtime.ProcessManagers
            let problems =
                [ yield! ProcessManager.validateAll pms
                  if poll <= TimeSpan.Zero then yield "the process-manager poll interval must be positive"
                  if String.IsNullOrWhiteSpace runnerId then yield "the runner id is blank" ]
            if not problems.IsEmpty then
                return Error(InvalidDefinition problems)
            else
                let interpreter = store :> IInterpreter
                let ctx = { Store = store; Interpreter = interpreter; Schema = store.Options.Schema; Log = log }
                let mutable failure = None
                // A declaration whose stored partition count differs is refused before anything is registered (one
                // connection for every declaration).
                let layouts = pms |> List.map PmLayouts.groupOf |> List.distinct
                if not layouts.IsEmpty then
                    try
                        use! conn = store.DataSource.OpenConnectionAsync ct
                        for (group, layout) in layouts do
                            if failure.IsNone then
                                match! PmLayouts.check conn ctx.Schema group layout ct with
                                | Error e -> failure <- Some e
                                | Ok() -> ()
                    with e ->
                        failure <- Some(PgErrors.ofExn None ct e)
                for pm in pms do
                    if failure.IsNone then
                        match ProcessManagerRules.initial pm with
                        | Error e -> failure <- Some e
                        | Ok json ->
                            match! positionOf interpreter pm.StartAt ct with
                            | Error e -> failure <- Some e
                            | Ok start ->
                                try
                                    use! conn = store.DataSource.OpenConnectionAsync ct
                                    let! _ = PmTable.register conn ctx.Schema pm.Name json start ct
                                    ()
                                with e ->
                                    failure <- Some(PgErrors.ofExn None ct e)
                match failure with
                | Some e -> return Error e
                | None ->
                    let timing = { Poll = poll; Backoff = TimeSpan.FromMilliseconds 100.0 }
                    return Ok(new PostgresProcessManagers(ctx, pms, runnerId, timing))
        }

    /// Changes the stored partition count of process manager `name` to the one `store`'s runtime declares (an
    /// explicit operation: a declaration whose count differs from the stored one is refused by `Create`). In one
    /// transaction the old rows (`name`, or `name#i/N`) are replaced by the declared ones with the initial state,
    /// starting where the old rows stopped (`RepartitionFrom.Drained`: all old rows must be at the same checkpoint)
    /// or from the origin (`RepartitionFrom.Origin`: a rebuild). Conflict (retryable) while any runner, in any
    /// process, holds one of the old rows, or when drained rows are at different checkpoints; nothing changes then.
    static member Repartition(store: PostgresStore, name: string, from: RepartitionFrom, ?ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            let ct = defaultArg ct CancellationToken.None
            let members = store.Runtime.ProcessManagers |> List.filter (fun pm -> fst (PmLayouts.groupOf pm) = name)
            match members with
            | [] -> return Error(InvalidDefinition [ sprintf "no process manager named %s is declared in this store's runtime: declare it with the new partition count first" name ])
            | first :: _ ->
                match ProcessManagerRules.initial first with
                | Error e -> return Error e
                | Ok json ->
                    try
                        use! conn = store.DataSource.OpenConnectionAsync ct
                        return!
                            PmLayouts.repartition conn store.Options.Schema name (snd (PmLayouts.groupOf first)) json
                                [ for pm in members -> pm.Name ] from ct
                    with e ->
                        return Error(PgErrors.ofExn None ct e)
        }

    /// This runner's id (shown as the holder in Status while it holds a process manager).
    member _.RunnerId = runnerId

    /// The names of the registered process managers.
    member _.Names = pms |> List.map (fun p -> p.Name)

    /// Whether background runners are started in this host.
    member _.IsStarted = lock gate (fun () -> running.IsSome)

    interface IProcessManagerHost with
        member _.Start(ct) =
            lock gate (fun () ->
                if running.IsNone && not ct.IsCancellationRequested then
                    let cts = new CancellationTokenSource()
                    let token = cts.Token
                    subscription <- Some(ctx.Store.Committed.Subscribe(fun () -> wake.Set()))
                    lagGauge <- Some(Telemetry.registerLag (fun () -> PmTable.lags ctx.Store.DataSource ctx.Schema names 5 :> seq<_>))
                    let listener = Task.Run(fun () -> PmListener.run ctx wake token)
                    let shares =
                        pms
                        |> List.choose (fun pm -> match pm.Partitioning with PmPartitioning.Slot s -> Some(s.Group, s.Count) | _ -> None)
                        |> List.distinct
                        |> List.map (fun (g, n) -> g, new PmShare(ctx.Store.DataSource, ctx.Schema, g, n, timing.Poll))
                    let shareOf (pm: ProcessManagerDef) =
                        match pm.Partitioning with
                        | PmPartitioning.Slot s -> shares |> List.tryFind (fun (g, _) -> g = s.Group) |> Option.map snd
                        | _ -> None
                    let runners =
                        [ for pm in pms -> Task.Run(fun () -> PmRunner.run ctx pm (shareOf pm) runnerId timing wake progress token) ]
                    let all =
                        task {
                            try do! Task.WhenAll(listener :: runners)
                            finally
                                // Runners have released their partitions: leave the memberships (others take over).
                                for (_, s) in shares do s.Close()
                        }
                    running <- Some(cts, all :> Task))
            Task.CompletedTask

        member _.Stop() =
            task {
                let current =
                    lock gate (fun () ->
                        subscription |> Option.iter (fun d -> d.Dispose())
                        subscription <- None
                        lagGauge |> Option.iter (fun d -> d.Dispose())
                        lagGauge <- None
                        let r = running in running <- None; r)
                match current with
                | Some(cts, all) ->
                    cts.Cancel()
                    try do! all with _ -> ()
                    cts.Dispose()
                | None -> ()
            }

        member this.CatchUp(ct) = this.CatchUpAll(pms, ct)

        member _.Status(name, ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok pm ->
                withConnection ct (fun conn ->
                    task {
                        match! PmTable.status conn ctx.Schema pm.Name ct with
                        | Some s -> return Ok { s with State = canonical pm s.State }
                        | None -> return unknown pm.Name
                    })

        member _.ListStored(ct) =
            task {
                match! PostgresStatus.ListStored(ctx.Store.DataSource, ctx.Schema, ct) with
                | Error e -> return Error e
                | Ok all ->
                    return
                        Ok [ for s in all ->
                                 match byName.TryGetValue s.Name with
                                 | true, pm -> { s with State = canonical pm s.State }
                                 | _ -> s ]
            }

        member _.Enable(name, ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok pm -> control pm.Name Control.Enable ct

        member _.Disable(name, ct) =
            match find name with
            | Error e -> Task.FromResult(Error e)
            | Ok pm -> control pm.Name Control.Disable ct

        member this.Reset(name, start, ct) = this.ResetTo(name, start, false, ct)

        member this.Rebuild(name, ct) =
            task {
                match! this.ResetTo(name, StartAt.Origin, true, ct) with
                | Error e -> return Error e
                | Ok() -> return! this.CatchUpAll([ byName[name] ], ct)
            }

    /// Waits until each of `targets` has handled every event committed before the call (or is stopped): through
    /// the local runners when started, else handling inline under the lock (or waiting for whoever holds it).
    member private this.CatchUpAll(targets: ProcessManagerDef list, ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            match! withConnection ct (fun conn -> task { let! p = PmTable.lastCommitted conn ctx.Schema ct in return Ok p }) with
            | Error e -> return Error e
            | Ok target ->
                let started = this.IsStarted
                let waitPoll = if timing.Poll < TimeSpan.FromMilliseconds 50.0 then timing.Poll else TimeSpan.FromMilliseconds 50.0
                let! results =
                    Task.WhenAll
                        [ for pm in targets ->
                              if started then PmCatchUp.wait ctx pm target waitPoll progress ct
                              else PmCatchUp.inline' ctx pm runnerId target waitPoll progress ct ]
                return
                    results
                    |> Array.tryPick (function Error e -> Some e | Ok() -> None)
                    |> function Some e -> Error e | None -> Ok()
        }

    /// Moves `name` to `start` with its initial state (waiting for a batch in flight); `rebuild`: to the origin, active.
    member private _.ResetTo(name: string, start: StartAt, rebuild: bool, ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            match find name |> Result.bind (fun pm -> ProcessManagerRules.initial pm |> Result.map (fun j -> pm, j)) with
            | Error e -> return Error e
            | Ok(pm, json) ->
                match! positionOf ctx.Interpreter start ct with
                | Error e -> return Error e
                | Ok position ->
                    let c = if rebuild then Control.Rebuild json else Control.Reset(position, json)
                    return! control pm.Name c ct
        }

    interface IAsyncDisposable with
        /// Stops the runners.
        member this.DisposeAsync() = ValueTask((this :> IProcessManagerHost).Stop())
