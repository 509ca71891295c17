// Units of work: several emits commit together or fail together, a failed emit inside one is taken back alone,
// an exception discards everything, uncommitted writes stay invisible, and an ended unit of work refuses use.
module Fable.Tests.UnitsOfWork

open System
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

let private steps =
    gen {
        let! accounts = Gen.choose (1, 3)
        let! n = Gen.choose (1, 12)
        let! steps = Gen.listOfLength n (Gen.zip (Gen.choose (0, accounts - 1)) Gens.command)
        return accounts, steps
    }

let private modelOf (keys: Guid[]) (steps: (int * Commands.Command) list) (a: int) =
    Commands.model (accountKey keys[a]) (steps |> List.filter (fun (x, _) -> x = a) |> List.map snd)

/// With all-or-nothing work, either every emit commits (each account in its model state) or nothing does.
let together (fixture: Fixture) =
    propertyOn fixture "emits in one unit of work commit together, or none does when one fails" 200 steps (fun (accountCount, steps) ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let keys = Array.init accountCount (fun _ -> Guid.NewGuid())
            let work (uow: IUnitOfWork) =
                task {
                    let mutable result = Ok()
                    for (a, cmd) in steps do
                        if Result.isOk result then
                            match! uow.Emit(accounts, accountKey keys[a], Expected.Any, Pure(Commands.decide cmd), ct) with
                            | Ok _ -> ()
                            | Error e -> result <- Error e
                    return result
                }
            let rejected =
                let mutable states = keys |> Array.map (fun k -> accounts.Initial(accountKey k))
                steps
                |> List.exists (fun (a, cmd) ->
                    match UntypedDecider.run accounts.Evolve (Commands.decide cmd) states[a] with
                    | Ok(s, _) ->
                        states[a] <- s
                        false
                    | Error _ -> true)
            match run (i.Transact(work, ct)) with
            | Ok() ->
                Expect.isFalse rejected "the unit of work commits only when no decision refuses"
                for a in 0 .. accountCount - 1 do
                    let expected, events = modelOf keys steps a
                    let loaded = run (Store.load i accounts (accountKey keys[a]) ct) |> ok "Load"
                    Expect.equal (loaded |> Option.map (fun x -> x.State)) (if events.IsEmpty then None else Some expected)
                        "each account is in its model state"
            | Error(Rejected _) ->
                Expect.isTrue rejected "only a refused decision fails the unit of work"
                Expect.isEmpty (readAll inst) "no event of a failed unit of work is committed"
                Expect.isEmpty (rows inst accountsTable) "no row of a failed unit of work is committed"
                Expect.isEmpty (rows inst ledgerTable) "no ledger row of a failed unit of work is committed"
            | Error e -> failtestf "unexpected error %O" e))

/// When the work ignores a failed emit, that emit alone leaves nothing and the rest commits.
let failedEmitAlone (fixture: Fixture) =
    propertyOn fixture "a failed emit inside a unit of work is taken back alone when the work goes on" 200
        (Gen.zip steps (Gen.choose (0, 12)))
        (fun ((accountCount, steps), faultAt) ->
            withInstance fixture runtime (fun inst ->
                let i = inst.Interpreter
                let keys = Array.init accountCount (fun _ -> Guid.NewGuid())
                let faulty = Pure(fun (s: Account) -> Ok [ box { Amount = 1L; BalanceBefore = s.Balance }; box { Text = "faulty"; Fault = "handler-exception" } ])
                let work (uow: IUnitOfWork) =
                    task {
                        for (n, (a, cmd)) in List.indexed steps do
                            if n = faultAt then
                                let! r = uow.Emit(accounts, accountKey keys[a], Expected.Any, faulty, ct)
                                Expect.isError r "the faulty emit fails"
                            let! _ = uow.Emit(accounts, accountKey keys[a], Expected.Any, Pure(Commands.decide cmd), ct)
                            ()
                        return Ok()
                    }
                run (i.Transact(work, ct)) |> ok "the unit of work"
                for a in 0 .. accountCount - 1 do
                    let expected, events = modelOf keys steps a
                    let loaded = run (Store.load i accounts (accountKey keys[a]) ct) |> ok "Load"
                    Expect.equal (loaded |> Option.map (fun x -> x.State)) (if events.IsEmpty then None else Some expected)
                        "each account is in the state of its successful commands"
                Expect.isEmpty (rows inst notesTable |> List.filter (fun r -> Row.tryGet "text" r = Some(box "faulty")))
                    "the failed emit's note is gone"
                let all = Checks.globalLog inst
                for k in keys do
                    Checks.aggregate inst all accounts (accountKey k) |> ignore))

/// An exception thrown by the work discards every emit and write made in it.
let exceptionDiscards (fixture: Fixture) =
    propertyOn fixture "an exception thrown by the work discards the whole unit of work" 100 steps (fun (accountCount, steps) ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let keys = Array.init accountCount (fun _ -> Guid.NewGuid())
            let work (uow: IUnitOfWork) : Task<Result<unit, FableError>> =
                task {
                    for (a, cmd) in steps do
                        let! _ = uow.Emit(accounts, accountKey keys[a], Expected.Any, Pure(Commands.decide cmd), ct)
                        ()
                    let! _ = uow.Tables.Insert(kvTable, Row.ofSeq [ "id", box 1L; "a", box 1L ], ct)
                    return raise (InvalidOperationException "the work throws")
                }
            let e = run (i.Transact(work, ct)) |> err "a throwing unit of work"
            Expect.equal e.Code ErrorCodes.HandlerFailed (sprintf "a thrown exception is a HandlerFailed of the work: %O" e)
            Expect.isEmpty (readAll inst) "no event is committed"
            Expect.isEmpty (rows inst accountsTable) "no aggregate row is committed"
            Expect.isEmpty (rows inst kvTable) "no table write is committed"))

/// Writes are visible inside their unit of work only, and to everyone after commit.
let isolation (fixture: Fixture) =
    testCase "uncommitted emits and writes are invisible outside their unit of work until it commits" <| fun () ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            let work (uow: IUnitOfWork) =
                task {
                    let! _ = uow.Emit(accounts, accountKey key, Expected.Any, Pure(Commands.decide (Commands.Deposit 10L)), ct)
                    let! _ = uow.Tables.Insert(kvTable, Row.ofSeq [ "id", box 7L; "c", box "x" ], ct)
                    let! inside = uow.Load(accounts, accountKey key, ct)
                    Expect.equal (inside |> ok "Load inside" |> Option.map (fun a -> a.State.Balance)) (Some 10L) "the unit of work sees its own emit"
                    let! own = uow.Tables.Get(kvTable, box 7L, ct)
                    Expect.isSome (own |> ok "Get inside") "the unit of work sees its own write"
                    Expect.isEmpty (run (inst.ReadTable accountsTable)) "others do not see the uncommitted aggregate row"
                    Expect.isEmpty (run (inst.ReadTable kvTable)) "others do not see the uncommitted write"
                    Expect.isEmpty (readAllNow i) "followers do not see uncommitted events"
                    return Ok()
                }
            run (i.Transact(work, ct)) |> ok "the unit of work"
            Expect.equal (rows inst kvTable).Length 1 "the write is visible after commit"
            Expect.equal (readAll inst).Length 1 "the event is visible after commit")

/// A unit of work used after it ended returns an error instead of writing.
let endedRefuses (fixture: Fixture) =
    testCase "a unit of work used after it ended refuses with an error and writes nothing" <| fun () ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let captured = ref Unchecked.defaultof<IUnitOfWork>
            run (i.Transact((fun uow -> captured.Value <- uow; Task.FromResult(Ok())), ct)) |> ok "the unit of work"
            let key = Guid.NewGuid()
            let late = run (captured.Value.Emit(accounts, accountKey key, Expected.Any, Pure(Commands.decide (Commands.Deposit 1L)), ct))
            Expect.isError late "an emit on an ended unit of work fails"
            Expect.isError (run (captured.Value.Tables.Insert(kvTable, Row.ofSeq [ "id", box 1L ], ct))) "a write on an ended unit of work fails"
            Expect.isEmpty (readAll inst) "nothing was recorded"
            Expect.isEmpty (rows inst kvTable) "nothing was written")

/// A follower reading while an earlier transaction is still open never skips that transaction's event.
let noSkip (fixture: Fixture) =
    propertyOn fixture "a follower never skips an event whose transaction commits after a later one" 50 (Gen.choose (0, 3)) (fun laterCount ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let early, later = Guid.NewGuid(), Guid.NewGuid()
            let mutable checkpoint = LogPosition.Origin
            let mutable readEarly = []
            let work (uow: IUnitOfWork) =
                task {
                    let! mine = uow.Emit(accounts, accountKey early, Expected.Any, Pure(Commands.decide (Commands.Deposit 1L)), ct)
                    mine |> ok "the early emit" |> ignore
                    for _ in 1..laterCount do
                        run (Store.emitPure i accounts (accountKey later) (Commands.decide (Commands.Deposit 2L)) ct) |> ok "a later emit" |> ignore
                    let seen = readAllNow i
                    readEarly <- seen
                    checkpoint <- (match List.tryLast seen with Some e -> e.Position | None -> LogPosition.Origin)
                    return Ok(mine |> Result.map (fun e -> e.Events.Head.Id))
                }
            let earlyId = run (i.Transact(work, ct)) |> ok "the early unit of work" |> ok "its emit"
            Expect.isFalse (readEarly |> List.exists (fun e -> e.Id = earlyId)) "an uncommitted event is not read"
            settle inst
            let after = run (i.ReadAll(checkpoint, 1000, ct)) |> ok "ReadAll"
            Expect.isTrue (after |> List.exists (fun e -> e.Id = earlyId)) "reading on from the checkpoint finds the early event"
            Expect.equal (readEarly @ after |> List.map (fun e -> e.Id) |> List.sort) (readAll inst |> List.map (fun e -> e.Id) |> List.sort)
                "together the two reads saw every event once"))

let tests (fixture: Fixture) =
    [ together fixture; failedEmitAlone fixture; exceptionDiscards fixture; isolation fixture; endedRefuses fixture; noSkip fixture ]
