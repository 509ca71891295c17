// Measurement plumbing for the benchmark runner: closed-loop load with
// N concurrent workers for a fixed time, latency percentiles and allocation counts; the Marten peer as a child process.
module Fable.Bench.Harness

open System
open System.Diagnostics
open System.IO
open System.Threading
open System.Threading.Tasks

/// The q-quantile (q in 0..1) of `sorted` (ascending); NaN when it is empty.
let quantile (q: float) (sorted: float[]) =
    if sorted.Length = 0 then nan else sorted[min (sorted.Length - 1) (int (q * float sorted.Length))]

/// The result of one load run.
type LoadResult =
    { Operations: int64
      Events: int64
      Seconds: float
      /// Latencies of single operations in milliseconds (sorted).
      Latencies: float[] }

    member this.EventsPerSecond = float this.Events / this.Seconds

    /// The q-quantile latency in ms (q in 0..1).
    member this.Percentile(q: float) = quantile q this.Latencies

/// Runs `op` in a closed loop on `workers` concurrent tasks for `duration` after `warmup`;
/// each call returns how many events it recorded (0 for a failed operation, which is counted as an error).
let load (workers: int) (warmup: TimeSpan) (duration: TimeSpan) (op: int -> int64 -> Task<int>) =
    task {
        let stop = ref false
        let measuring = ref false
        let ops = Array.zeroCreate<int64> workers
        let events = Array.zeroCreate<int64> workers
        let lats = Array.init workers (fun _ -> Collections.Generic.List<float>(100_000))
        let worker w =
            task {
                let mutable i = 0L
                while not stop.Value do
                    let t0 = Stopwatch.GetTimestamp()
                    let! n = op w i
                    let ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds
                    if measuring.Value then
                        ops[w] <- ops[w] + 1L
                        events[w] <- events[w] + int64 n
                        lats[w].Add ms
                    i <- i + 1L
            }
        let tasks = [| for w in 0 .. workers - 1 -> Task.Run(fun () -> worker w :> Task) |]
        do! Task.Delay warmup
        measuring.Value <- true
        let sw = Stopwatch.StartNew()
        do! Task.Delay duration
        measuring.Value <- false
        let secs = sw.Elapsed.TotalSeconds
        stop.Value <- true
        do! Task.WhenAll tasks
        let all = lats |> Array.collect (fun l -> l.ToArray())
        Array.sortInPlace all
        return { Operations = Array.sum ops; Events = Array.sum events; Seconds = secs; Latencies = all }
    }

/// Runs `op` in a closed loop on one task for `duration` after `warmup` and counts the events, without recording
/// latencies (at hundreds of thousands of operations a second, a latency list would weigh on the GC being measured).
let loadCounting (warmup: TimeSpan) (duration: TimeSpan) (op: int64 -> Task<int>) =
    task {
        let mutable i = 0L
        let warm = Stopwatch.StartNew()
        while warm.Elapsed < warmup do
            let! _ = op i
            i <- i + 1L
        let mutable events = 0L
        let mutable ops = 0L
        let sw = Stopwatch.StartNew()
        while sw.Elapsed < duration do
            let! n = op i
            events <- events + int64 n
            ops <- ops + 1L
            i <- i + 1L
        return { Operations = ops; Events = events; Seconds = sw.Elapsed.TotalSeconds; Latencies = [||] }
    }

/// Two results of one operation as one: the sums of counts and measured seconds, all latencies.
let merge (a: LoadResult) (b: LoadResult) =
    { Operations = a.Operations + b.Operations
      Events = a.Events + b.Events
      Seconds = a.Seconds + b.Seconds
      Latencies = Array.append a.Latencies b.Latencies |> Array.sort }

/// Measures `a` and `b` in alternating slices (a b, b a, a b, ...) that add up to `duration` each, so that a
/// machine whose load drifts during the run (shared hosts) weighs on both alike. The first slice of each warms
/// up for `warmup`, later ones for a quarter of it.
let loadAlternating (workers: int) (warmup: TimeSpan) (duration: TimeSpan) (rounds: int) (a: int -> int64 -> Task<int>) (b: int -> int64 -> Task<int>) =
    task {
        let slice = TimeSpan.FromTicks(duration.Ticks / int64 rounds)
        let mutable ra = None
        let mutable rb = None
        let add (acc: LoadResult option) (r: LoadResult) = Some(match acc with Some x -> merge x r | None -> r)
        for round in 0 .. rounds - 1 do
            let w = if round = 0 then warmup else TimeSpan.FromTicks(warmup.Ticks / 4L)
            if round % 2 = 0 then
                let! x = load workers w slice a
                ra <- add ra x
                let! y = load workers w slice b
                rb <- add rb y
            else
                let! y = load workers w slice b
                rb <- add rb y
                let! x = load workers w slice a
                ra <- add ra x
        return ra.Value, rb.Value
    }

/// Measures every operation of `ops` in interleaved slices (in order, then in reverse order, ...) that add up to
/// `duration` each, so that load drifting during the run weighs on all alike; one result per operation.
let loadInterleaved (workers: int) (warmup: TimeSpan) (duration: TimeSpan) (rounds: int) (ops: (int -> int64 -> Task<int>)[]) =
    task {
        let slice = TimeSpan.FromTicks(duration.Ticks / int64 rounds)
        let results: LoadResult option[] = Array.create ops.Length None
        for round in 0 .. rounds - 1 do
            let w = if round = 0 then warmup else TimeSpan.FromTicks(warmup.Ticks / 4L)
            let order = if round % 2 = 0 then [ 0 .. ops.Length - 1 ] else [ ops.Length - 1 .. -1 .. 0 ]
            for k in order do
                let! r = load workers w slice ops[k]
                results[k] <- Some(match results[k] with Some x -> merge x r | None -> r)
        return results |> Array.map Option.get
    }

/// Bytes allocated by the whole process while `f` runs `n` times, divided by n.
let allocationsPer (n: int) (f: int -> Task) =
    task {
        GC.Collect()
        let before = GC.GetTotalAllocatedBytes(true)
        for i in 0 .. n - 1 do
            do! f i
        let after = GC.GetTotalAllocatedBytes(true)
        return float (after - before) / float n
    }

/// Samples the runtime's allocation ticks (one per ~100 KB allocated) by type name.
type private AllocationSampler() =
    inherit Diagnostics.Tracing.EventListener()
    member val Recording = false with get, set
    member val Bytes = Collections.Concurrent.ConcurrentDictionary<string, int64>()

    override this.OnEventSourceCreated(source) =
        if source.Name = "Microsoft-Windows-DotNETRuntime" then
            // Keyword 0x1: GC events, among them GCAllocationTick.
            this.EnableEvents(source, Diagnostics.Tracing.EventLevel.Verbose, LanguagePrimitives.EnumOfValue 1L)

    override this.OnEventWritten(e) =
        if this.Recording && e.EventName = "GCAllocationTick_V4" then
            let name = string e.Payload[e.PayloadNames.IndexOf "TypeName"]
            let amount = Convert.ToInt64(e.Payload[e.PayloadNames.IndexOf "AllocationAmount64"])
            this.Bytes.AddOrUpdate(name, amount, fun _ v -> v + amount) |> ignore

/// Runs `f` `n` times and returns the sampled bytes per call by allocated type, largest first (`--alloc-types`).
let allocationTypes (n: int) (f: int -> Task) =
    task {
        use sampler = new AllocationSampler()
        sampler.Recording <- true
        for i in 0 .. n - 1 do
            do! f i
        sampler.Recording <- false
        return
            [ for KeyValue(t, b) in sampler.Bytes -> t, float b / float n ]
            |> List.sortByDescending snd
    }

/// Finds the repository root (the folder with Fable.sln).
let repoRoot () =
    let rec up (d: DirectoryInfo) =
        if isNull d then failwith "Fable.sln not found above the current folder"
        elif File.Exists(Path.Combine(d.FullName, "Fable.sln")) then d.FullName
        else up d.Parent
    up (DirectoryInfo(AppContext.BaseDirectory))

/// Runs `file` with `args` (passed as separate arguments, so a connection string needs no quoting) for at most
/// `timeout`; the exit code (-1 when killed on timeout), stdout and stderr.
let runProcess (file: string) (args: string list) (timeout: TimeSpan) =
    let psi = ProcessStartInfo(file, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in args do psi.ArgumentList.Add a
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if p.WaitForExit timeout then
        p.WaitForExit()
        p.ExitCode, out.Result, err.Result
    else
        p.Kill true
        p.WaitForExit()
        -1, out.Result, err.Result + sprintf "\n(killed after %.0f s)" timeout.TotalSeconds

/// The Marten 9.58 peer (bench/Fable.Bench.Marten), run as its own process so that its Npgsql 9 never meets Fable's
/// Npgsql 10: ready (the built assembly and the server's connection string) or missing, and why.
type MartenPeer =
    | Ready of dll: string * connection: string
    | Missing of reason: string

/// One result line of the peer: `marten-result mode=M ... events_per_s=... p50_ms=... p99_ms=... conflicts=...`.
type PeerResult =
    { Mode: string
      EventsPerSecond: float
      P50: float
      P99: float
      Conflicts: int64 }

/// The last `n` non-empty lines of a process's output (for "why it is missing").
let private tail (n: int) (text: string) =
    let lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    String.Join(" / ", lines |> Array.skip (max 0 (lines.Length - n)))

/// Builds the peer when its assembly is missing or older than its sources (`dotnet build -c Release`, NuGet's own
/// restore: Paket's feed metadata lacks Marten's dependency graph), then creates its schema and seeds `aggregates`
/// streams on the server of `connection`. Never throws: a peer that does not build or set up is `Missing`.
let prepareMarten (connection: string) (aggregates: int) =
    try
        let dir = Path.Combine(repoRoot (), "bench", "Fable.Bench.Marten")
        let proj = Path.Combine(dir, "Fable.Bench.Marten.csproj")
        let dll = Path.Combine(dir, "bin", "Release", "net10.0", "Fable.Bench.Marten.dll")
        let sources = [ proj; Path.Combine(dir, "Program.cs") ]
        let stale =
            not (File.Exists dll)
            || sources |> List.exists (fun f -> File.GetLastWriteTimeUtc f > File.GetLastWriteTimeUtc dll)
        let built =
            if not (File.Exists proj) then Error(sprintf "%s not found" proj)
            elif not stale then Ok()
            else
                eprintfn "  building the Marten peer (dotnet build %s -c Release)" proj
                match runProcess "dotnet" [ "build"; proj; "-c"; "Release"; "-nologo"; "-v"; "quiet"; "-clp:ErrorsOnly" ] (TimeSpan.FromMinutes 10.0) with
                | 0, _, _ -> Ok()
                | code, out, err ->
                    // The compiler's and NuGet's error lines say why; the summary after them does not.
                    let errors =
                        (out + "\n" + err).Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
                        |> Array.filter (fun l -> l.Contains ": error ")
                        |> Array.distinct
                    let why = if errors.Length > 0 then String.Join(" / ", Array.truncate 3 errors) else tail 5 (out + "\n" + err)
                    Error(sprintf "dotnet build of the peer exited with %d: %s" code why)
        match built with
        | Error why -> Missing why
        | Ok() ->
            match runProcess "dotnet" [ dll; "setup"; "--connection"; connection; "--aggregates"; string aggregates ] (TimeSpan.FromMinutes 5.0) with
            | 0, _, _ -> Ready(dll, connection)
            | code, out, err -> Missing(sprintf "the peer's setup exited with %d: %s" code (tail 3 (out + "\n" + err)))
    with e ->
        Missing(sprintf "the peer could not be started: %s" e.Message)

/// Runs the peer's modes `modes` (M and/or MX, interleaved in `rounds` slices inside the child) on `workload`
/// (random, hot or batch10) with `writers` writers: one result per mode, or why there is none.
let runMarten (peer: MartenPeer) (workload: string) (writers: int) (modes: string list) (warmup: TimeSpan) (duration: TimeSpan) (rounds: int) =
    match peer with
    | Missing why -> Error why
    | Ready(dll, connection) ->
        let inv (v: float) = v.ToString(Globalization.CultureInfo.InvariantCulture)
        let args =
            [ dll; "run"; "--connection"; connection; "--workload"; workload; "--writers"; string writers
              "--modes"; String.Join(",", modes); "--warmup"; inv warmup.TotalSeconds; "--duration"; inv duration.TotalSeconds
              "--rounds"; string rounds ]
        let limit = TimeSpan.FromSeconds(120.0) + (warmup + duration) * float (2 * List.length modes)
        match runProcess "dotnet" args limit with
        | 0, out, _ ->
            let parse (line: string) =
                let kv =
                    line.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                    |> Array.choose (fun p -> match p.Split('=', 2) with [| k; v |] -> Some(k, v) | _ -> None)
                    |> dict
                let num k = Double.Parse(kv[k], Globalization.CultureInfo.InvariantCulture)
                { Mode = kv["mode"]; EventsPerSecond = num "events_per_s"; P50 = num "p50_ms"; P99 = num "p99_ms"; Conflicts = int64 (num "conflicts") }
            let results =
                out.Split('\n', StringSplitOptions.TrimEntries)
                |> Array.filter (fun l -> l.StartsWith "marten-result ")
                |> Array.map parse
                |> List.ofArray
            if results.Length = List.length modes then Ok results
            else Error(sprintf "the peer printed %d result lines for %d modes: %s" results.Length (List.length modes) (tail 3 out))
        | code, out, err -> Error(sprintf "the peer exited with %d: %s" code (tail 3 (out + "\n" + err)))
