// Chain integrity and serial decisions under real concurrency: generated interleavings of single and grouped emits
// over several Task.Run workers, and many workers incrementing one counter through its decision.
module Fable.Tests.Concurrency

open System
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Every aggregate's events form one chain, the row points at its head, and exactly the acknowledged events exist.
let chains (fixture: Fixture) =
    propertyOn fixture "concurrent interleavings leave one gap-free chain per aggregate, headed by the row, with exactly the acknowledged events" 200
        Gens.interleaving
        (fun il ->
            withInstance fixture runtime (fun inst ->
                let keys = Array.init il.Accounts (fun _ -> Guid.NewGuid())
                let outcomes = Runner.runConcurrently inst.Interpreter keys il.Threads
                let all = Checks.globalLog inst
                Expect.equal (all |> List.map (fun e -> e.Id) |> Set.ofList) (Runner.committedIds outcomes)
                    "the log holds exactly the events of acknowledged emits"
                for k in keys do
                    Checks.aggregate inst all accounts (accountKey k) |> ignore
                let ledgerIds = rows inst ledgerTable |> List.map (fun r -> Convert.ToInt64 r["id"]) |> Set.ofList
                let moneyEvents =
                    all |> List.filter (fun e -> e.TypeName = "account.deposited" || e.TypeName = "account.withdrawn")
                Expect.equal ledgerIds (moneyEvents |> List.map (fun e -> e.Id) |> Set.ofList)
                    "one ledger row per committed deposit or withdrawal, none for failed emits"))

/// Each thread's emits on its own account, in order, give exactly the sequential model's state.
let perAccountOrder (fixture: Fixture) =
    propertyOn fixture "emits of one thread on its own account give the state of running its commands one after another" 60
        (Gen.choose (1, 8) |> Gen.bind (fun n -> Gen.listOfLength n Gens.history))
        (fun histories ->
            withInstance fixture runtime (fun inst ->
                let keys = histories |> List.map (fun _ -> Guid.NewGuid()) |> Array.ofList
                let threads =
                    histories |> List.mapi (fun a cmds -> cmds |> List.map (fun c -> Gens.Single { Account = a; Command = c }))
                Runner.runConcurrently inst.Interpreter keys threads |> ignore
                for (k, cmds) in Seq.zip keys histories do
                    let expected, events = Commands.model (accountKey k) cmds
                    let loaded = run (Store.load inst.Interpreter accounts (accountKey k) ct) |> ok "Load"
                    match loaded with
                    | None -> Expect.isEmpty events "no row only when no command recorded anything"
                    | Some a ->
                        Expect.equal a.State expected "the state is the sequential model's"
                        Expect.equal (a.State.EventCount) (int64 events.Length) "one event per recorded model event"))

/// Many workers increment one counter: no lost update, each decision saw every earlier event, optimistic
/// emits (Expected.At) either commit on the version they read or get a Conflict.
let serial (fixture: Fixture) =
    propertyOn fixture "concurrent emits on one aggregate lose no update and every decision sees all earlier events" 40
        (Gen.zip3 (Gen.choose (2, 32)) (Gen.choose (1, 30)) (Gen.elements [ true; false ]))
        (fun (threads, perThread, someOptimistic) ->
            withInstance fixture runtime (fun inst ->
                let i = inst.Interpreter
                let key = AggregateKey.Text(Guid.NewGuid().ToString("N"))
                let decide (s: Counter) : Result<obj list, FableError> = Ok [ box { Seen = s.Value } ]
                let gate = TaskCompletionSource()
                let worker (optimistic: bool) =
                    Task.Run<int * int>(Func<Task<int * int>>(fun () ->
                        task {
                            do! gate.Task
                            let mutable committed = 0
                            let mutable conflicts = 0
                            for _ in 1..perThread do
                                let! expected =
                                    if optimistic then
                                        task {
                                            let! loaded = Store.load i counters key ct
                                            return Expected.At(loaded |> ok "Load" |> Option.bind (fun a -> a.LastEventId))
                                        }
                                    else Task.FromResult Expected.Any
                                match! Store.emit i counters key expected (Pure decide) ct with
                                | Ok _ -> committed <- committed + 1
                                | Error(Conflict _) when optimistic -> conflicts <- conflicts + 1
                                | Error e -> failtestf "an emit failed: %O" e
                            return committed, conflicts
                        }))
                let workers = [ for t in 1..threads -> worker (someOptimistic && t % 2 = 0) ]
                gate.SetResult()
                let results = workers |> List.map run
                let committed = results |> List.sumBy fst
                Expect.isGreaterThanOrEqual committed (threads / 2 * perThread) "every serial emit commits"
                let all = Checks.globalLog inst
                let log = Checks.aggregate inst all counters key
                Expect.equal log.Length committed "one event per acknowledged emit"
                let seen = Checks.decode i.Codec log |> List.map (fun e -> (e :?> Incremented).Seen)
                Expect.equal seen [ 0L .. int64 committed - 1L ] "the k-th decision saw the k earlier events"
                let state = run (Store.load i counters key ct) |> ok "Load"
                Expect.equal (state |> Option.map (fun a -> a.State.Value)) (Some(int64 committed)) "the counter equals the committed emits"))

/// The concurrency properties of one fixture.
let tests (fixture: Fixture) = [ chains fixture; perAccountOrder fixture; serial fixture ]
