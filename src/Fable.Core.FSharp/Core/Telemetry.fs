// Fable's traces and metrics (System.Diagnostics, OpenTelemetry-ready): one ActivitySource and one Meter named
// "Fable", the span, tag and instrument names, and the helpers both interpreters call. The only clock readings in
// Core are here (Stopwatch timestamps for durations); nothing is built when no listener is attached.
namespace Fable.FSharp

open System
open System.Collections.Generic
open System.Diagnostics
open System.Diagnostics.Metrics
open System.Threading.Tasks

/// The names Fable's traces and metrics use: subscribe with `AddSource(TelemetryNames.Source)` and
/// `AddMeter(TelemetryNames.Meter)` (both "Fable").
module TelemetryNames =
    /// The ActivitySource's name.
    [<Literal>]
    let Source = "Fable"
    /// The Meter's name.
    [<Literal>]
    let Meter = "Fable"
    /// A span per emit (its transaction's work on that aggregate; the commit too when the emit is the whole transaction).
    [<Literal>]
    let EmitSpan = "fable.emit"
    /// The decision of an emit (child of the emit span).
    [<Literal>]
    let DecideSpan = "fable.decide"
    /// One handler run for one event (child of the emit span).
    [<Literal>]
    let HandlerSpan = "fable.handler"
    /// One batch of a process manager (its handlers' own spans and emits are children).
    [<Literal>]
    let BatchSpan = "fable.process_manager.batch"
    /// Tag: the aggregate's table.
    [<Literal>]
    let AggregateTable = "fable.aggregate.table"
    /// Tag: the aggregate's key kind (uuid, int, text).
    [<Literal>]
    let AggregateKeyKind = "fable.aggregate.key_kind"
    /// Tag: how many events the emit recorded or the batch read.
    [<Literal>]
    let EventsCount = "fable.events.count"
    /// Tag: ok, rejected, conflict or error (emits); ok, retry, stopped, changed, cancelled or error (batches).
    [<Literal>]
    let Outcome = "fable.outcome"
    /// Tag: the FableError's numeric code (7001..7012).
    [<Literal>]
    let ErrorCode = "fable.error.code"
    /// Tag (OpenTelemetry convention): the FableError's stable name, e.g. fable.conflict.
    [<Literal>]
    let ErrorType = "error.type"
    /// Tag (OpenTelemetry database convention): "postgresql" on PostgreSQL spans.
    [<Literal>]
    let DbSystemName = "db.system.name"
    /// Tag: the event type name (handler spans).
    [<Literal>]
    let EventType = "fable.event.type"
    /// Tag: the handler's name (handler spans).
    [<Literal>]
    let HandlerName = "fable.handler.name"
    /// Tag: the process manager's name.
    [<Literal>]
    let ProcessManagerName = "fable.process_manager.name"
    /// Tag: the partition of a partitioned process manager ("index/count"; absent when it is not partitioned).
    [<Literal>]
    let Partition = "fable.process_manager.partition"
    /// Tag: the batch's checkpoint before it (tx:id).
    [<Literal>]
    let PositionFrom = "fable.position.from"
    /// Tag: the last event of the batch (tx:id).
    [<Literal>]
    let PositionTo = "fable.position.to"
    /// Counter: emits finished (tags: table, outcome).
    [<Literal>]
    let Emits = "fable.emits"
    /// Counter: events recorded by successful emits (tag: table).
    [<Literal>]
    let Events = "fable.events"
    /// Counter: emits refused with a Conflict (tag: table).
    [<Literal>]
    let Conflicts = "fable.conflicts"
    /// Counter: errors of emits and process-manager batches by code (tags: code, error.type).
    [<Literal>]
    let Errors = "fable.errors"
    /// Histogram (s): emit duration (tags: table, outcome).
    [<Literal>]
    let EmitDuration = "fable.emit.duration"
    /// Histogram (s): process-manager batch duration (tags: name, outcome).
    [<Literal>]
    let BatchDuration = "fable.process_manager.batch.duration"
    /// Histogram (s): from an event's commit (inserted_at) to its process manager's batch committing (tag: name).
    [<Literal>]
    let HandledLatency = "fable.process_manager.latency"
    /// Observable gauge ({event}): committed events after a process manager's checkpoint (tag: name).
    [<Literal>]
    let Lag = "fable.process_manager.lag"
    /// db.system.name of the PostgreSQL interpreter.
    [<Literal>]
    let Postgresql = "postgresql"

/// A process-manager batch being traced: started by `Telemetry.startBatch` (null when nobody listens).
[<AllowNullLiteral>]
type internal BatchTrace(name: string, activity: Activity, started: int64) =
    let mutable error: FableError option = None
    member _.Name = name
    member _.Activity = activity
    member _.Started = started
    /// The failure the batch recorded (its code goes on the span and in the errors counter).
    member _.Error with get () = error and set v = error <- v

/// The one ActivitySource and Meter of Fable, and the helpers the interpreters call.
module internal Telemetry =
    let private version = typeof<BatchTrace>.Assembly.GetName().Version.ToString()
    let source = new ActivitySource(TelemetryNames.Source, version)
    let meter = new Meter(TelemetryNames.Meter, version)
    let emits = meter.CreateCounter<int64>(TelemetryNames.Emits, "{emit}", "Emits finished")
    let events = meter.CreateCounter<int64>(TelemetryNames.Events, "{event}", "Events recorded by emits")
    let conflicts = meter.CreateCounter<int64>(TelemetryNames.Conflicts, "{emit}", "Emits refused with a conflict")
    let errors = meter.CreateCounter<int64>(TelemetryNames.Errors, "{error}", "Errors of emits and process-manager batches by code")
    let emitDuration = meter.CreateHistogram<float>(TelemetryNames.EmitDuration, "s", "Emit duration")
    let batchDuration = meter.CreateHistogram<float>(TelemetryNames.BatchDuration, "s", "Process-manager batch duration")
    let handledLatency = meter.CreateHistogram<float>(TelemetryNames.HandledLatency, "s", "From an event's commit to its process manager handling it")

    /// Lag providers of the live process-manager hosts (each gives (name, lag) pairs when observed).
    let private lagSources = List<unit -> seq<struct (string * int64)>>()

    /// The partition tag of process manager `name` ("index/count"), or None when it is not a partition.
    let partitionOf (name: string) =
        Partitioning.tryParseAny name |> Option.map (fun s -> sprintf "%d/%d" s.Index s.Count)

    /// The name tag of `name`, with its partition tag when it is a partition.
    let private pmTags (name: string) : KeyValuePair<string, obj>[] =
        let nameTag = KeyValuePair<string, obj>(TelemetryNames.ProcessManagerName, box name)
        match partitionOf name with
        | Some p -> [| nameTag; KeyValuePair<string, obj>(TelemetryNames.Partition, box p) |]
        | None -> [| nameTag |]

    let private observeLag () : seq<Measurement<int64>> =
        let providers = lock lagSources (fun () -> lagSources.ToArray())
        [ for p in providers do
              for struct (name, lag) in (try p () with _ -> Seq.empty) ->
                  Measurement<int64>(lag, pmTags name) ]
        :> seq<_>

    let private lagGauge =
        meter.CreateObservableGauge<int64>(TelemetryNames.Lag, Func<seq<Measurement<int64>>>(observeLag), "{event}", "Committed events after a process manager's checkpoint")

    /// Registers a host's lag provider (called only when the gauge is observed); dispose to remove it.
    let registerLag (provider: unit -> seq<struct (string * int64)>) : IDisposable =
        ignore lagGauge
        lock lagSources (fun () -> lagSources.Add provider)
        { new IDisposable with
            member _.Dispose() = lock lagSources (fun () -> lagSources.Remove provider |> ignore) }

    let private keyKindName (k: KeyType) =
        match k with
        | KeyType.Uuid -> "uuid"
        | KeyType.Int -> "int"
        | _ -> "text"

    let private outcomeOf (e: FableError) =
        match e with
        | Rejected _ -> "rejected"
        | Conflict _ -> "conflict"
        | _ -> "error"

    let private seconds (started: int64) = Stopwatch.GetElapsedTime(started).TotalSeconds

    /// Whether anything listens to emits (spans or emit instruments): check before building a traced emit.
    let emitObserved () =
        source.HasListeners() || emits.Enabled || emitDuration.Enabled || events.Enabled || conflicts.Enabled || errors.Enabled

    let private countError (e: FableError) =
        if errors.Enabled then
            errors.Add(1L, KeyValuePair<string, obj>(TelemetryNames.ErrorCode, box e.Code), KeyValuePair<string, obj>(TelemetryNames.ErrorType, box e.Name))

    let private tagError (a: Activity) (e: FableError) =
        a.SetTag(TelemetryNames.ErrorCode, e.Code).SetTag(TelemetryNames.ErrorType, e.Name) |> ignore
        match e with
        | Rejected _ -> ()
        | e -> a.SetStatus(ActivityStatusCode.Error, e.Name) |> ignore

    /// Runs the emit `body` on `table` in a "fable.emit" span (`db`: db.system.name, or null) and records its
    /// instruments. Call only when `emitObserved ()`.
    let traceEmit (db: string) (table: string) (kind: KeyType) (body: unit -> Task<Result<Emitted<'S>, FableError>>) : Task<Result<Emitted<'S>, FableError>> =
        task {
            let activity = source.StartActivity(TelemetryNames.EmitSpan, ActivityKind.Internal)
            if not (isNull activity) && activity.IsAllDataRequested then
                activity.SetTag(TelemetryNames.AggregateTable, table).SetTag(TelemetryNames.AggregateKeyKind, keyKindName kind) |> ignore
                if not (isNull db) then activity.SetTag(TelemetryNames.DbSystemName, db) |> ignore
            let started = Stopwatch.GetTimestamp()
            let mutable outcome = "error"
            try
                let! r = body ()
                let tableTag = KeyValuePair<string, obj>(TelemetryNames.AggregateTable, box table)
                match r with
                | Ok emitted ->
                    outcome <- "ok"
                    let n = emitted.Events.Length
                    if not (isNull activity) then activity.SetTag(TelemetryNames.EventsCount, n) |> ignore
                    if n > 0 && events.Enabled then events.Add(int64 n, tableTag)
                | Error e ->
                    outcome <- outcomeOf e
                    if not (isNull activity) then tagError activity e
                    countError e
                    match e with
                    | Conflict _ when conflicts.Enabled -> conflicts.Add(1L, tableTag)
                    | _ -> ()
                return r
            finally
                let tableTag = KeyValuePair<string, obj>(TelemetryNames.AggregateTable, box table)
                let outcomeTag = KeyValuePair<string, obj>(TelemetryNames.Outcome, box outcome)
                if emits.Enabled then emits.Add(1L, tableTag, outcomeTag)
                if emitDuration.Enabled then emitDuration.Record(seconds started, tableTag, outcomeTag)
                if not (isNull activity) then
                    activity.SetTag(TelemetryNames.Outcome, outcome).Dispose()
        }

    /// Detaches the current async flow from the caller's activity: background runners start their own traces
    /// instead of nesting every batch forever under whatever span was current when they were started.
    let detach () = Activity.Current <- null

    /// Starts a "fable.decide" span (null when nobody listens); `finish` ends it.
    let startDecide () : Activity =
        if source.HasListeners() then source.StartActivity(TelemetryNames.DecideSpan, ActivityKind.Internal) else null

    /// Starts a "fable.handler" span for `handler` of `eventType` (null when nobody listens); `finish` ends it.
    let startHandler (eventType: string) (handler: string) : Activity =
        if source.HasListeners() then
            let a = source.StartActivity(TelemetryNames.HandlerSpan, ActivityKind.Internal)
            if not (isNull a) && a.IsAllDataRequested then
                a.SetTag(TelemetryNames.EventType, eventType).SetTag(TelemetryNames.HandlerName, handler) |> ignore
            a
        else null

    /// Ends a decide or handler span with the step's result.
    let finish (a: Activity) (r: Result<'T, FableError>) =
        if not (isNull a) then
            match r with
            | Ok _ -> a.SetTag(TelemetryNames.Outcome, "ok") |> ignore
            | Error e -> a.SetTag(TelemetryNames.Outcome, outcomeOf e) |> ignore; tagError a e
            a.Dispose()

    /// Starts tracing a batch of `count` events of process manager `name` after `from` up to `last` (null when
    /// nobody listens to batches). `db`: db.system.name, or null.
    let startBatch (db: string) (name: string) (from: LogPosition) (last: LogPosition) (count: int) : BatchTrace =
        if source.HasListeners() || batchDuration.Enabled || handledLatency.Enabled || errors.Enabled then
            let a = source.StartActivity(TelemetryNames.BatchSpan, ActivityKind.Internal)
            if not (isNull a) && a.IsAllDataRequested then
                a.SetTag(TelemetryNames.ProcessManagerName, name)
                 .SetTag(TelemetryNames.PositionFrom, from.ToString())
                 .SetTag(TelemetryNames.PositionTo, last.ToString())
                 .SetTag(TelemetryNames.EventsCount, count) |> ignore
                match partitionOf name with
                | Some p -> a.SetTag(TelemetryNames.Partition, p) |> ignore
                | None -> ()
                if not (isNull db) then a.SetTag(TelemetryNames.DbSystemName, db) |> ignore
            BatchTrace(name, a, Stopwatch.GetTimestamp())
        else null

    /// Records the failure a batch ran into (its policy was applied).
    let batchFailed (t: BatchTrace) (e: FableError) = if not (isNull t) then t.Error <- Some e

    /// Ends a batch: `outcome` (ok, retry, stopped, changed, cancelled, error); for ok, `handled` are the events
    /// committed, observed at `now` (the interpreter's clock, for the commit-to-handled latency).
    let endBatch (t: BatchTrace) (outcome: string) (handled: StoredEvent[]) (now: DateTimeOffset) =
        if not (isNull t) then
            let tags = pmTags t.Name
            if batchDuration.Enabled then
                batchDuration.Record(seconds t.Started, Array.append tags [| KeyValuePair<string, obj>(TelemetryNames.Outcome, box outcome) |])
            if handledLatency.Enabled then
                for e in handled do
                    handledLatency.Record(max 0.0 (now - e.InsertedAt).TotalSeconds, tags)
            match t.Error with
            | Some e -> countError e
            | None -> ()
            let a = t.Activity
            if not (isNull a) then
                a.SetTag(TelemetryNames.Outcome, outcome) |> ignore
                match t.Error with
                | Some e -> a.SetTag(TelemetryNames.ErrorCode, e.Code).SetTag(TelemetryNames.ErrorType, e.Name) |> ignore
                | None -> ()
                // A handler's failure (a refusal included) is a failure of the batch.
                match outcome with
                | "retry" | "stopped" | "error" -> a.SetStatus(ActivityStatusCode.Error, outcome) |> ignore
                | _ -> ()
                a.Dispose()
