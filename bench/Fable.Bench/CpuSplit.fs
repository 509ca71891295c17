// `--cpu`: where an emit's CPU goes, client (this process) and server (every postgres process on the
// machine), per contender, with 1 and with 8 writers. A diagnostic printed beside the table, not a target.
module Fable.Bench.CpuSplit

open System
open System.Diagnostics
open System.IO
open System.Threading.Tasks

/// CPU seconds used so far by every process named `postgres` (utime + stime from /proc; Linux only).
let private serverSeconds () =
    let ticks = 100.0 // USER_HZ: 100 on Linux
    let mutable total = 0L
    for dir in Directory.EnumerateDirectories "/proc" do
        let name = Path.GetFileName dir
        if name.Length > 0 && Char.IsDigit name[0] then
            try
                let stat = File.ReadAllText(Path.Combine(dir, "stat"))
                // Fields after the command name, which is in parentheses and may hold spaces.
                let close = stat.LastIndexOf ')'
                if stat.Substring(stat.IndexOf '(' + 1, close - stat.IndexOf '(' - 1) = "postgres" then
                    let fields = stat.Substring(close + 2).Split ' '
                    // fields[0] is field 3 (state): utime is field 14, stime field 15.
                    total <- total + int64 fields[11] + int64 fields[12]
            with _ -> () // the process ended meanwhile
    float total / ticks

/// `n` calls of `op` on `writers` concurrent tasks (each its share in sequence).
let private calls (writers: int) (n: int) (op: int -> Task<int>) =
    Task.WhenAll(
        [| for w in 0 .. writers - 1 ->
               Task.Run(fun () ->
                   task {
                       for i in 0 .. n / writers - 1 do
                           let! _ = op (w * n + i)
                           ()
                   } :> Task) |])

/// One measurement, per call: client CPU µs (all, and user mode only), server CPU µs (every postgres process), wall
/// µs, and thread-pool work items completed (each a hop to a pool thread: a socket completion, a timer, a
/// continuation queued asynchronously).
type Sample = { Client: float; User: float; Server: float; Wall: float; WorkItems: float }

/// A `Sample` of `n` calls of `op` on `writers` concurrent tasks (after `n / 10` to warm up).
let measure (writers: int) (n: int) (op: int -> Task<int>) =
    task {
        do! calls writers (n / 10) op
        let proc = Process.GetCurrentProcess()
        proc.Refresh()
        let c0, u0, s0 = proc.TotalProcessorTime, proc.UserProcessorTime, serverSeconds ()
        let w0 = Threading.ThreadPool.CompletedWorkItemCount
        let sw = Stopwatch.StartNew()
        do! calls writers n op
        let wall = sw.Elapsed.TotalSeconds
        proc.Refresh()
        let client = (proc.TotalProcessorTime - c0).TotalSeconds
        let user = (proc.UserProcessorTime - u0).TotalSeconds
        let server = serverSeconds () - s0
        let items = Threading.ThreadPool.CompletedWorkItemCount - w0
        let per (x: float) = x / float n
        return { Client = per (client * 1e6); User = per (user * 1e6); Server = per (server * 1e6); Wall = per (wall * 1e6); WorkItems = per (float items) }
    }

/// Measures each named contender `rounds` times (interleaved: forward, then reverse, as the table's rows, so that no
/// contender always runs first or last) and prints the medians per emit of `events` events.
let report (writers: int) (events: int) (n: int) (rounds: int) (contenders: (string * (int -> Task<int>)) list) =
    task {
        let results = Collections.Generic.Dictionary<string, Collections.Generic.List<Sample>>()
        for round in 1 .. rounds do
            for (name, op) in (if round % 2 = 1 then contenders else List.rev contenders) do
                let! r = measure writers n op
                if not (results.ContainsKey name) then results[name] <- Collections.Generic.List()
                results[name].Add r
        let median (rs: Sample seq) (f: Sample -> float) = rs |> Seq.map f |> Seq.toArray |> Array.sort |> Harness.quantile 0.5
        eprintfn "  CPU per emit of %d event(s), %d writer(s), %d emits x %d rounds (median): client µs (of which user mode), server µs (all postgres processes), wall µs, thread-pool work items" events writers n rounds
        for (name, _) in contenders do
            let rs = results[name]
            eprintfn "  %-28s client %7.1f (user %6.1f)  server %7.1f  wall %7.1f  work items %5.2f" name
                (median rs _.Client) (median rs _.User) (median rs _.Server) (median rs _.Wall) (median rs _.WorkItems)
    }
