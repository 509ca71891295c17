// Concurrency on a real server: many connections emitting to few aggregates (FsCheck plans, real threads),
// concurrent creators of one aggregate, and a forced deadlock and a lock wait past lock_timeout that must come back
// as retryable conflicts.
module Fable.Tests.PgConcurrencyTests

open System
open System.Collections.Concurrent
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// One step of a writer: deposit `amounts` into one account, or 1 into each of two accounts (in that
/// order) in one unit of work.
type Step =
    | Single of key: int * amounts: int64 list
    | Pair of first: int * second: int

let private stepGen =
    Gen.frequency [
        4, gen {
            let! k = Gen.choose (0, 2)
            let! n = Gen.choose (1, 3)
            let! amounts = Gen.listOfLength n (Gen.choose (1, 9) |> Gen.map int64)
            return Single(k, amounts) }
        1, gen {
            let! a = Gen.choose (0, 2)
            let! d = Gen.choose (1, 2)
            return Pair(a, (a + d) % 3) } ]

let private planGen = Gen.listOfLength 6 (Gen.choose (4, 12) |> Gen.bind (fun n -> Gen.listOfLength n stepGen))

/// Runs `attempt` until it is not a retryable conflict; counts the retries.
let private retrying (retries: int ref) (attempt: unit -> Task<Result<'T, FableError>>) =
    task {
        let mutable result = None
        let mutable tries = 0
        while result.IsNone do
            let! r = attempt ()
            match r with
            | Error e when FableError.isRetryable e && tries < 100 ->
                tries <- tries + 1
                Interlocked.Increment &retries.contents |> ignore
            | r -> result <- Some r
        return result.Value
    }

let private runPlan (plan: Step list list) =
    PgEnv.using runtime tables (fun env -> task {
        let i = env.Interpreter
        let keys = [| newKey (); newKey (); newKey () |]
        let committed = ConcurrentBag<int * int64>()
        let retries = ref 0
        let writer (steps: Step list) =
            background (fun () ->
                task {
                    for step in steps do
                        match step with
                        | Single(k, amounts) ->
                            let! r = retrying retries (fun () -> emit i accounts keys[k] Expected.Any (deposit amounts))
                            ok "single emit" r |> ignore
                            for a in amounts do
                                committed.Add(k, a)
                        | Pair(a, b) ->
                            let! r =
                                retrying retries (fun () ->
                                    Store.transact i (fun uow -> task {
                                        match! uow.Emit(accounts, keys[a], Expected.Any, deposit [ 1L ], ct) with
                                        | Error e -> return Error e
                                        | Ok _ -> return! uow.Emit(accounts, keys[b], Expected.Any, deposit [ 1L ], ct)
                                    }) ct)
                            ok "pair emit" r |> ignore
                            committed.Add(a, 1L)
                            committed.Add(b, 1L)
                })
        let! _ = Task.WhenAll [ for steps in plan -> writer steps ]
        for k in 0..2 do
            let mine = [ for (k', a) in committed do if k' = k then yield a ]
            let! log = checkChain i accounts keys[k]
            Expect.equal log.Length mine.Length (sprintf "account %d: one event per committed deposit" k)
            let! loaded = Store.load i accounts keys[k] ct
            match ok "load" loaded with
            | Some a -> Expect.equal (a.State.Balance, a.State.Events) (List.sum mine, int64 mine.Length) (sprintf "account %d: no lost update" k)
            | None -> Expect.isEmpty mine (sprintf "account %d has deposits but no row" k)
    })

let tests =
    testList "concurrency" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 3 } "many writers on few aggregates keep every chain whole and lose no update"
            (Prop.forAll (Arb.fromGen planGen) (fun plan -> (runPlan plan).GetAwaiter().GetResult()))

        testTask "concurrent creators of one aggregate queue up on one chain" {
            do! PgEnv.using runtime tables (fun env -> task {
                let i = env.Interpreter
                let gate = TaskCompletionSource()
                let key = newKey ()
                let creators =
                    [ for _ in 1..8 ->
                          background (fun () -> task {
                              do! gate.Task
                              return! emit i accounts key Expected.Any (deposit [ 1L ]) }) ]
                gate.SetResult()
                let! results = Task.WhenAll creators
                for r in results do
                    ok "serial create" r |> ignore
                let! log = checkChain i accounts key
                Expect.equal log.Length 8 "eight events on one chain"
                let fresh = newKey ()
                let gate2 = TaskCompletionSource()
                let racers =
                    [ for _ in 1..8 ->
                          background (fun () -> task {
                              do! gate2.Task
                              return! emit i accounts fresh (Expected.At None) (deposit [ 1L ]) }) ]
                gate2.SetResult()
                let! results = Task.WhenAll racers
                let wins = results |> Array.filter Result.isOk
                Expect.equal wins.Length 1 "exactly one creator expecting no events wins"
                for r in results do
                    match r with
                    | Ok _ -> ()
                    | Error(Conflict _) -> ()
                    | Error e -> failtestf "losers conflict, got %O" e
                let! _ = checkChain i accounts fresh
                ()
            })
        }

        testTask "crossing emits deadlock and the loser gets a retryable conflict" {
            do! PgEnv.using runtime tables (fun env -> task {
                let i = env.Interpreter
                let a, b = newKey (), newKey ()
                for k in [ a; b ] do
                    let! r = emit i accounts k Expected.Any (deposit [ 100L ])
                    ok "seed" r |> ignore
                let firstA, firstB = TaskCompletionSource(), TaskCompletionSource()
                let crossing (x: AggregateKey) (y: AggregateKey) (mine: TaskCompletionSource) (theirs: TaskCompletionSource) =
                    background (fun () ->
                        Store.transact i (fun uow -> task {
                            match! uow.Emit(accounts, x, Expected.Any, deposit [ 1L ], ct) with
                            | Error e -> return Error e
                            | Ok _ ->
                                mine.SetResult()
                                do! theirs.Task
                                return! uow.Emit(accounts, y, Expected.Any, deposit [ 1L ], ct)
                        }) ct)
                let! results = Task.WhenAll [ crossing a b firstA firstB; crossing b a firstB firstA ]
                let wins = results |> Array.filter Result.isOk
                Expect.equal wins.Length 1 "one transaction wins"
                for r in results do
                    match r with
                    | Ok _ -> ()
                    | Error(Conflict(_, _, _, true, _)) -> ()
                    | Error e -> failtestf "the loser should get a retryable conflict, got %O" e
                let! la = checkChain i accounts a
                let! lb = checkChain i accounts b
                Expect.equal (la.Length + lb.Length) 4 "two seeds and the winner's two events"
            })
        }

        testTask "an emit waiting for a locked aggregate past lock_timeout gets a retryable conflict and records nothing" {
            do! PgEnv.usingWith runtime tables (fun b -> b.Options <- "-c lock_timeout=300") (fun env -> task {
                let i = env.Interpreter
                let key = newKey ()
                let! seeded = emit i accounts key Expected.Any (deposit [ 100L ])
                ok "seed" seeded |> ignore
                let locked, release = TaskCompletionSource(), TaskCompletionSource()
                let holder =
                    background (fun () ->
                        Store.transact i (fun uow -> task {
                            match! uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], ct) with
                            | Error e -> return Error e
                            | Ok _ ->
                                locked.SetResult()
                                do! release.Task
                                return Ok()
                        }) ct)
                do! locked.Task
                let! waited = emit i accounts key Expected.Any (deposit [ 5L ])
                release.SetResult()
                let! held = holder
                ok "the holder" held
                match waited with
                | Error(Conflict(_, _, _, true, m)) -> Expect.stringContains m "lock_timeout" "the message names the cause"
                | other -> failtestf "expected a retryable conflict, got %A" (other |> Result.map ignore)
                let! chain = checkChain i accounts key
                Expect.equal chain.Length 2 "the seed and the holder's event only"
                let! retried = emit i accounts key Expected.Any (deposit [ 5L ])
                Expect.equal (ok "the retry" retried).Aggregate.State.Balance 106L "the retry sees the holder's deposit"
            })
        }
    ]
