// Row 9: a partitioned process manager whose handler waits 2 ms per event (an outside call), at 1, 2, 4 and 8
// partitions over 2 runner processes (this executable relaunched with `--partition-runner`): events/s and the
// ratio to 1 partition. The partitions are disabled while the events are written and the runners settle, then
// enabled at once: the clock runs from enabling to every partition caught up.
module Fable.Bench.PartitionRow

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Bench.Domain
open Fable.Bench.Rows

/// The argument that starts a runner process.
[<Literal>]
let RunnerFlag = "--partition-runner"

let private schema = "fable_bench_part"
let private table = accountsIn "fable_part_accounts"

/// The process manager `name` with `partitions`, from the head when registered: waits 2 ms per event it owns and
/// counts it.
let private waiting (name: string) (partitions: int) =
    ProcessManager.create<int64> name 0L (fun n _ -> Ok n)
    |> ProcessManager.withHandleIn (fun _ n _ ct ->
        task {
            do! Task.Delay(2, ct)
            return Ok(n + 1L)
        })
    |> fun pm -> { pm with BatchSize = 1000; StartAt = StartAt.Head }
    |> ProcessManager.erase
    |> ProcessManager.withPartitions partitions

let private runtime (pms: ProcessManagerDef list) =
    { Events = EventRegistry.empty |> EventRegistry.add (EventType.create<Deposited> "deposited")
      Router = Router.empty |> Router.route<Deposited> []
      ProcessManagers = pms
      Tables = [ TableDecl.aggregate table.Table KeyType.Int [ TableDecl.column "balance" ColumnType.BigInt ] ] }
    |> Runtime.build
    |> function Ok rt -> rt | Error e -> failwithf "%O" e

let private host (ds: NpgsqlDataSource) (runner: string) (name: string) (partitions: int) =
    task {
        match! PostgresStore.Create(ds, runtime [ waiting name partitions ], { Schema = schema; Notify = true }) with
        | Error e -> return failwithf "store: %O" e
        | Ok store ->
            match! PostgresProcessManagers.Create(store, runnerId = runner, pollInterval = TimeSpan.FromMilliseconds 100.0) with
            | Error e -> return failwithf "host: %O" e
            | Ok h -> return store, (h :> IProcessManagerHost)
    }

/// The runner mode: `--partition-runner CONNECTION RUNNER NAME PARTITIONS`; runs until its stdin closes.
let runRunner (args: string[]) : int =
    match args with
    | [| connection; runner; name; partitions |] ->
        use ds = NpgsqlDataSource.Create connection
        let _, h = (host ds runner name (int partitions)).GetAwaiter().GetResult()
        h.Start(CancellationToken.None).Wait()
        Console.Out.WriteLine "started"
        Console.In.ReadToEnd() |> ignore
        h.Stop().Wait()
        0
    | _ ->
        eprintfn "usage: %s CONNECTION RUNNER NAME PARTITIONS" RunnerFlag
        2

let private start (args: string list) =
    let exe = Environment.ProcessPath
    let args = if Path.GetFileNameWithoutExtension exe = "dotnet" then Assembly.GetEntryAssembly().Location :: args else args
    let psi = ProcessStartInfo(exe)
    for a in args do
        psi.ArgumentList.Add a
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardInput <- true
    psi.UseShellExecute <- false
    Process.Start psi

let private stored (ds: NpgsqlDataSource) (name: string) =
    task {
        match! PostgresStatus.ListStored(ds, schema, CancellationToken.None) with
        | Ok all -> return all |> List.filter (fun s -> s.Name = name || s.Name.StartsWith(name + "#"))
        | Error e -> return failwithf "status: %O" e
    }

/// Waits until `ready` (a minute at most).
let private until (what: string) (ready: unit -> Task<bool>) =
    task {
        let deadline = DateTime.UtcNow.AddMinutes 1.0
        let! r = ready ()
        let mutable ok = r
        while not ok do
            if DateTime.UtcNow > deadline then failwithf "row 9: timed out waiting until %s" what
            do! Task.Delay 10
            let! r = ready ()
            ok <- r
    }

/// `count` account keys, as many owned by each of 8 partitions (so 1, 2, 4 and 8 partitions get equal loads: the
/// row measures the runners, not the hash's spread over few keys).
let private balancedKeys (count: int) =
    let per = count / 8
    Seq.initInfinite (fun i -> int64 (i + 1))
    |> Seq.map (fun k -> k, Partitioning.partitionOf 8 (AggregateId.int table.Table k))
    |> Seq.scan (fun (taken: Map<int, int>, _) (k, p) ->
        let n = defaultArg (taken.TryFind p) 0
        if n < per then taken.Add(p, n + 1), Some k else taken, None) (Map.empty, None)
    |> Seq.choose snd
    |> Seq.truncate (per * 8)
    |> Array.ofSeq

/// Events/s of `partitions` over 2 runner processes handling `keys` (one event each).
let private measure (connection: string) (ds: NpgsqlDataSource) (keys: int64[]) (partitions: int) =
    task {
        let name = sprintf "wait2ms_%d" partitions
        // Registers the partitions and disables them while the events are written and the runners settle.
        let! store, control = host ds "bench" name partitions
        let names = store.Runtime.ProcessManagers |> List.map (fun p -> p.Name)
        for n in names do
            let! r = control.Disable(n, CancellationToken.None)
            r |> Result.defaultWith (fun e -> failwithf "disable: %O" e)
        let decide = deposits 1
        do!
            Task.WhenAll
                [ for w in 0..7 ->
                      Task.Run(fun () ->
                          task {
                              for i in w .. 8 .. keys.Length - 1 do
                                  let! _ = emitOn table store keys[i] decide
                                  ()
                          } :> Task) ]
        let! head = (store :> IInterpreter).Head CancellationToken.None
        let target = head |> Result.defaultWith (fun e -> failwithf "head: %O" e)
        let runners = [ for r in [ "r1"; "r2" ] -> start [ RunnerFlag; connection; r; name; string partitions ] ]
        try
            // Settled: the partitions are held, no runner beyond its fair share (ceil(N/2)).
            let share = (partitions + 1) / 2
            do! until "the runners hold their shares" (fun () ->
                task {
                    let! rows = stored ds name
                    let held = rows |> List.countBy (fun s -> s.Holder)
                    return rows |> List.forall (fun s -> s.Holder.IsSome) && held |> List.forall (fun (_, n) -> n <= share)
                })
            let watch = Stopwatch.StartNew()
            for n in names do
                let! r = control.Enable(n, CancellationToken.None)
                r |> Result.defaultWith (fun e -> failwithf "enable: %O" e)
            // A cheap look at the checkpoints only (Status counts each partition's lag, which would load the server).
            do! until "every partition caught up" (fun () ->
                task {
                    use cmd =
                        ds.CreateCommand(
                            sprintf "SELECT count(*) FROM %s.process_managers WHERE (name = $1 OR left(name, length($1) + 1) = $1 || '#') AND (checkpoint_tx, checkpoint_id) < ($2, $3)" schema)
                    cmd.Parameters.AddWithValue name |> ignore
                    cmd.Parameters.AddWithValue target.Tx |> ignore
                    cmd.Parameters.AddWithValue target.Id |> ignore
                    let! behind = cmd.ExecuteScalarAsync()
                    return Convert.ToInt64 behind = 0L
                })
            return float keys.Length / watch.Elapsed.TotalSeconds
        finally
            for p in runners do
                try
                    p.StandardInput.Close()
                    if not (p.WaitForExit 10_000) then p.Kill true
                with _ -> ()
                p.Dispose()
    }

/// Row 9's lines: events/s at 1, 2, 4 and 8 partitions, each against 1 partition.
let partitionRows (quick: bool) (connection: string) (ds: NpgsqlDataSource) =
    task {
        do! setupTableOf table ds 20_000
        let keys = balancedKeys (if quick then 400 else 4_000)
        let results = Collections.Generic.List<int * float>()
        for p in [ 1; 2; 4; 8 ] do
            let! rate = measure connection ds keys p
            eprintfn "  9. %d partitions: %.0f events/s" p rate
            results.Add(p, rate)
        let one = snd results[0]
        return
            [ for (p, rate) in results ->
                  line (sprintf "9. PM, 2 ms handler, %d partition%s over 2 processes" p (if p = 1 then "" else "s")) "events/s (baseline: 1 partition)"
                      rate one (if p = 8 then ">= 6×" else "") ]
    }
