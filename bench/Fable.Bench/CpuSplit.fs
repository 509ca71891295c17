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

/// Client CPU (all, and user mode only) and server CPU microseconds per call of `op` over `n` calls on `writers`
/// concurrent tasks (after `n / 10` to warm up), the wall time per call, and the thread-pool work items completed per
/// call (each a hop to a pool thread: a socket completion, a timer, a continuation queued asynchronously).
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
        return struct (client * 1e6 / float n, user * 1e6 / float n, server * 1e6 / float n, wall * 1e6 / float n, float items / float n)
    }

/// Measures each named contender `rounds` times (interleaved: forward, then reverse, as the table's rows, so that no
/// contender always runs first or last) and prints the medians per emit of `events` events.
let report (writers: int) (events: int) (n: int) (rounds: int) (contenders: (string * (int -> Task<int>)) list) =
    task {
        let results = Collections.Generic.Dictionary<string, Collections.Generic.List<struct (float * float * float * float * float)>>()
        for round in 1 .. rounds do
            for (name, op) in (if round % 2 = 1 then contenders else List.rev contenders) do
                let! r = measure writers n op
                if not (results.ContainsKey name) then results[name] <- Collections.Generic.List()
                results[name].Add r
        let median (xs: float seq) = xs |> Seq.toArray |> Array.sort |> Harness.quantile 0.5
        eprintfn "  CPU per emit of %d event(s), %d writer(s), %d emits x %d rounds (median): client µs (of which user mode), server µs (all postgres processes), wall µs, thread-pool work items" events writers n rounds
        for (name, _) in contenders do
            let rs = results[name]
            eprintfn "  %-28s client %7.1f (user %6.1f)  server %7.1f  wall %7.1f  work items %5.2f" name
                (median [ for struct (c, _, _, _, _) in rs -> c ]) (median [ for struct (_, u, _, _, _) in rs -> u ])
                (median [ for struct (_, _, s, _, _) in rs -> s ]) (median [ for struct (_, _, _, w, _) in rs -> w ])
                (median [ for struct (_, _, _, _, i) in rs -> i ])
    }
