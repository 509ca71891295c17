// Partitioned process managers on PostgreSQL: the stored partition count is checked, re-partitioning is explicit
// (refused while a runner holds a partition or while drained rows disagree), hosts share the partitions fairly, and
// runners in two OS processes (this executable relaunched with `--partition-child`) hand over when one is killed.
module Fable.Tests.PartitionTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.PmDomain

/// The argument that starts the child mode.
[<Literal>]
let ChildFlag = "--partition-child"

/// Recorder `p` (every partition records as "p") split into `n` partitions; each handling waits `delayMs`.
let private split (runner: string) (n: int) (delayMs: int) =
    recorderWith "p" runner 5 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin (fun _ _ ct ->
        task {
            if delayMs > 0 then do! Task.Delay(delayMs, ct)
            return Ok()
        })
    |> ProcessManager.withPartitions n

/// The child mode: `--partition-child CONNECTION APP_SCHEMA FABLE_SCHEMA RUNNER PARTITIONS DELAY_MS`. Runs until killed.
let runChild (args: string[]) : int =
    match args with
    | [| connection; app; fable; runner; n; delayMs |] ->
        let b = NpgsqlConnectionStringBuilder(connection)
        b.SearchPath <- app
        use ds = NpgsqlDataSource.Create(b.ConnectionString)
        let h = (hostOn ds fable runner [ split runner (int n) (int delayMs) ]).GetAwaiter().GetResult()
        (h :> IProcessManagerHost).Start(CancellationToken.None).Wait()
        Console.Out.WriteLine "started"
        Console.In.ReadToEnd() |> ignore
        0
    | _ ->
        eprintfn "usage: %s CONNECTION APP_SCHEMA FABLE_SCHEMA RUNNER PARTITIONS DELAY_MS" ChildFlag
        2

let private selfStart = ProcessManagerProcessTests.selfStart

/// The holder of each stored partition of "p", by name.
let private holders (env: PgEnv.Env) =
    task {
        let! all = PostgresStatus.ListStored(env.DataSource, env.FableSchema, CancellationToken.None)
        return ok "ListStored" all |> List.filter (fun s -> s.Name.StartsWith "p#") |> List.map (fun s -> s.Name, s.Holder) |> Map.ofList
    }

let private heldBy (env: PgEnv.Env) (runner: string) =
    task {
        let! hs = holders env
        return hs |> Map.filter (fun _ h -> h = Some runner) |> Map.count
    }

/// Waits until `ready` holds or fails the test after 60 s.
let private until (what: string) (ready: unit -> Task<bool>) =
    task {
        let! ok = PgDomain.eventually ready id
        Expect.isTrue ok what
    }

let private writeSome (env: PgEnv.Env) (keys: int64 list) (perKey: int) =
    task {
        let! store = writer env
        let mutable last = LogPosition.Origin
        for key in keys do
            let! events = bump store key perKey
            last <- (List.last events).Position
        do! visible env last
    }

let private expectAllOnce (env: PgEnv.Env) =
    task {
        let! events = committed env
        let! handled = seen env "p"
        expectOnceInChainOrder "p" events (fun _ -> true) [ for (id, _, _) in handled -> id ]
    }

let private layoutTest =
    testTask "a declaration whose partition count differs from the stored one is InvalidDefinition naming Repartition; Repartition is explicit" {
        do! using (fun env ->
            task {
                do! writeSome env [ 1L .. 6L ] 3
                let! two = host env "r" [ split "r" 2 0 ]
                do! catchUp two
                let! four = storeFor env.DataSource env.FableSchema (runtimeOf [ split "r" 4 0 ])
                match! PostgresProcessManagers.Create(four, runnerId = "r") with
                | Error(InvalidDefinition [ p ]) ->
                    Expect.stringContains p "declared 4 partitions but stored 2 partitions" "what happened"
                    Expect.stringContains p "PostgresProcessManagers.Repartition" "what to do"
                | other -> failtestf "expected InvalidDefinition, got %A" (other |> Result.map ignore)
                // Held by a runner: refused, nothing changes.
                do! (two :> IProcessManagerHost).Start CancellationToken.None
                do! until "the runner holds its partitions" (fun () -> task { let! n = heldBy env "r" in return n = 2 })
                match! PostgresProcessManagers.Repartition(four, "p", RepartitionFrom.Drained) with
                | Error(Conflict(_, _, _, true, m)) -> Expect.stringContains m "stop every runner" "what to do"
                | other -> failtestf "expected a retryable Conflict, got %A" other
                do! (two :> IProcessManagerHost).Stop()
                // Drained: both partitions stopped at the same checkpoint; the new ones start there.
                let! before = holders env
                Expect.equal (before |> Map.keys |> List.ofSeq) [ "p#0/2"; "p#1/2" ] "still two partitions"
                let! r = PostgresProcessManagers.Repartition(four, "p", RepartitionFrom.Drained)
                ok "Repartition" r
                let! after = holders env
                Expect.equal (after |> Map.keys |> List.ofSeq) [ "p#0/4"; "p#1/4"; "p#2/4"; "p#3/4" ] "four partitions"
                do! writeSome env [ 1L .. 6L ] 2
                let! h = host env "r" [ split "r" 4 0 ]
                do! catchUp h
                do! expectAllOnce env
            })
    }

let private fairShareTest =
    testTask "two hosts share 8 partitions 4 and 4; when one stops the other takes them all" {
        do! using (fun env ->
            task {
                do! writeSome env [ 1L .. 16L ] 2
                let! a = host env "a" [ split "a" 8 1 ]
                let a = a :> IProcessManagerHost
                do! a.Start CancellationToken.None
                do! until "alone, a holds all 8" (fun () -> task { let! n = heldBy env "a" in return n = 8 })
                let! b = host env "b" [ split "b" 8 1 ]
                let b = b :> IProcessManagerHost
                do! b.Start CancellationToken.None
                do! until "a sheds to 4 and b takes 4" (fun () ->
                    task {
                        let! na = heldBy env "a"
                        let! nb = heldBy env "b"
                        return na = 4 && nb = 4
                    })
                do! b.Stop()
                do! until "a takes the 4 b released" (fun () -> task { let! n = heldBy env "a" in return n = 8 })
                do! writeSome env [ 1L .. 16L ] 1
                do! catchUp a
                do! a.Stop()
                do! expectAllOnce env
            })
    }

let private processesTest =
    testTask "runners in two OS processes take 4 of 8 partitions each; the one killed hands its partitions to the other, and every event is handled once" {
        do! using (fun env ->
            task {
                do! writeSome env [ 1L .. 16L ] 4
                let start runner = Process.Start(selfStart [ ChildFlag; PgServer.connectionString (); env.AppSchema; env.FableSchema; runner; "8"; "5" ])
                use c1 = start "c1"
                use c2 = start "c2"
                try
                    do! until "each child holds 4" (fun () ->
                        task {
                            let! n1 = heldBy env "c1"
                            let! n2 = heldBy env "c2"
                            return n1 = 4 && n2 = 4
                        })
                    // Work for both once each holds 4 (behind, batches grow: the first events may all be handled
                    // before the partitions are shared); c1 is killed only once it has committed work of its own.
                    do! writeSome env [ 1L .. 16L ] 2
                    do! until "c1 handled some" (fun () -> task { let! handled = seen env "p" in return handled |> List.exists (fun (_, r, _) -> r = "c1") })
                    c1.Kill true
                    do! c1.WaitForExitAsync()
                    let watch = Stopwatch.StartNew()
                    do! until "c2 takes all 8" (fun () -> task { let! n = heldBy env "c2" in return n = 8 })
                    Expect.isLessThan watch.Elapsed.TotalSeconds 30.0 "the takeover is bounded"
                    let! store = writer env
                    let! _ = bump store 3L 2
                    let! events = committed env
                    do! until "c2 handles every event" (fun () ->
                        task {
                            let! handled = seen env "p"
                            return (handled |> List.map (fun (id, _, _) -> id) |> Set.ofList) = (events |> Map.keys |> Set.ofSeq)
                        })
                    do! expectAllOnce env
                    let! handled = seen env "p"
                    Expect.isTrue (handled |> List.exists (fun (_, r, _) -> r = "c1")) "c1 handled some before it was killed"
                finally
                    for c in [ c1; c2 ] do
                        if not c.HasExited then c.Kill true
            })
    }

let tests = testList "partitions" [ layoutTest; fairShareTest; processesTest ]
