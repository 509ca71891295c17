// Batch sizes: Core's BatchSizing rule (full batches committed whole double, up to 16× the declared size; anything
// else, the declared size) and, on each interpreter, a process manager that is behind commits fewer, larger batches
// while a live one, a fresh catch-up and the batch after a failure read the declared size.
module Fable.Tests.BatchSizes

open System
open System.Collections.Concurrent
open System.Collections.Generic
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

let private at n = { Tx = 1L; Id = int64 n }

/// The sizes a runner reads when every batch is full and commits whole, from the declared size.
let private sizesWhileBehind (declared: int) (count: int) =
    let mutable sizing = BatchSizing.Declared
    [ for i in 1..count do
        let size = BatchSizing.size declared sizing (at (i - 1))
        sizing <- BatchSizing.after declared size (Some(size, at i))
        size ]

/// The pure rule.
let rule =
    testList "batch sizing" [
        property "full batches committed whole double from the declared size up to 16 times it" 200 (Gen.choose (1, 100_000)) (fun d ->
            Expect.equal (sizesWhileBehind d 7) [ d; 2 * d; 4 * d; 8 * d; 16 * d; 16 * d; 16 * d ] "1, 2, 4, 8, 16, 16, 16 times the declared size")
        property "a short batch, a failure or any batch that did not commit whole gives the declared size again" 200
            (Gen.zip3 (Gen.choose (1, 1000)) (Gen.choose (0, 4)) (Gen.elements [ None; Some 0; Some 1 ])) (fun (d, doublings, shortBy) ->
                let requested = BatchSizing.grown d (d <<< doublings)
                let ended = shortBy |> Option.map (fun s -> max 0 (requested - 1 - s), at 9)
                Expect.equal (BatchSizing.after d requested ended) BatchSizing.Declared "back to the declared size")
        property "a grown size applies only at the checkpoint the full batch ended at" 200 (Gen.zip (Gen.choose (1, 1000)) (Gen.choose (0, 20))) (fun (d, n) ->
            let sizing = BatchSizing.after d d (Some(d, at 10))
            Expect.equal (BatchSizing.size d sizing (at 10)) (2 * d) "grown where the batch ended"
            if n <> 10 then Expect.equal (BatchSizing.size d sizing (at n)) d "declared anywhere else (a reset or rebuild moved the checkpoint)")
        property "a read of `most` events holds the batch's size at any checkpoint (the read comes before the lock says where)" 200
            (Gen.zip3 (Gen.choose (1, 1000)) (Gen.choose (0, 6)) (Gen.choose (0, 20))) (fun (d, fulls, n) ->
                let sizing = Seq.fold (fun s i -> BatchSizing.after d (BatchSizing.size d s (at (i - 1))) (Some(BatchSizing.size d s (at (i - 1)), at i))) BatchSizing.Declared (seq { 1..fulls })
                Expect.isGreaterThanOrEqual (BatchSizing.most d sizing) (BatchSizing.size d sizing (at n)) "never fewer than the batch keeps"
                Expect.isLessThanOrEqual (BatchSizing.most d sizing) (d * BatchSizing.growthCap) "never past the cap")
        test "the cap never overflows" {
            Expect.equal (BatchSizing.grown Int32.MaxValue Int32.MaxValue) Int32.MaxValue "Int32.MaxValue at most"
            Expect.equal (BatchSizing.grown 200_000_000 1_600_000_000) Int32.MaxValue "16 × 200,000,000 capped at Int32.MaxValue"
        }
    ]

/// A process manager of declared batch size `batchSize` recording, per handled event, which unit of work (batch)
/// handled it; event number `failAt` fails at its first attempt.
let private recording (batchSize: int) (failAt: int) =
    let batches = ConcurrentQueue<obj * int64>()
    let attempts = ConcurrentDictionary<int64, int>()
    let handle (uow: IUnitOfWork) (n: int64) (inc: Incoming) _ : Task<Result<int64, FableError>> =
        let number = match inc.Event with Some(:? Noted as e) -> int64 e.Text | _ -> -1L
        batches.Enqueue((box uow, number))
        if number = int64 failAt && attempts.AddOrUpdate(number, 1, fun _ a -> a + 1) = 1 then
            Task.FromResult(Error(FableError.reject "failure injected"))
        else Task.FromResult(Ok(n + 1L))
    let pm = ProcessManager.create "sized" 0L (fun s _ -> Ok s) |> ProcessManager.withHandleIn handle
    { pm with ErrorPolicy = OnFailure.Retry(TimeSpan.FromMilliseconds 1.0, None); BatchSize = batchSize } |> ProcessManager.erase, batches

/// The events each unit of work handled, in handling order, and clears the record.
let private drain (batches: ConcurrentQueue<obj * int64>) =
    let order = List<obj>()
    let byUow = Dictionary<obj, List<int64>>(HashIdentity.Reference)
    let mutable item = Unchecked.defaultof<obj * int64>
    while batches.TryDequeue(&item) do
        let uow, number = item
        if not (byUow.ContainsKey uow) then
            order.Add uow
            byUow[uow] <- List<int64>()
        byUow[uow].Add number
    [ for u in order -> List.ofSeq byUow[u] ]

let private emit (inst: Instance) (key: Guid) (next: int ref) (count: int) =
    let notes = [ for i in 0 .. count - 1 -> box { Text = string (next.Value + i); Fault = "" } ]
    next.Value <- next.Value + count
    run (Store.append inst.Interpreter accounts (accountKey key) notes ct) |> ok "append" |> ignore

let private catchUp (inst: Instance) = run (inst.ProcessManagers.CatchUp(guard ())) |> ok "CatchUp"

/// On one interpreter. Sequenced: on PostgreSQL a transaction another test holds open keeps the newest events
/// behind the no-skip horizon for a moment, and the batch that meets it is short (so the next one has the declared
/// size again): right by the rule, but not the sizes these tests pin.
let tests (fixture: Fixture) =
    [ testCase "a process manager that is behind commits fewer, growing batches; a fresh catch-up and a live one read the declared size" <| fun () ->
          let pm, batches = recording 5 -1
          withInstance fixture (runtimeWith [ pm ]) (fun inst ->
              let key = Guid.NewGuid()
              let next = ref 0
              for _ in 1..20 do
                  emit inst key next 10
              catchUp inst
              let sizes = drain batches |> List.map List.length
              Expect.equal sizes [ 5; 10; 20; 40; 80; 45 ] "200 events behind: 6 batches (5, 10, 20, 40, 80 = 16 × 5, the rest), not 40 of 5"
              emit inst key next 3
              catchUp inst
              Expect.equal (drain batches |> List.map List.length) [ 3 ] "live: one batch of what waits"
              emit inst key next 12
              catchUp inst
              Expect.equal (drain batches |> List.map List.length) [ 5; 7 ] "a new catch-up starts at the declared size")
      testCase "a grown batch failing at an event commits the events before it, and the batch after the failure has the declared size" <| fun () ->
          let pm, batches = recording 2 9
          withInstance fixture (runtimeWith [ pm ]) (fun inst ->
              let key = Guid.NewGuid()
              let next = ref 0
              emit inst key next 20
              catchUp inst
              let handled = drain batches
              Expect.equal handled [ [ 0L; 1L ]; [ 2L; 3L; 4L; 5L ]; [ 6L; 7L; 8L; 9L ]; [ 6L; 7L; 8L ]; [ 9L; 10L ]; [ 11L; 12L; 13L; 14L ]; [ 15L; 16L; 17L; 18L; 19L ] ]
                  "2, 4, then a batch of 8 fails at its 4th event: its first 3 commit alone; the retry reads 2, then 4, then the rest"
              let st = run (inst.ProcessManagers.Status("sized", ct)) |> ok "Status"
              Expect.equal st.State "20" "every event counted once in the state"
              Expect.isNone st.LastError "the retry succeeded") ]
    |> List.map testSequenced
