// Row 8: what tracing and metrics cost an emit. The same emits run in alternating slices without any listener and
// with an ActivityListener (every "Fable" span sampled and recorded) plus a MeterListener (every "Fable" instrument
// measured) attached, as an OpenTelemetry SDK would; the ratio is with / without.
module Fable.Bench.TelemetryRow

open System
open System.Diagnostics
open System.Diagnostics.Metrics
open System.Threading
open System.Threading.Tasks
open Fable.FSharp
open Fable.Bench.Harness
open Fable.Bench.Domain
open Fable.Bench.Rows

/// Listeners on the "Fable" source and meter, counting what they receive; dispose to detach them.
type private Listeners() =
    let mutable spans = 0L
    let mutable measurements = 0L
    let activities =
        new ActivityListener(
            ShouldListenTo = (fun s -> s.Name = TelemetryNames.Source),
            Sample = (fun _ -> ActivitySamplingResult.AllDataAndRecorded),
            ActivityStopped = (fun _ -> Interlocked.Increment &spans |> ignore))
    let meters = new MeterListener()
    do
        ActivitySource.AddActivityListener activities
        meters.InstrumentPublished <- fun i l -> if i.Meter.Name = TelemetryNames.Meter then l.EnableMeasurementEvents i
        meters.SetMeasurementEventCallback<int64>(fun _ _ _ _ -> Interlocked.Increment &measurements |> ignore)
        meters.SetMeasurementEventCallback<float>(fun _ _ _ _ -> Interlocked.Increment &measurements |> ignore)
        meters.Start()
    member _.Spans = spans
    member _.Measurements = measurements
    interface IDisposable with
        member _.Dispose() =
            activities.Dispose()
            meters.Dispose()

/// `op` measured in `rounds` alternating slices without and with listeners: (with, without).
let private alternate (t: Timing) (workers: int) (rounds: int) (op: int -> int64 -> Task<int>) =
    task {
        let slice = TimeSpan.FromTicks(t.Duration.Ticks / int64 rounds)
        let mutable without = None
        let mutable withL = None
        let mutable seen = 0L
        let add (acc: LoadResult option) (r: LoadResult) = Some(match acc with Some x -> merge x r | None -> r)
        let bare warm = task { let! r = load workers warm slice op in without <- add without r }
        let listened warm =
            task {
                use l = new Listeners()
                let! r = load workers warm slice op
                withL <- add withL r
                seen <- seen + l.Spans
            }
        for round in 0 .. rounds - 1 do
            let warm = if round = 0 then t.Warmup else TimeSpan.FromTicks(t.Warmup.Ticks / 4L)
            if round % 2 = 0 then
                do! bare warm
                do! listened warm
            else
                do! listened warm
                do! bare warm
        if seen = 0L then failwith "the listeners received no span: telemetry is not wired"
        return withL.Value, without.Value
    }

/// Row 8 on the in-memory interpreter (1 writer) and on PostgreSQL (8 writers): events/s with listeners vs without.
/// The ≥ 0.95× target is the PostgreSQL line's: an in-memory emit takes microseconds, as long as its spans do, so
/// that line has none (docs/observability.md, Cost).
let telemetryRows (t: Timing) (mem: IInterpreter) (pg: IInterpreter) =
    task {
        let decide = deposits 1
        let rnd = new ThreadLocal<Random>(fun () -> Random())
        let! m, m0 = alternate t 1 4 (fun _ i -> emit mem (i % 10_000L + 1L) decide)
        let! p, p0 = alternate t 8 4 (fun _ _ -> emit pg (int64 (rnd.Value.Next(1, 10_001))) decide)
        return
            [ line "8. in-memory emit with trace + metric listeners vs none, 1 writer" "events/s" m.EventsPerSecond m0.EventsPerSecond ""
              line "8. PostgreSQL emit with trace + metric listeners vs none, 8 writers" "events/s" p.EventsPerSecond p0.EventsPerSecond "≥ 0.95×" ]
    }
