// The benchmark runner: starts a durable throwaway PostgreSQL, measures every row against its baseline in one
// run and prints one table with ratios. `--quick` runs a few seconds per row (the CI smoke test);
// `--only catchup [--batch N]` runs row 4 alone, then the same catch-up repeated warm (batches of N, default
// 500), and prints them without writing the results file (for profiling).
module Fable.Bench.Program

open System
open System.IO
open System.Threading
open Npgsql
open Fable
open Fable.InMemory
open Fable.Bench.Harness
open Fable.Bench.Domain
open Fable.Bench.Rows

let private fmt (v: float) =
    if Double.IsNaN v then "-"
    elif abs v >= 1000.0 then v.ToString("N0")
    else v.ToString("0.00")

let private print (lines: Line list) =
    let rows =
        [ yield [ "row"; "metric"; "Fable"; "baseline"; "Fable/baseline"; "target" ]
          for l in lines ->
              [ l.Row; l.Metric; fmt l.Fable; fmt l.Baseline; (if Double.IsNaN l.Ratio then "-" else l.Ratio.ToString("0.00") + "×"); l.Target ] ]
    let widths = [ for c in 0..5 -> rows |> List.map (fun r -> r[c].Length) |> List.max ]
    let line (r: string list) = "| " + String.Join(" | ", List.mapi (fun i (s: string) -> s.PadRight widths[i]) r) + " |"
    let out =
        [ yield line rows.Head
          yield "|" + String.Join("|", widths |> List.map (fun w -> String('-', w + 2))) + "|"
          for r in rows.Tail -> line r ]
    String.Join(Environment.NewLine, out)

[<EntryPoint>]
let main argv =
    let quick = argv |> Array.contains "--quick"
    let argAfter (flag: string) = argv |> Array.tryFindIndex ((=) flag) |> Option.bind (fun i -> Array.tryItem (i + 1) argv)
    let only = argAfter "--only"
    let batch = argAfter "--batch" |> Option.map int |> Option.defaultValue 500
    let timing =
        if quick then { Warmup = TimeSpan.FromSeconds 0.5; Duration = TimeSpan.FromSeconds 2.0; CatchUpEvents = 20_000 }
        else { Warmup = TimeSpan.FromSeconds 3.0; Duration = TimeSpan.FromSeconds 15.0; CatchUpEvents = 1_000_000 }
    let catchUpOnly () =
        task {
            use server = new Server()
            use ds = (new NpgsqlDataSourceBuilder(server.ConnectionString + ";Max Auto Prepare=50;Auto Prepare Min Usages=2")).Build()
            let! r = catchUpRow timing ds
            let! w = catchUpWarmRows timing ds batch 5
            printfn "%s" (print (r @ w))
        }
    let run () =
        task {
            use server = new Server()
            use ds = (new NpgsqlDataSourceBuilder(server.ConnectionString + ";Max Auto Prepare=50;Auto Prepare Min Usages=2")).Build()
            do! setupTable ds 10_000
            do! Baseline.setup ds 10_000
            let! pg = store ds "fable_bench" true []
            let! pgQuiet = store ds "fable_bench_quiet" false []
            let rt = match Runtime.build (definition []) with Ok rt -> rt | Error e -> failwithf "%O" e
            let mem = InMemoryStore.Create(rt) :> IInterpreter
            let rnd = new ThreadLocal<Random>(fun () -> Random())
            let randomAccount _ _ = int64 (rnd.Value.Next(1, 10_001))
            let hot _ _ = 1L
            let lines = Collections.Generic.List<Line>()
            let add (ls: Line list) =
                lines.AddRange ls
                for l in ls do eprintfn "  %s %s: Fable %s, baseline %s" l.Row l.Metric (fmt l.Fable) (fmt l.Baseline)
            let! r = emitRow timing ds pg "1. emit 1 event, random of 10,000, 1 writer" 1 randomAccount 1
            add r
            let! r8 = emitRow timing ds pg "1. emit 1 event, random of 10,000, 8 writers" 8 randomAccount 1
            add r8
            let! r = emitRow timing ds pg "2. emit to one hot aggregate, 1 writer" 1 hot 1
            add r
            let! r = emitRow timing ds pg "2. emit to one hot aggregate, 8 writers" 8 hot 1
            add r
            let! r = emitRow timing ds pg "3. emit 10 events per decision, 8 writers" 8 randomAccount 10
            add r
            let! r = catchUpRow timing ds
            add r
            let maxRate = r8.Head.Fable
            let! r = wakeRow timing ds (maxRate / 2.0)
            add r
            let! r = allocationRows ds pg mem (if quick then 500 else 5_000)
            add r
            let! r = notifyRow timing pg pgQuiet
            add r
            let! r = inMemoryRow timing mem
            add r
            let table = print (List.ofSeq lines)
            printfn "%s" table
            let machine =
                sprintf "%d cores, %s, .NET %s, %s" Environment.ProcessorCount (Runtime.InteropServices.RuntimeInformation.OSDescription)
                    (Environment.Version.ToString()) (if quick then "quick mode" else "full mode")
            let file = Path.Combine(repoRoot (), "bench", if quick then "results-quick.md" else "results.md")
            File.WriteAllText(file, sprintf "Measured %s (%s).\n\n%s\n" (DateTime.UtcNow.ToString "yyyy-MM-dd HH:mm 'UTC'") machine table)
            printfn "results written to %s" file
        }
    try
        match only with
        | None -> (run ()).GetAwaiter().GetResult()
        | Some "catchup" -> (catchUpOnly ()).GetAwaiter().GetResult()
        | Some other -> failwithf "--only %s: the only row that runs alone is catchup" other
        0
    with e ->
        eprintfn "benchmark failed: %O" e
        1
