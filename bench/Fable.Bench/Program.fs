// The benchmark runner: starts a durable throwaway PostgreSQL, measures every row against its baseline in one
// run and prints one table with ratios. `--quick` runs a few seconds per row (the CI smoke test);
// `--only 1,6,7` runs only the listed rows (1–9, and `mem` for the in-memory rate; 8 is the telemetry overhead) to iterate on one measure;
// `--no-marten` leaves out the Marten peer of rows 1–3 (bench/Fable.Bench.Marten, built on first use);
// `--alloc-types` also prints where a Postgres emit's allocations go (G's beside it) and an in-memory one's; `--cpu` where an
// emit's CPU goes (client and server, per contender: Fable at the defaults, Fable-quiet with Notify
// off, R2, G, G-npgsql-begin (G begun by Npgsql's BeginTransaction, as Fable must), G-no-reset and
// G-npgsql-begin-no-reset (the same on a data source with `No Reset On Close`: what Npgsql's reset of a connection
// returned to its pool costs; Fable's stores keep their connections and skip it), and Fable and R2 on a data source at Npgsql's defaults (no automatic preparation);
// `--cpu-only A,B` those of them, in that order;
// FABLE_CPU_WRITERS=N one writer count instead of 1 and 8; FABLE_CPU_EVENTS=N events per emit instead of 1;
// FABLE_CPU_ROUNDS=N rounds instead of 3); FABLE_WAKE_RATE=N runs row 5 at N events/s instead of half row 1's rate.
module Fable.Bench.Program

open System
open System.IO
open System.Threading
open Npgsql
open Fable.FSharp
open Fable.FSharp.InMemory
open Fable.Bench.Harness
open Fable.Bench.Server
open Fable.Bench.Domain
open Fable.Bench.Rows

/// The positive whole number environment variable `name` holds, None when it is not set (another value is refused).
let private envCount (name: string) =
    match Environment.GetEnvironmentVariable name with
    | null -> None
    | v ->
        match Int32.TryParse v with
        | true, n when n > 0 -> Some n
        | _ -> failwithf "%s=%s: expected a positive whole number (or leave it unset for the default)" name v

let private fmt (v: float) =
    if Double.IsNaN v then "-"
    elif abs v >= 1000.0 then v.ToString("N0")
    else v.ToString("0.00")

let private ratio (a: float) (b: float) =
    let r = a / b
    if Double.IsNaN r then "-" else r.ToString("0.00") + "×"

let private print (lines: Line list) =
    let rows =
        [ yield [ "row"; "metric"; "Fable"; "baseline"; "Fable/baseline"; "G"; "Fable/G"; "Fable tuned"; "tuned/baseline"; "target" ]
          for l in lines ->
              [ l.Row; l.Metric; fmt l.Fable; fmt l.Baseline; ratio l.Fable l.Baseline; fmt l.Guarded; ratio l.Fable l.Guarded
                fmt l.Tuned; ratio l.Tuned l.Baseline; l.Target ] ]
    let widths = [ for c in 0..9 -> rows |> List.map (fun r -> r[c].Length) |> List.max ]
    let line (r: string list) = "| " + String.Join(" | ", List.mapi (fun i (s: string) -> s.PadRight widths[i]) r) + " |"
    let out =
        [ yield line rows.Head
          yield "|" + String.Join("|", widths |> List.map (fun w -> String('-', w + 2))) + "|"
          for r in rows.Tail -> line r ]
    String.Join(Environment.NewLine, out)

/// The peer table: rows 1–3's events/s for Fable (default) and R2 beside Marten M and MX; the peer's absence and why.
let private printPeers (peers: PeerLine list) =
    let rows =
        [ yield [ "row"; "Fable ev/s"; "R2 ev/s"; "Marten M ev/s"; "Marten MX ev/s"; "Marten M ÷ R2"; "Marten MX ÷ R2"; "Fable ÷ MX"; "target" ]
          for p in peers ->
              [ p.Name; fmt p.FableRate; fmt p.R2Rate; fmt p.M; fmt p.MX; ratio p.M p.R2Rate; ratio p.MX p.R2Rate
                ratio p.FableRate p.MX; "≥ 1.5× MX" ] ]
    let widths = [ for c in 0..8 -> rows |> List.map (fun r -> r[c].Length) |> List.max ]
    let line (r: string list) = "| " + String.Join(" | ", List.mapi (fun i (s: string) -> s.PadRight widths[i]) r) + " |"
    // One line per distinct reason (a peer that did not build fails every row alike).
    let missing =
        peers
        |> List.choose (fun p -> p.Missing |> Option.map (fun why -> why, p.Name))
        |> List.groupBy fst
        |> List.map (fun (why, rows) -> sprintf "Marten peer rows missing (%s): %s" (String.Join("; ", List.map snd rows)) why)
    let out =
        [ yield line rows.Head
          yield "|" + String.Join("|", widths |> List.map (fun w -> String('-', w + 2))) + "|"
          for r in rows.Tail -> line r
          yield! missing ]
    String.Join(Environment.NewLine, out)

/// What the peer table's columns mean (written above it).
let private peerLegend =
    "Peer: Marten 9.58 (bench/Fable.Bench.Marten, its own process and Npgsql 9; the same server, 10,000 accounts, the "
    + "same Deposited payload), M = `FetchForWriting`, MX = `FetchForExclusiveWriting`, inline snapshot of the account; "
    + "M and MX interleaved in the child right after the row's Fable and R2 cells."

/// What the columns of the emit rows mean (written above the table).
let private legend =
    "Rows 1–3: Fable at the defaults a user gets (`PostgresStore.Create` / `UsePostgres(dataSource)`, Notify on); "
    + "baseline = R2, the strongest hand-written emit (2 round trips: `BEGIN; SELECT … FOR UPDATE`, then plain "
    + "`INSERT … VALUES`, guarded `UPDATE`, `COMMIT`); G = Fable's guarantees hand-written (Fable's events schema, "
    + "`tx` ordering key, unique chain, creators queued on a create lock, a row guard that raises before COMMIT); Fable tuned = Notify off. All four interleaved in the same run, on one data source "
    + "with automatic preparation (`Max Auto Prepare=50`; the hosting package sets 64 on a data source it makes; at "
    + "Npgsql's default of 0 every contender parses and plans each statement: `--cpu` shows what that costs)."

let private benchmark (argv: string[]) =
    let quick = argv |> Array.contains "--quick"
    let only =
        match Array.tryFindIndex ((=) "--only") argv with
        | Some i when i + 1 < argv.Length -> Some(set (argv[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)))
        | _ -> None
    let runs (row: string) = match only with Some rows -> rows.Contains row | None -> true
    let timing =
        if quick then { Warmup = TimeSpan.FromSeconds 0.5; Duration = TimeSpan.FromSeconds 2.0; CatchUpEvents = 20_000 }
        else { Warmup = TimeSpan.FromSeconds 3.0; Duration = TimeSpan.FromSeconds 15.0; CatchUpEvents = 1_000_000 }
    // `--only mem` needs no server: the in-memory rate (and its `--alloc-types`) alone, in seconds.
    let memOnly () =
        task {
            let rt = match Runtime.build (definition []) with Ok rt -> rt | Error e -> failwithf "%O" e
            let mem = InMemoryStore.Create(rt) :> IInterpreter
            let! r = inMemoryRow timing mem
            for l in r do eprintfn "  %s %s: Fable %s" l.Row l.Metric (fmt l.Fable)
            // On a shared machine the wall-clock rate follows the other tenants; the process's CPU time per emit
            // (GC included) and the bytes allocated per emit do much less.
            let decide = deposits 1
            let n = if quick then 300_000 else 1_000_000
            let proc = Diagnostics.Process.GetCurrentProcess()
            for _ in 1 .. 3 do
                let cpu0, bytes0, gcs0 = proc.TotalProcessorTime, GC.GetTotalAllocatedBytes false, GC.CollectionCount 0
                for i in 0 .. n - 1 do
                    emit mem (int64 (i % 10_000 + 1)) decide |> ignore
                proc.Refresh()
                let cpu = (proc.TotalProcessorTime - cpu0).TotalMilliseconds * 1000.0 / float n
                eprintfn "  in-memory, %d emits in a loop: %.2f µs CPU/emit (%.0f emits per CPU second), %.0f B/emit, %d gen0 GCs"
                    n cpu (1e6 / cpu) (float (GC.GetTotalAllocatedBytes false - bytes0) / float n) (GC.CollectionCount 0 - gcs0)
            if argv |> Array.contains "--alloc-types" then
                let decide = deposits 1
                let! _ = allocationsPer 200 (fun i -> emit mem (int64 (i % 10_000 + 1)) decide :> Threading.Tasks.Task)
                let! types = allocationTypes 200_000 (fun i -> emit mem (int64 (i % 10_000 + 1)) decide :> Threading.Tasks.Task)
                eprintfn "  where an in-memory emit's allocations go:"
                for (t, b) in List.truncate 25 types do
                    eprintfn "  %8.0f B/emit  %s" b t
            printfn "%s" (print r)
        }
    // A function, not a task value: a task starts (and would start its server) as soon as it is created.
    let run () =
        task {
            use server = new Server()
            use ds = (new NpgsqlDataSourceBuilder(server.ConnectionString + ";Max Auto Prepare=50;Auto Prepare Min Usages=2;Include Error Detail=true")).Build()
            do! setupTable ds 10_000
            do! setupTableOf notifyAccounts ds 10_000
            // Rows 5 and 7 re-create their tables; they exist from the start because every store checks them.
            for t in [ "fable_wake_accounts"; "fable_notify_on_accounts"; "fable_notify_off_accounts" ] do
                do! setupTableOf (accountsIn t) ds 10
            do! Baseline.setup ds 10_000
            do! Baseline.setupR2 ds 10_000
            // The machine's regime: CPU count and the durable server's commit latency, so that runs compare.
            let! commits = Baseline.commitLatencies ds (if quick then 300 else 2_000)
            let pct q = quantile q commits
            let regime =
                sprintf "Regime: %d CPUs; commit latency (single-row INSERT + COMMIT on the durable server, %d in a loop): median %.2f ms, p99 %.2f ms."
                    Environment.ProcessorCount commits.Length (pct 0.5) (pct 0.99)
            eprintfn "  %s" regime
            // `pg` is Fable as users get it (Notify on, the default); `pgQuiet` is tuned (Notify off).
            let! pg = store ds "fable_bench" true []
            let! pgQuiet = store ds "fable_bench_quiet" false []
            let rt = match Runtime.build (definition []) with Ok rt -> rt | Error e -> failwithf "%O" e
            let mem = InMemoryStore.Create(rt) :> IInterpreter
            let rnd = new ThreadLocal<Random>(fun () -> Random())
            let randomAccount _ _ = int64 (rnd.Value.Next(1, 10_001))
            let hot _ _ = 1L
            let lines = Collections.Generic.List<Line>()
            // The Marten peer of rows 1–3 (`--no-marten` leaves it out): built and seeded once, on first use.
            let peer =
                lazy
                    (if argv |> Array.contains "--no-marten" then Missing "left out (--no-marten)"
                     else prepareMarten server.ConnectionString 10_000)
            let peers = Collections.Generic.List<PeerLine>()
            let addPeer workload writers (ls: Line list) =
                task {
                    let! p = martenCell timing peer.Value workload writers ls
                    peers.Add p
                }
            let add (ls: Line list) =
                lines.AddRange ls
                for l in ls do eprintfn "  %s %s: Fable %s, baseline %s" l.Row l.Metric (fmt l.Fable) (fmt l.Baseline)
            // Rows 1–3 run Fable at its defaults (pg, Notify on) against R2 and G, with Fable tuned (pgQuiet, Notify
            // off) as an extra column; row 7 measures what NOTIFY costs.
            let mutable maxRate = nan
            if runs "1" then
                let! r = emitRow timing ds pg pgQuiet "1. emit 1 event, random of 10,000, 1 writer" 1 randomAccount 1
                add r
                do! addPeer "random" 1 r
                let! r8 = emitRow timing ds pg pgQuiet "1. emit 1 event, random of 10,000, 8 writers" 8 randomAccount 1
                add r8
                do! addPeer "random" 8 r8
                maxRate <- r8.Head.Fable
            if runs "2" then
                let! r = emitRow timing ds pg pgQuiet "2. emit to one hot aggregate, 1 writer" 1 hot 1
                add r
                do! addPeer "hot" 1 r
                let! r = emitRow timing ds pg pgQuiet "2. emit to one hot aggregate, 8 writers" 8 hot 1
                add r
                do! addPeer "hot" 8 r
            if runs "3" then
                let! r = emitRow timing ds pg pgQuiet "3. emit 10 events per decision, 8 writers" 8 randomAccount 10
                add r
                do! addPeer "batch10" 8 r
            if runs "4" then
                let! r = catchUpRow timing ds
                add r
            if runs "5" then
                // Half the maximum load row 1 measured (1,000 events/s when row 1 did not run), or FABLE_WAKE_RATE events/s
                // (to measure at the load of an earlier full run).
                let half = if Double.IsNaN maxRate then 1_000.0 else maxRate / 2.0
                let! r = wakeRow timing ds (envCount "FABLE_WAKE_RATE" |> Option.map float |> Option.defaultValue half)
                add r
            if runs "6" then
                let! r = allocationRows ds pg mem (if quick then 500 else 5_000)
                add r
            if runs "7" then
                let! r = notifyRow timing ds
                add r
            if runs "mem" then
                let! r = inMemoryRow timing mem
                add r
            if runs "8" then
                let! r = Fable.Bench.TelemetryRow.telemetryRows timing mem pgQuiet
                add r
            if runs "9" then
                let! r = Fable.Bench.PartitionRow.partitionRows quick server.ConnectionString ds
                add r
            // Where an emit's CPU goes, client and server, per contender; not part of the table.
            // `--cpu-only NAME` measures one of them alone (to profile it from outside, e.g. with perf).
            let cpuOnly = Array.tryFindIndex ((=) "--cpu-only") argv |> Option.bind (fun i -> Array.tryItem (i + 1) argv)
            if argv |> Array.contains "--cpu" || cpuOnly.IsSome then
                let pick (_: int) = int64 (rnd.Value.Next(1, 10_001))
                // Events per emit (FABLE_CPU_EVENTS, default 1): 10 shows where row 3's time goes.
                let k = envCount "FABLE_CPU_EVENTS" |> Option.defaultValue 1
                // Npgsql's defaults: no automatic preparation (the bench's own data source prepares after 2 uses).
                use plain = (new NpgsqlDataSourceBuilder(server.ConnectionString)).Build()
                // As `ds`, without the reset Npgsql prepends when a connection returned to the pool is taken again.
                use noReset = (new NpgsqlDataSourceBuilder(ds.ConnectionString + ";No Reset On Close=true")).Build()
                use! pgPlain = store plain "fable_bench" true []
                let contenders =
                    [ "R2", (fun i -> Baseline.emitR2 ds (pick i) k)
                      "R2-unprepared", (fun i -> Baseline.emitR2 plain (pick i) k)
                      "Fable-unprepared", (fun i -> emitOn notifyAccounts pgPlain (pick i) (deposits k))
                      "G", (fun i -> Baseline.emit ds (pick i) k)
                      "G-npgsql-begin", (fun i -> Baseline.emitWith true ds (pick i) k)
                      "G-no-reset", (fun i -> Baseline.emit noReset (pick i) k)
                      "G-npgsql-begin-no-reset", (fun i -> Baseline.emitWith true noReset (pick i) k)
                      "Fable", (fun i -> emitOn notifyAccounts pg (pick i) (deposits k))
                      "Fable-quiet", (fun i -> emit pgQuiet (pick i) (deposits k)) ]
                    |> fun all ->
                        // `--cpu-only A,B`: those contenders, in that order (order within a process matters).
                        match cpuOnly with
                        | None -> all
                        | Some names ->
                            [ for n in names.Split ',' ->
                                  match List.tryFind (fun (name, _) -> name = n) all with
                                  | Some c -> c
                                  | None -> failwithf "--cpu-only %s: no contender named %s (there are %s)" names n (String.Join(", ", List.map fst all)) ]
                let writerCounts = envCount "FABLE_CPU_WRITERS" |> Option.map List.singleton |> Option.defaultValue [ 1; 8 ]
                for writers in writerCounts do
                    do! Fable.Bench.CpuSplit.report writers k (if quick then 3_000 else 20_000) (envCount "FABLE_CPU_ROUNDS" |> Option.defaultValue 3) contenders
            // Where a Postgres emit's allocations go (sampled by type); not part of the table.
            if argv |> Array.contains "--alloc-types" then
                let decide = deposits 1
                let onStore (store: IInterpreter) = fun (i: int) -> emit store (int64 (i % 10_000 + 1)) decide :> Threading.Tasks.Task
                let emits =
                    [ "Postgres", onStore pgQuiet, 5_000
                      "G (for comparison)", (fun i -> Baseline.emit ds (int64 (i % 10_000 + 1)) 1 :> Threading.Tasks.Task), 5_000
                      "in-memory", onStore mem, 200_000 ]
                for (name, op, n) in emits do
                    let! _ = allocationsPer 200 op
                    let! types = allocationTypes n op
                    eprintfn "  where a %s emit's allocations go:" name
                    for (t, b) in List.truncate 25 types do
                        eprintfn "  %8.0f B/emit  %s" b t
            let table = print (List.ofSeq lines)
            let peerTable = if peers.Count = 0 then "" else sprintf "\n\n%s\n\n%s" peerLegend (printPeers (List.ofSeq peers))
            printfn "%s\n%s%s" regime table peerTable
            let machine =
                sprintf "%d cores, %s, .NET %s, %s" Environment.ProcessorCount (Runtime.InteropServices.RuntimeInformation.OSDescription)
                    (Environment.Version.ToString()) (if quick then "quick mode" else "full mode")
            // A partial run (--only) keeps the last complete results file.
            if only.IsNone then
                let file = Path.Combine(repoRoot (), "bench", if quick then "results-quick.md" else "results.md")
                File.WriteAllText(
                    file,
                    sprintf "Measured %s (%s).\n\n%s\n\n%s\n\n%s%s\n" (DateTime.UtcNow.ToString "yyyy-MM-dd HH:mm 'UTC'") machine regime legend table peerTable)
                printfn "results written to %s" file
        }
    try
        if only = Some(set [ "mem" ]) then memOnly().GetAwaiter().GetResult() else run().GetAwaiter().GetResult()
        0
    with e ->
        eprintfn "benchmark failed: %O" e
        1

[<EntryPoint>]
let main argv =
    // Row 9 relaunches this executable as a process-manager runner.
    if argv.Length > 0 && argv[0] = Fable.Bench.PartitionRow.RunnerFlag then Fable.Bench.PartitionRow.runRunner argv[1..]
    else benchmark argv
