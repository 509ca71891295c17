// The benchmark rows: each measures Fable and its baseline in the same run and returns table lines
// with the ratio Fable / baseline; the Marten peer cells of rows 1–3.
module Fable.Bench.Rows

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp
open Fable.FSharp.InMemory
open Fable.FSharp.Postgres
open Fable.Bench.Harness
open Fable.Bench.Domain

/// One line of the result table. Emit rows fill all columns: Fable at its defaults, the strongest hand-written
/// baseline R2 (`Baseline`), the hand-written baseline with Fable's guarantees G (`Guarded`) and Fable tuned
/// (`Notify` off); other rows leave `Guarded` and `Tuned` at nan.
type Line =
    { Row: string
      Metric: string
      Fable: float
      Baseline: float
      Guarded: float
      Tuned: float
      Target: string }

    /// Fable / baseline.
    member this.Ratio = this.Fable / this.Baseline

/// A line of a row with one baseline.
let line row metric fable baseline target =
    { Row = row; Metric = metric; Fable = fable; Baseline = baseline; Guarded = nan; Tuned = nan; Target = target }

/// Timing of a run: warm-up, measured duration, events for the catch-up row.
type Timing =
    { Warmup: TimeSpan
      Duration: TimeSpan
      CatchUpEvents: int }

let private accountsCount = 10_000

/// The accounts of the store with NOTIFY on (row 6).
let notifyAccounts = accountsIn "fable_accounts_notify"

let private ok (r: Task<Result<'T, FableError>>) =
    task {
        match! r with
        | Ok v -> return v
        | Error e -> return failwithf "%O" e
    }

/// A Postgres store on `ds` in schema `schema`.
let store (ds: NpgsqlDataSource) (schema: string) (notify: bool) (pms: ProcessManagerDef list) =
    match Runtime.build (definition pms) with
    | Error e -> failwithf "%O" e
    | Ok rt -> ok (PostgresStore.Create(ds, rt, { Schema = schema; Notify = notify }))

/// Rows 1–3: emit throughput and latency of Fable at its defaults (`default`, Notify on) against baselines R2 and G
/// and Fable tuned (`tuned`, Notify off), all four measured in interleaved slices of the same run.
let emitRow (t: Timing) (ds: NpgsqlDataSource) (fable: IInterpreter) (tuned: IInterpreter) (name: string) (writers: int) (pick: int -> int64 -> int64) (events: int) =
    task {
        let decide = deposits events
        let! rs =
            loadInterleaved writers t.Warmup t.Duration 4
                [| (fun w i -> emitOn notifyAccounts fable (pick w i) decide)
                   (fun w i -> Baseline.emitR2 ds (pick w i) events)
                   (fun w i -> Baseline.emit ds (pick w i) events)
                   (fun w i -> emit tuned (pick w i) decide) |]
        let f, r2, g, tu = rs[0], rs[1], rs[2], rs[3]
        let mk metric (v: LoadResult -> float) target =
            { Row = name; Metric = metric; Fable = v f; Baseline = v r2; Guarded = v g; Tuned = v tu; Target = target }
        return
            [ mk "events/s" (fun r -> r.EventsPerSecond) "≥ 0.9× R2, ≥ 1.0× G"
              mk "p50 ms" (fun r -> r.Percentile 0.5) ""
              mk "p99 ms" (fun r -> r.Percentile 0.99) "" ]
    }

/// Fills the events table of `schema` with `n` events of distinct aggregates (a valid chain each), in bulk.
let bulkEvents (ds: NpgsqlDataSource) (schema: string) (n: int) =
    task {
        let q = "\"" + schema.Replace("\"", "\"\"") + "\""
        use cmd =
            ds.CreateCommand(
                sprintf
                    """
                    INSERT INTO %s.events (prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, meta, data, tx)
                    SELECT NULL, 'bulk', g::text, 'int', 'deposited', 1, '{}'::jsonb, '{"amount":1}'::jsonb, pg_current_xact_id()::text::bigint
                    FROM generate_series(1, $1) g
                    """
                    q
            )
        cmd.CommandTimeout <- 600
        cmd.Parameters.AddWithValue(int64 n) |> ignore
        let! _ = cmd.ExecuteNonQueryAsync()
        // VACUUM too, so that neither side of row 4 meets the hint-bit writes and autovacuum work that a fresh
        // bulk load leaves behind.
        use an = ds.CreateCommand(sprintf "VACUUM (ANALYZE) %s.events" q)
        an.CommandTimeout <- 600
        let! _ = an.ExecuteNonQueryAsync()
        ()
    }

/// Row 4: process-manager catch-up over the bulk events vs a raw keyset read of the same events.
let catchUpRow (t: Timing) (ds: NpgsqlDataSource) =
    task {
        let schema = "fable_catchup"
        let pm = counter "bench_catch_up" ignore
        let! s = store ds schema false [ pm ]
        do! bulkEvents ds schema t.CatchUpEvents
        let table = sprintf "\"%s\".events" schema
        let! raw = Baseline.keysetRead ds table 500 // warm the cache
        let! host = ok (PostgresProcessManagers.Create(s))
        let h = host :> IProcessManagerHost
        // Like the raw read, the catch-up runs once untimed (JIT, first-use costs). Then both are timed warm, four
        // times each in the order raw, catch-up, catch-up, raw (twice), so that load drifting during the row weighs
        // on both alike: Rebuild resets to the origin and returns once the whole log is handled again.
        do! ok (h.CatchUp CancellationToken.None)
        let mutable rawSeconds = 0.0
        let mutable pmSeconds = 0.0
        let rawTurn () =
            task {
                let sw = Stopwatch.StartNew()
                let! n = Baseline.keysetRead ds table 500
                if n <> raw then failwithf "the raw read found %d events, then %d" raw n
                rawSeconds <- rawSeconds + sw.Elapsed.TotalSeconds
            }
        let pmTurn () =
            task {
                let sw = Stopwatch.StartNew()
                do! ok (h.Rebuild("bench_catch_up", CancellationToken.None))
                pmSeconds <- pmSeconds + sw.Elapsed.TotalSeconds
            }
        for _ in 1..2 do
            do! rawTurn ()
            do! pmTurn ()
            do! pmTurn ()
            do! rawTurn ()
        let rawRate = float (4L * raw) / rawSeconds
        let pmRate = float (4L * raw) / pmSeconds
        let! st = ok (h.Status("bench_catch_up", CancellationToken.None))
        if st.Lag <> 0L then failwithf "catch-up left a lag of %d" st.Lag
        return [ line (sprintf "4. PM catch-up, %d events" raw) "events/s" pmRate rawRate "≥ 0.8×" ]
    }

/// Row 5: latency from an emit's commit to its handling by a process manager, at `rate` events/s.
let wakeRow (t: Timing) (ds: NpgsqlDataSource) (rate: float) =
    task {
        let committed = ConcurrentDictionary<int64, int64>()
        let handled = ConcurrentDictionary<int64, struct (int64 * LogPosition)>()
        let pm = counter "bench_wake" (fun r -> handled.TryAdd(r.Id, struct (Stopwatch.GetTimestamp(), r.Position)) |> ignore)
        let! s = store ds "fable_wake" true [ pm ]
        let wakeAccounts = accountsIn "fable_wake_accounts"
        do! setupTableOf wakeAccounts ds accountsCount
        let! host = ok (PostgresProcessManagers.Create(s, pollInterval = TimeSpan.FromSeconds 1.0))
        let h = host :> IProcessManagerHost
        do! h.Start CancellationToken.None
        let writers = 4
        let interval = TimeSpan.FromSeconds(float writers / rate)
        let stopAt = Stopwatch.GetTimestamp() + int64 ((t.Warmup + t.Duration).TotalSeconds * float Stopwatch.Frequency)
        let warmEnd = Stopwatch.GetTimestamp() + int64 (t.Warmup.TotalSeconds * float Stopwatch.Frequency)
        let writer w =
            task {
                let rnd = Random(w)
                let mutable next = Stopwatch.GetTimestamp()
                while Stopwatch.GetTimestamp() < stopAt do
                    match! Store.emit s wakeAccounts (AggregateKey.Int(int64 (rnd.Next(1, accountsCount + 1)))) Expected.Any (deposits 1) CancellationToken.None with
                    | Ok e ->
                        let now = Stopwatch.GetTimestamp()
                        if now > warmEnd then
                            for r in e.Events do committed.TryAdd(r.Id, now) |> ignore
                    | Error _ -> ()
                    next <- next + int64 (interval.TotalSeconds * float Stopwatch.Frequency)
                    let wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next)
                    if wait > TimeSpan.Zero then do! Task.Delay wait
            }
        do! Task.WhenAll [| for w in 1..writers -> Task.Run(fun () -> writer w :> Task) |]
        do! ok (h.CatchUp CancellationToken.None)
        do! h.Stop()
        // In log order, an event can be read no earlier than the last commit of the events before it: `ready` is
        // that moment (the no-skip horizon, as far as the writers' own stamps show it). Commit → ready is the wait
        // for older writers' transactions; ready → handled is the follower's own part (a writer's transaction
        // without an event before this one that holds the horizon counts in the follower's part).
        let inOrder =
            [| for KeyValue(id, c) in committed do
                   match handled.TryGetValue id with
                   | true, struct (h, position) -> yield struct (position, c, h)
                   | _ -> failwithf "event %d was never handled" id |]
            |> Array.sortBy (fun struct (position, _, _) -> position)
        let ms (a: int64) (b: int64) = max 0.0 (Stopwatch.GetElapsedTime(a, b).TotalMilliseconds)
        let readyAt = inOrder |> Array.scan (fun r struct (_, c, _) -> max r c) 0L |> Array.tail
        let sortedBy f = Array.map2 f inOrder readyAt |> Array.sort
        let total = sortedBy (fun struct (_, c, h) _ -> ms c h)
        let waiting = sortedBy (fun struct (_, c, _) ready -> ms c ready)
        let following = sortedBy (fun struct (_, _, h) ready -> ms ready h)
        let name = sprintf "5. wake-up at %.0f ev/s" rate
        return
            [ line name "p50 ms" (quantile 0.5 total) nan ""
              line name "p99 ms" (quantile 0.99 total) 10.0 "< 10 ms"
              line name "p99 ms waiting for older writers' commits" (quantile 0.99 waiting) nan ""
              line name "p99 ms from then to handled (the follower's part)" (quantile 0.99 following) nan "" ]
    }

/// Row 6: bytes allocated per single-event emit: Fable on Postgres and in memory vs baseline R2.
let allocationRows (ds: NpgsqlDataSource) (pg: IInterpreter) (mem: IInterpreter) (n: int) =
    task {
        let decide = deposits 1
        let! _ = allocationsPer 200 (fun i -> emitOn notifyAccounts pg (int64 (i % accountsCount + 1)) decide :> Task)
        let! fablePg = allocationsPer n (fun i -> emitOn notifyAccounts pg (int64 (i % accountsCount + 1)) decide :> Task)
        let! _ = allocationsPer 200 (fun i -> Baseline.emitR2 ds (int64 (i % accountsCount + 1)) 1 :> Task)
        let! basePg = allocationsPer n (fun i -> Baseline.emitR2 ds (int64 (i % accountsCount + 1)) 1 :> Task)
        // Ten times as many in memory: the store's log grows by chunks of 16,384 events and 1 M chars of text,
        // which a few thousand emits would count whole instead of their share.
        let! fableMem = allocationsPer (10 * n) (fun i -> emit mem (int64 (i % accountsCount + 1)) decide :> Task)
        return
            [ line "6. allocations / emit (Postgres)" "bytes" fablePg basePg ""
              line "6. allocations / emit (in-memory)" "bytes" fableMem basePg "" ]
    }

/// Row 7: throughput with NOTIFY on (Fable default) vs off, 8 writers, each on a fresh store and table.
let notifyRow (t: Timing) (ds: NpgsqlDataSource) =
    task {
        let decide = deposits 1
        let onAccounts, offAccounts = accountsIn "fable_notify_on_accounts", accountsIn "fable_notify_off_accounts"
        do! setupTableOf onAccounts ds accountsCount
        do! setupTableOf offAccounts ds accountsCount
        let! withNotify = store ds "fable_notify_on" true []
        let! without = store ds "fable_notify_off" false []
        let pick w (i: int64) = (int64 w * 7919L + i * 104729L) % int64 accountsCount + 1L
        let! on, off = loadAlternating 8 t.Warmup t.Duration 4 (fun w i -> emitOn onAccounts withNotify (pick w i) decide) (fun w i -> emitOn offAccounts without (pick w i) decide)
        return [ line "7. NOTIFY on / off, 8 writers" "events/s" on.EventsPerSecond off.EventsPerSecond "" ]
    }

/// In-memory emit rate on one writer (target ≥ 200,000 events/s on one core).
let inMemoryRow (t: Timing) (mem: IInterpreter) =
    task {
        let decide = deposits 1
        let pause0, counts0 = GC.GetTotalPauseDuration(), [| for g in 0..2 -> GC.CollectionCount g |]
        let! r = loadCounting t.Warmup t.Duration (fun i -> emit mem (i % int64 accountsCount + 1L) decide)
        let pause = GC.GetTotalPauseDuration() - pause0
        eprintfn "  in-memory: GC paused %.0f ms of %.0f s (collections gen0/1/2: %s), heap %d MB after"
            pause.TotalMilliseconds (t.Warmup + t.Duration).TotalSeconds
            (String.Join("/", [| for g in 0..2 -> GC.CollectionCount g - counts0[g] |])) (GC.GetTotalMemory(false) / 1_048_576L)
        return [ line "in-memory emit, 1 writer" "events/s" r.EventsPerSecond 200_000.0 "≥ 200,000/s" ]
    }

/// One line of the peer table: an emit row's events/s for Fable (default) and R2 beside Marten 9.58's M
/// (`FetchForWriting`) and MX (`FetchForExclusiveWriting`), inline snapshot, measured right after them on the
/// same server; `Missing` says why the Marten columns are empty.
type PeerLine =
    { Name: string
      FableRate: float
      R2Rate: float
      M: float
      MX: float
      Missing: string option }

/// The Marten cell of an emit row: runs the peer's M and MX (interleaved in the child) with the row's workload
/// (`random`, `hot` or `batch10`) and writers, and pairs them with the row's events/s line `emitLines.Head`.
let martenCell (t: Timing) (peer: MartenPeer) (workload: string) (writers: int) (emitLines: Line list) =
    task {
        let rates = emitLines.Head
        let rounds = if t.Duration < TimeSpan.FromSeconds 5.0 then 2 else 4
        let line m mx missing =
            { Name = rates.Row; FableRate = rates.Fable; R2Rate = rates.Baseline; M = m; MX = mx; Missing = missing }
        match runMarten peer workload writers [ "M"; "MX" ] t.Warmup t.Duration rounds with
        | Ok results ->
            let rate mode = results |> List.find (fun r -> r.Mode = mode)
            let m, mx = rate "M", rate "MX"
            eprintfn "  %s: Marten M %.0f ev/s (p99 %.1f ms, %d conflicts), MX %.0f ev/s (p99 %.1f ms, %d conflicts)"
                rates.Row m.EventsPerSecond m.P99 m.Conflicts mx.EventsPerSecond mx.P99 mx.Conflicts
            return line m.EventsPerSecond mx.EventsPerSecond None
        | Error why ->
            eprintfn "  %s: Marten peer missing: %s" rates.Row why
            return line nan nan (Some why)
    }
