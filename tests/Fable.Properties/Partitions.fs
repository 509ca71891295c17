// Partitioned process managers: the partition hash pinned by fixed vectors (a change to it fails here), and on every
// interpreter the FsCheck schedules of concurrent writers (rejections, units of work rolled back whole) handled by a
// partitioned follower: each committed event exactly once, by the one partition the hash gives, in chain order.
module Fable.Tests.Partitions

open System
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Followers
open Fable.Tests.Support

/// The stable contract: FNV-1a 32-bit over UTF-8 of table + NUL + key text (vectors computed independently).
let hashVectors =
    testList "hash" [
        test "the partition hash is FNV-1a 32-bit over table, NUL and the key's canonical text (fixed vectors)" {
            let cases =
                [ AggregateId.uuid "accounts" (Guid.Parse "00000000-0000-0000-0000-000000000001"), 4237571072u, 0
                  AggregateId.int "counters" 42L, 304213370u, 2
                  AggregateId.int "counters" -7L, 4284495952u, 0
                  AggregateId.text "orders" "café ü", 152530881u, 1
                  AggregateId.text "t" "", 423954329u, 1 ]
            for (a, h, p8) in cases do
                Expect.equal (Partitioning.hash a) h (sprintf "hash of %O" a)
                Expect.equal (Partitioning.partitionOf 8 a) p8 (sprintf "partition of %O among 8" a)
                Expect.equal (Partitioning.partitionOf 1 a) 0 "one partition owns everything"
        }
        test "partition names are group#index/count and parse back" {
            let s = { Group = "orders"; Index = 3; Count = 8 }
            Expect.equal (string s) "orders#3/8" "the stored name"
            Expect.equal (Partitioning.tryParse "orders" "orders#3/8") (Some s) "parsed"
            Expect.equal (Partitioning.tryParseAny "a#b#3/8") (Some { Group = "a#b"; Index = 3; Count = 8 }) "the group is before the last #"
            for bad in [ "orders"; "orders#8/8"; "orders#03/8"; "orders#x/8"; "orders#1/2/3"; "other#1/8" ] do
                Expect.isNone (Partitioning.tryParse "orders" bad) (sprintf "%s is not a partition of orders" bad)
        }
        test "a declaration expands into its partitions; bad counts are InvalidDefinition" {
            let pm, _ = follower "orders" OnFailure.Stop 3 (fun _ _ -> false)
            let names = ProcessManager.expand [ ProcessManager.withPartitions 4 pm ] |> List.map (fun p -> p.Name)
            Expect.equal names [ "orders#0/4"; "orders#1/4"; "orders#2/4"; "orders#3/4" ] "four partitions"
            Expect.equal (ProcessManager.expand [ ProcessManager.withPartitions 1 pm ] |> List.map (fun p -> p.Name)) [ "orders" ] "one partition is unpartitioned"
            for n in [ 0; -1; Partitioning.MaxPartitions + 1 ] do
                let problems = ProcessManager.validateAll [ ProcessManager.withPartitions n pm ]
                Expect.exists problems (fun p -> p.Contains "partitions") (sprintf "%d partitions are refused" n)
            let clash, _ = follower "orders#1/4" OnFailure.Stop 3 (fun _ _ -> false)
            Expect.exists (ProcessManager.validateAll [ ProcessManager.withPartitions 4 pm; clash ]) (fun p -> p.Contains "registered 2 times")
                "a partition name clashing with another process manager is refused"
        } ]

let private partitions = 4

/// Exactly once, by the right partition, in chain order per aggregate.
let exactlyOncePerPartition (fixture: Fixture) =
    propertyOn fixture "a partitioned process manager handles every committed event exactly once, by the partition its aggregate hashes to, in chain order per aggregate" 30
        (Gen.zip3 Gens.interleaving (Gen.elements [ true; false ]) (Gen.elements [ 1; 3; 7 ]))
        (fun (il, runners, batch) ->
            let pm, _ = follower "split" OnFailure.Stop batch (fun _ _ -> false)
            withInstance fixture (runtimeWith [ ProcessManager.withPartitions partitions pm ]) (fun inst ->
                let host = inst.ProcessManagers
                let keys = Array.init il.Accounts (fun _ -> Guid.NewGuid())
                if runners then wait (host.Start ct)
                let outcomes = Runner.runConcurrently inst.Interpreter keys il.Threads
                run (host.CatchUp(guard ())) |> ok "CatchUp"
                wait (host.Stop())
                match run (host.Status("split", ct)) with
                | Error(InvalidDefinition [ p ]) -> Expect.stringContains p "split#0/4, split#1/4, split#2/4, split#3/4" "the declaration's name lists its partitions"
                | other -> failtestf "Status of the declaration's name: expected InvalidDefinition, got %A" (other |> Result.map ignore)
                let all = readAll inst
                Expect.equal (all |> List.map (fun e -> e.Id) |> Set.ofList) (Runner.committedIds outcomes) "the log is the acknowledged events"
                let seen = rows inst seenTable
                let byEvent = seen |> List.groupBy (fun r -> Convert.ToInt64 r["event"])
                for (id, rs) in byEvent do
                    Expect.equal rs.Length 1 (sprintf "event %d is handled by exactly one partition, once" id)
                Expect.equal (byEvent |> List.map fst |> Set.ofList) (all |> List.map (fun e -> e.Id) |> Set.ofList) "every committed event is handled"
                for i in 0 .. partitions - 1 do
                    let name = sprintf "split#%d/%d" i partitions
                    let st = run (host.Status(name, ct)) |> ok "Status"
                    Expect.isNone st.LastError (sprintf "%s never failed (an event out of chain order would)" name)
                    Expect.equal st.Lag 0L (sprintf "%s is caught up" name)
                    // The follower's state counts what this partition handled and its last event per aggregate.
                    let state = Text.Json.JsonSerializer.Deserialize<FollowerState>(st.State, Text.Json.JsonSerializerOptions(Text.Json.JsonSerializerDefaults.Web))
                    let own = all |> List.filter (fun e -> Partitioning.partitionOf partitions e.Aggregate = i)
                    Expect.equal state.Count (int64 own.Length) (sprintf "%s handled exactly the events of the aggregates that hash to it" name)
                    let lastOf = own |> List.groupBy (fun e -> string e.Aggregate) |> List.map (fun (a, es) -> a, (List.last es).Id) |> Map.ofList
                    Expect.equal state.Heads lastOf (sprintf "%s followed its own aggregates, each to its last event" name)
                // Chain order per aggregate: the rows' handling sequence (the partition's count) follows each chain.
                for (agg, es) in all |> List.groupBy (fun e -> string e.Aggregate) do
                    let handled =
                        seen |> List.filter (fun r -> string r["aggregate"] = agg) |> List.sortBy (fun r -> Convert.ToInt64 r["seq"]) |> List.map (fun r -> Convert.ToInt64 r["event"])
                    Expect.equal handled (es |> List.map (fun e -> e.Id)) (sprintf "%s was handled in chain order" agg)))

let tests (fixture: Fixture) = [ exactlyOncePerPartition fixture ]
