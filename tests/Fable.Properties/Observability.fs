// Logging, tracing and metrics on every interpreter: the "Fable" ActivitySource's spans (names, tags, parent links),
// the "Fable" Meter's instruments (counters, histograms, the lag gauge) and the process-manager log events (levels,
// event ids, structured fields) through a capturing ILoggerFactory; nothing on stderr without a logger.
module Fable.Tests.Observability

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Diagnostics
open System.Diagnostics.Metrics
open System.IO
open System.Threading.Tasks
open Expecto
open Microsoft.Extensions.Logging
open Fable.FSharp
open Fable.FSharp.InMemory
open Fable.Tests.Domain
open Fable.Tests.Fixture
open Fable.Tests.Support

/// One captured log entry.
type Entry =
    { Category: string; Level: LogLevel; Event: EventId; Fields: IReadOnlyList<KeyValuePair<string, obj>>; Message: string }

    /// The structured field `name` (fails the test when absent).
    member e.Field(name: string) =
        match e.Fields |> Seq.tryFind (fun kv -> kv.Key = name) with
        | Some kv -> kv.Value
        | None -> failtestf "log event %O has no field %s: %A" e.Event name e.Fields

/// An ILoggerFactory that keeps every entry of every level.
type CapturingLoggers() =
    let entries = ConcurrentQueue<Entry>()
    member _.Entries = List.ofSeq entries
    interface ILoggerFactory with
        member _.CreateLogger(category) =
            { new ILogger with
                member _.BeginScope _ = { new IDisposable with member _.Dispose() = () }
                member _.IsEnabled _ = true
                member _.Log(level, id, state, ex, format) =
                    let fields =
                        match box state with
                        | :? IReadOnlyList<KeyValuePair<string, obj>> as l -> l
                        | _ -> [] :> IReadOnlyList<_>
                    entries.Enqueue { Category = category; Level = level; Event = id; Fields = fields; Message = format.Invoke(state, ex) } }
        member _.AddProvider _ = ()
        member _.Dispose() = ()

/// Captures the spans of the "Fable" source (and Npgsql's) that belong to the trace of a root activity.
type Spans() =
    static let testSource = new ActivitySource("Fable.Tests.Observability")
    let captured = ConcurrentQueue<Activity>()
    let listener =
        new ActivityListener(
            ShouldListenTo = (fun s -> s.Name = TelemetryNames.Source || s.Name = "Npgsql" || s.Name = testSource.Name),
            Sample = (fun _ -> ActivitySamplingResult.AllDataAndRecorded),
            ActivityStopped = (fun a -> captured.Enqueue a))
    do ActivitySource.AddActivityListener listener
    /// Starts the root of this test's trace (others' spans are told apart by their trace id).
    member _.Root() = testSource.StartActivity("test", ActivityKind.Internal)
    /// The stopped spans of `root`'s trace named `name`.
    member _.Named(root: Activity, name: string) =
        [ for a in captured do if a.TraceId = root.TraceId && a.OperationName = name then yield a ]
    /// Every stopped span named `name` whose tag `tag` is `value` (any trace: background runners start their own).
    member _.Tagged(name: string, tag: string, value: obj) =
        [ for a in captured do if a.OperationName = name && Object.Equals(a.GetTagItem tag, value) then yield a ]
    /// The stopped spans of `root`'s trace from `source`.
    member _.From(root: Activity, source: string) =
        [ for a in captured do if a.TraceId = root.TraceId && a.Source.Name = source then yield a ]
    interface IDisposable with
        member _.Dispose() = listener.Dispose()
    interface IAsyncDisposable with
        member _.DisposeAsync() = listener.Dispose(); ValueTask.CompletedTask

/// Captures the "Fable" meter's measurements.
type Measurements() =
    let captured = ConcurrentQueue<string * float * KeyValuePair<string, obj>[]>()
    let listener = new MeterListener()
    do
        listener.InstrumentPublished <- fun i l -> if i.Meter.Name = TelemetryNames.Meter then l.EnableMeasurementEvents i
        listener.SetMeasurementEventCallback<int64>(fun i v tags _ -> captured.Enqueue(i.Name, float v, tags.ToArray()))
        listener.SetMeasurementEventCallback<float>(fun i v tags _ -> captured.Enqueue(i.Name, v, tags.ToArray()))
        listener.Start()
    /// Collects the observable instruments (the lag gauge) now.
    member _.Observe() = listener.RecordObservableInstruments()
    /// The measurements of `instrument` whose tag `tag` is `value`, with their tags.
    member _.Of(instrument: string, tag: string, value: obj) =
        [ for (n, v, tags) in captured do
              if n = instrument && tags |> Array.exists (fun kv -> kv.Key = tag && Object.Equals(kv.Value, value)) then
                  yield v, dict [ for kv in tags -> kv.Key, kv.Value ] ]
    interface IDisposable with
        member _.Dispose() = listener.Dispose()

let private tag (a: Activity) (name: string) = a.GetTagItem name

/// An aggregate table of its own per fixture, so parallel tests' emits do not count in this one's metrics.
let private obsTable (fixture: Fixture) (test: string) = "obs_" + test + "_" + fixture.Name.Replace("-", "_")

let private obsAccounts fixture test = { accounts with Table = obsTable fixture test }

let private obsSpec fixture test =
    let n name (t: ColumnType) = TableDecl.nullable name t
    TableDecl.aggregate (obsTable fixture test) KeyType.Uuid
        [ n "owner" ColumnType.Text; n "balance" ColumnType.BigInt; n "event_count" ColumnType.BigInt
          n "closed" ColumnType.Boolean; n "notes" ColumnType.BigInt ]

/// A process manager that counts the events it handles and refuses the event whose id is in `failOn`.
let private counting (name: string) (policy: OnFailure) (failOn: int64 ref) =
    ProcessManager.create name 0L (fun n (inc: Incoming) -> if inc.Recorded.Id = failOn.Value then Error(FableError.reject "refused on purpose") else Ok(n + 1L))
    |> fun pm -> { pm with ErrorPolicy = policy }
    |> ProcessManager.erase

let private openAndDeposit (i: IInterpreter) (def: AggregateDef<Account>) (key: Guid) =
    run (Store.emitPure i def (accountKey key) (fun _ -> Ok [ box { Opened.Owner = "ada" } ]) ct) |> ok "open" |> ignore
    run (Store.emitPure i def (accountKey key) (fun _ -> Ok [ box { Amount = 5L; BalanceBefore = 0L } ]) ct) |> ok "deposit"

/// Spans and instruments on `fixture`.
let tests (fixture: Fixture) =
    let db = if fixture.Name = "postgres" then box TelemetryNames.Postgresql else null
    [ testCase "an emit is a fable.emit span with its table, key kind, event count and outcome; decide and each handler are its children" <| fun () ->
        use spans = new Spans()
        let inst = run (fixture.Create runtime (Domain.tables @ [ obsSpec fixture "spans" ]))
        try
            use root = spans.Root()
            let def = obsAccounts fixture "spans"
            let key = Guid.NewGuid()
            let emitted = openAndDeposit inst.Interpreter def key
            // A refusal and a conflict, in units of work of their own and inside Transact.
            run (Store.emitPure inst.Interpreter def (accountKey key) (fun _ -> Error(FableError.reject "no")) ct) |> err "refused" |> ignore
            run (Store.emit inst.Interpreter def (accountKey key) (Expected.At(Some 1L)) (Pure(fun _ -> Ok [ box { Closed.Reason = "x" } ])) ct)
            |> err "stale" |> ignore
            run (Store.transact inst.Interpreter (fun uow -> uow.Emit(def, accountKey key, Expected.Any, Pure(fun _ -> Ok [ box { Amount = 1L; BalanceBefore = 5L } ]), ct)) ct)
            |> ok "in a unit of work" |> ignore
            root.Stop()
            let emits = spans.Named(root, TelemetryNames.EmitSpan)
            Expect.equal emits.Length 5 "one span per emit (in a transaction of its own or in a unit of work)"
            for e in emits do
                Expect.equal e.ParentSpanId root.SpanId "the emit span is a child of the caller's current activity"
                Expect.equal (tag e TelemetryNames.AggregateTable) (box (obsTable fixture "spans")) "table"
                Expect.equal (tag e TelemetryNames.AggregateKeyKind) (box "uuid") "key kind"
                Expect.equal (tag e TelemetryNames.DbSystemName) db "db.system.name on PostgreSQL only"
            let outcomes = [ for e in emits -> string (tag e TelemetryNames.Outcome), tag e TelemetryNames.ErrorCode, tag e TelemetryNames.EventsCount ]
            Expect.equal outcomes
                [ "ok", null, box 1; "ok", null, box 1; "rejected", box 7001, null; "conflict", box 7002, null; "ok", null, box 1 ]
                "outcome, error code and event count of each emit, in order"
            Expect.equal emits[3].Status ActivityStatusCode.Error "a conflict marks the span as failed"
            Expect.equal emits[2].Status ActivityStatusCode.Unset "a refusal is a decision, not a failure of the span"
            let deposit = emits[1]
            let decides = spans.Named(root, TelemetryNames.DecideSpan)
            Expect.equal decides.Length 4 "one decide span per emit that got to decide (a stale expectation is refused before)"
            Expect.isTrue (decides |> List.forall (fun d -> emits |> List.exists (fun e -> e.SpanId = d.ParentSpanId))) "each decide span is a child of an emit span"
            let handlers = spans.Named(root, TelemetryNames.HandlerSpan)
            // The typed domain routes every case of its union to both reactions (ledger, notes), in registration order.
            Expect.equal [ for h in handlers -> string (tag h TelemetryNames.HandlerName), string (tag h TelemetryNames.EventType) ]
                [ "ledger", "account.opened"; "notes", "account.opened"
                  "ledger", "account.deposited"; "notes", "account.deposited"
                  "ledger", "account.deposited"; "notes", "account.deposited" ] "each handler ran once for each recorded event"
            Expect.equal handlers[0].ParentSpanId emits[0].SpanId "the handler span is a child of its emit's span"
            Expect.equal handlers[2].ParentSpanId deposit.SpanId "the deposit's handler spans are children of the deposit's emit span"
            Expect.equal (emitted.Events.Length) 1 "the deposit recorded one event"
        finally
            wait (inst.Dispose())

      testCase "emits count in fable.emits, fable.events, fable.conflicts and fable.errors by code, with their duration" <| fun () ->
        use measured = new Measurements()
        let inst = run (fixture.Create runtime (Domain.tables @ [ obsSpec fixture "metrics" ]))
        try
            let def = obsAccounts fixture "metrics"
            let key = Guid.NewGuid()
            openAndDeposit inst.Interpreter def key |> ignore
            run (Store.emitPure inst.Interpreter def (accountKey key) (fun _ -> Error(FableError.reject "no")) ct) |> err "refused" |> ignore
            run (Store.emit inst.Interpreter def (accountKey key) (Expected.At(Some 1L)) (Pure(fun _ -> Ok [])) ct) |> err "stale" |> ignore
            let outcomes =
                measured.Of(TelemetryNames.Emits, TelemetryNames.AggregateTable, obsTable fixture "metrics")
                |> List.map (fun (v, tags) -> string tags[TelemetryNames.Outcome], v) |> List.sort
            Expect.equal outcomes [ "conflict", 1.0; "ok", 1.0; "ok", 1.0; "rejected", 1.0 ] "every emit counted with its outcome"
            Expect.equal (measured.Of(TelemetryNames.Events, TelemetryNames.AggregateTable, obsTable fixture "metrics") |> List.sumBy fst) 2.0 "two events recorded"
            Expect.equal (measured.Of(TelemetryNames.Conflicts, TelemetryNames.AggregateTable, obsTable fixture "metrics") |> List.sumBy fst) 1.0 "one conflict"
            let durations = measured.Of(TelemetryNames.EmitDuration, TelemetryNames.AggregateTable, obsTable fixture "metrics")
            Expect.equal durations.Length 4 "a duration per emit"
            Expect.isTrue (durations |> List.forall (fun (v, _) -> v >= 0.0 && v < 60.0)) "durations in seconds"
            Expect.isNonEmpty (measured.Of(TelemetryNames.Errors, TelemetryNames.ErrorCode, box 7002)) "the conflict counts as error 7002"
        finally
            wait (inst.Dispose())

      testCase "a process-manager batch is a fable.process_manager.batch span; its duration, the commit-to-handled latency, the lag gauge and a stop are measured" <| fun () ->
        use spans = new Spans()
        use measured = new Measurements()
        let name = "obs-batch-" + fixture.Name
        let failOn = ref -1L
        let rt = runtimeWith [ counting name (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, Some 1)) failOn ]
        let inst = run (fixture.Create rt (Domain.tables @ [ obsSpec fixture "batch" ]))
        try
            use root = spans.Root()
            let host = inst.ProcessManagers
            run (host.Disable(name, ct)) |> ok "disable" |> ignore
            wait (host.Start ct)
            let def = obsAccounts fixture "batch"
            let key = Guid.NewGuid()
            let deposit = openAndDeposit inst.Interpreter def key
            settle inst
            measured.Observe()
            let lags = measured.Of(TelemetryNames.Lag, TelemetryNames.ProcessManagerName, name)
            Expect.isNonEmpty lags "the lag gauge reports the process manager while the host runs"
            Expect.isGreaterThanOrEqual (fst (List.last lags)) 2.0 "at least this test's two events wait after the checkpoint"
            run (host.Enable(name, ct)) |> ok "enable" |> ignore
            // The background runners handle the events (no CatchUp, which would run batches in this flow).
            let deadline = DateTime.UtcNow.AddSeconds 30.0
            while (run (host.Status(name, ct)) |> ok "status").Lag > 0L && DateTime.UtcNow < deadline do
                Threading.Thread.Sleep 10
            // The span ends just after the commit the status sees.
            while spans.Tagged(TelemetryNames.BatchSpan, TelemetryNames.ProcessManagerName, name).IsEmpty && DateTime.UtcNow < deadline do
                Threading.Thread.Sleep 10
            let batches = spans.Tagged(TelemetryNames.BatchSpan, TelemetryNames.ProcessManagerName, name)
            Expect.isTrue (batches |> List.forall (fun b -> b.TraceId <> root.TraceId)) "runners trace on their own, not under the activity that started them"
            let handled = batches |> List.filter (fun b -> tag b TelemetryNames.Outcome = box "ok")
            Expect.isNonEmpty handled "the runners ran a batch"
            let last = handled |> List.last
            Expect.equal (tag last TelemetryNames.PositionTo) (box (string deposit.Events.Head.Position)) "the batch ends at the deposit"
            Expect.isTrue (tag last TelemetryNames.PositionFrom <> null && tag last TelemetryNames.EventsCount <> null) "from position and event count"
            Expect.equal (tag last TelemetryNames.DbSystemName) db "db.system.name on PostgreSQL only"
            measured.Observe()
            Expect.equal (fst (List.last (measured.Of(TelemetryNames.Lag, TelemetryNames.ProcessManagerName, name)))) 0.0 "caught up: no lag"
            Expect.isNonEmpty (measured.Of(TelemetryNames.BatchDuration, TelemetryNames.ProcessManagerName, name)) "batch duration"
            let latencies = measured.Of(TelemetryNames.HandledLatency, TelemetryNames.ProcessManagerName, name)
            Expect.isGreaterThanOrEqual latencies.Length 2 "a latency per handled event"
            Expect.isTrue (latencies |> List.forall (fun (v, _) -> v >= 0.0 && v < 600.0)) "latencies in seconds"
            // A refused event: the policy allows one attempt, so the process manager stops (outcome stopped, 7001).
            // Disabled meanwhile: the background runner would otherwise handle the deposit before `failOn` names it.
            run (host.Disable(name, ct)) |> ok "disable before the refused event" |> ignore
            failOn.Value <- (openAndDeposit inst.Interpreter def (Guid.NewGuid())).Events.Head.Id
            run (host.Enable(name, ct)) |> ok "enable" |> ignore
            settle inst
            run (host.CatchUp ct) |> ok "catch up to the failure" |> ignore
            // The background runner may be the one that met the failure: its span ends just after the stop CatchUp saw.
            let stoppedSpans () =
                spans.Tagged(TelemetryNames.BatchSpan, TelemetryNames.ProcessManagerName, name)
                |> List.filter (fun b -> tag b TelemetryNames.Outcome = box "stopped")
            let deadline = DateTime.UtcNow.AddSeconds 30.0
            while (stoppedSpans ()).IsEmpty && DateTime.UtcNow < deadline do
                Threading.Thread.Sleep 10
            let stopped = stoppedSpans ()
            Expect.isNonEmpty stopped "the failing batch ends as stopped"
            Expect.equal (tag stopped.Head TelemetryNames.ErrorCode) (box 7001) "with the handler's error code"
            Expect.equal stopped.Head.Status ActivityStatusCode.Error "and an error status"
            root.Stop()
        finally
            wait (inst.Dispose())

      testCase "each partition of a partitioned process manager traces its batches with the fable.process_manager.partition tag i/N" <| fun () ->
        use spans = new Spans()
        let name = "obs-split-" + fixture.Name
        let rt = runtimeWith [ counting name OnFailure.Stop (ref -1L) |> ProcessManager.withPartitions 2 ]
        let inst = run (fixture.Create rt (Domain.tables @ [ obsSpec fixture "split" ]))
        try
            let def = obsAccounts fixture "split"
            for _ in 1..6 do
                openAndDeposit inst.Interpreter def (Guid.NewGuid()) |> ignore
            settle inst
            run (inst.ProcessManagers.CatchUp ct) |> ok "catch up" |> ignore
            for i in 0..1 do
                let partition = sprintf "%s#%d/2" name i
                let batches = spans.Tagged(TelemetryNames.BatchSpan, TelemetryNames.ProcessManagerName, partition)
                Expect.isNonEmpty batches (partition + ": its batches are traced under its own name")
                Expect.isTrue (batches |> List.forall (fun b -> tag b TelemetryNames.Partition = box (sprintf "%d/2" i))) (partition + ": each batch carries its partition")
        finally
            wait (inst.Dispose()) ]

/// An in-memory host logging through `loggers`.
let inMemoryHost (rt: Runtime) (loggers: ILoggerFactory) =
    let store = if isNull loggers then InMemoryStore.Create(rt) else InMemoryStore.Create(rt, loggerFactory = loggers)
    Task.FromResult(store.Interpreter, store.ProcessManagers, (fun () -> store.ProcessManagers.Stop()), (fun () -> Task.CompletedTask))

/// The process-manager log events of a host made by `make` (runtime, logger factory → interpreter, host, stop, settle).
let logTests (label: string) (make: Runtime -> ILoggerFactory -> Task<IInterpreter * IProcessManagerHost * (unit -> Task) * (unit -> Task)>) =
    let name = "obs-log-" + label
    testList label [
        testCase "takeover, retry (attempt and code), stop, control operations and release are logged with their level, event id and fields" <| fun () ->
            let loggers = new CapturingLoggers()
            let failOn = ref -1L
            let rt = runtimeWith [ counting name (OnFailure.Retry(TimeSpan.FromMilliseconds 20.0, Some 2)) failOn ]
            let i, host, stop, settleAll = run (make rt loggers)
            try
                let key = Guid.NewGuid()
                failOn.Value <- (run (Store.emitPure i accounts (accountKey key) (fun _ -> Ok [ box { Opened.Owner = "ada" } ]) ct) |> ok "open").Events.Head.Id
                wait (settleAll ())
                wait (host.Start ct)
                run (host.CatchUp ct) |> ok "catch up until stopped" |> ignore
                run (host.Disable(name, ct)) |> ok "disable" |> ignore
                run (host.Enable(name, ct)) |> ok "enable" |> ignore
                run (host.Reset(name, StartAt.Head, ct)) |> ok "reset" |> ignore
            finally
                wait (stop ())
            let mine = loggers.Entries |> List.filter (fun e -> e.Fields |> Seq.exists (fun kv -> kv.Key = "ProcessManager" && string kv.Value = name))
            let one (id: int) =
                match mine |> List.filter (fun e -> e.Event.Id = id) with
                | e :: _ -> e
                | [] -> failtestf "no log event %d among %A" id [ for e in mine -> e.Event, e.Message ]
            Expect.isTrue (mine |> List.forall (fun e -> e.Category = LogNames.ProcessManagers)) "category Fable.ProcessManagers"
            let acquired = one LogNames.RunnerAcquired
            Expect.equal (acquired.Level, acquired.Event.Name) (LogLevel.Information, "RunnerAcquired") "takeover: Information"
            Expect.isNotNull (acquired.Field "Runner") "the runner is a field"
            let retry = one LogNames.HandlerRetrying
            Expect.equal retry.Level LogLevel.Warning "retry: Warning"
            Expect.equal (retry.Field "Attempts", retry.Field "ErrorCode") (box 1, box 7001) "the attempt and the error code are fields"
            Expect.isNotNull (retry.Field "Position") "the position is a field"
            let stopped = one LogNames.ProcessManagerStopped
            Expect.equal stopped.Level LogLevel.Error "stop: Error"
            Expect.equal (stopped.Field "Attempts", stopped.Field "ErrorCode") (box 2, box 7001) "stopped after the second attempt"
            for id in [ LogNames.Disabled; LogNames.Enabled; LogNames.Reset; LogNames.RunnerReleased ] do
                Expect.equal (one id).Level LogLevel.Information (sprintf "event %d: Information" id)
    ]

/// No logger means nothing written to stderr (a host made by `make`, as in `logTests`).
let silentTests (label: string) (make: Runtime -> ILoggerFactory -> Task<IInterpreter * IProcessManagerHost * (unit -> Task) * (unit -> Task)>) =
    testList ("silent without a logger, " + label) [
        testCase "a failing, stopping process manager without a logger writes nothing to stderr" <| fun () ->
            let name = "obs-silent-" + label
            let failOn = ref -1L
            let rt = runtimeWith [ counting name OnFailure.Stop failOn ]
            let i, host, stop, settleAll = run (make rt null)
            let before = Console.Error
            use captured = new StringWriter()
            Console.SetError captured
            try
                try
                    failOn.Value <- (run (Store.emitPure i accounts (accountKey (Guid.NewGuid())) (fun _ -> Ok [ box { Opened.Owner = "x" } ]) ct) |> ok "open").Events.Head.Id
                    wait (settleAll ())
                    wait (host.Start ct)
                    run (host.CatchUp ct) |> ok "catch up" |> ignore
                    Expect.equal (run (host.Status(name, ct)) |> ok "status").Active false "the process manager stopped"
                finally
                    wait (stop ())
            finally
                Console.SetError before
            Expect.isFalse (captured.ToString().Contains name) "nothing about the process manager on stderr"
    ]
