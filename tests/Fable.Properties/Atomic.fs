// Atomicity under injected failures at every step of an emit: whatever fails (a payload the database cannot store
// included), nothing of the failed emit is visible (no event, no row change, no handler write), alone or inside a
// larger unit of work.
module Fable.Tests.Atomic

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Where an emit is made to fail.
type Fault =
    | DecideError
    | DecideException
    | DecideWritesThenRejects
    | HandlerError
    | HandlerException
    | EvolveException
    | ToRowException
    | UnknownType
    | NoRouteForEvent
    | Cancellation
    | ExpectedMismatch
    /// A payload jsonb cannot store: a string holding NUL.
    | NulInPayload

/// How the failing emit runs: alone, or after a successful emit on another account in one unit of work whose
/// work returns the error (all or nothing) or ignores it (the rest commits).
type Mode =
    | Alone
    | AllOrNothing
    | IgnoringTheError

let private faults =
    [ DecideError; DecideException; DecideWritesThenRejects; HandlerError; HandlerException; EvolveException
      ToRowException; UnknownType; NoRouteForEvent; Cancellation; ExpectedMismatch; NulInPayload ]

let private expectedCode fault =
    match fault with
    | DecideError | DecideWritesThenRejects -> ErrorCodes.Rejected
    | DecideException | HandlerError | HandlerException | EvolveException | ToRowException -> ErrorCodes.HandlerFailed
    | UnknownType -> ErrorCodes.UnknownEventType
    | NoRouteForEvent -> ErrorCodes.NoRoute
    | Cancellation -> ErrorCodes.Cancelled
    | ExpectedMismatch -> ErrorCodes.Conflict
    | NulInPayload -> ErrorCodes.UndecodablePayload

/// A decision that first records a valid deposit (so its ledger row is written) and then the faulty event.
let private depositThen (faulty: obj) : Decide<Account> =
    Pure(fun s -> Ok [ box { Amount = 5L; BalanceBefore = s.Balance }; faulty ])

let private note fault = box { Text = "injected"; Fault = fault }

let private failing (cts: CancellationTokenSource) (head: int64 option) (fault: Fault) : Expected * Decide<Account> =
    match fault with
    | DecideError -> Expected.Any, Pure(fun _ -> UntypedDecider.reject "decide refuses")
    | DecideException -> Expected.Any, Pure(fun _ -> failwith "decide exception injected")
    | DecideWritesThenRejects ->
        Expected.Any,
        InTransaction(fun uow _ ct ->
            task {
                let! written = uow.Tables.Insert(notesTable, Row.ofSeq [ "id", box -1L; "text", box "written by decide" ], ct)
                written |> ok "the decision's own insert"
                return UntypedDecider.reject "decide refuses after writing"
            })
    | HandlerError -> Expected.Any, depositThen (note "handler-error")
    | HandlerException -> Expected.Any, depositThen (note "handler-exception")
    | EvolveException -> Expected.Any, depositThen (note "evolve")
    | ToRowException -> Expected.Any, depositThen (note "torow")
    | UnknownType -> Expected.Any, depositThen (box ({ Value = 1 }: Unregistered))
    | NoRouteForEvent -> Expected.Any, depositThen (box ({ Value = 1 }: Unrouted))
    | Cancellation ->
        Expected.Any,
        InTransaction(fun _ s _ ->
            cts.Cancel()
            Task.FromResult(Ok [ box { Amount = 5L; BalanceBefore = s.Balance }; note "" ]))
    | ExpectedMismatch ->
        Expected.At(Some(defaultArg head 0L + 1000L)), Pure(fun s -> Ok [ box { Amount = 5L; BalanceBefore = s.Balance } ])
    | NulInPayload -> Expected.Any, depositThen (box { Text = "before\000after"; Fault = "" })

type private Snapshot =
    { Events: int64 list
      Account: (string * string) list option
      Ledger: (string * string) list list
      Notes: (string * string) list list }

let private snapshot (inst: Instance) (key: Guid) =
    let forAccount table =
        rows inst table |> List.filter (fun r -> Row.tryGet "account" r = Some(box key)) |> List.map canon
    { Events = readAll inst |> List.map (fun e -> e.Id)
      Account = rowOf inst accountsTable (box key) |> Option.map canon
      Ledger = forAccount ledgerTable
      Notes = rows inst notesTable |> List.map canon }

/// Whatever step fails, the failed emit leaves nothing, and the chain continues from the old head.
let injectedFailures (fixture: Fixture) =
    propertyOn fixture "an emit failing at any step leaves no event, no row change and no handler write" 300
        (Gen.zip3 Gens.history (Gen.elements faults) (Gen.elements [ Alone; AllOrNothing; IgnoringTheError ]))
        (fun (history, fault, mode) ->
            withInstance fixture runtime (fun inst ->
                let i = inst.Interpreter
                let key, other = Guid.NewGuid(), Guid.NewGuid()
                for cmd in history do
                    run (Store.emitPure i accounts (accountKey key) (Commands.decide cmd) ct) |> ignore
                let headBefore = run (Store.log i (accountId key) ct) |> ok "Log" |> List.tryLast |> Option.map (fun e -> e.Id)
                let before = snapshot inst key
                use cts = new CancellationTokenSource()
                let expected, decide = failing cts headBefore fault
                let failed = ref None
                let work (uow: IUnitOfWork) =
                    task {
                        if mode <> Alone then
                            let! companion = uow.Emit(accounts, accountKey other, Expected.Any, Pure(Commands.decide (Commands.Deposit 7L)), ct)
                            companion |> ok "the companion emit" |> ignore
                        let! r = uow.Emit(accounts, accountKey key, expected, decide, cts.Token)
                        failed.Value <- Some r
                        match r, mode with
                        | Error _, IgnoringTheError -> return Ok()
                        | Error e, _ -> return Error e
                        | Ok _, _ -> return Ok()
                    }
                let result = run (i.Transact(work, cts.Token))
                let emitError = failed.Value |> Option.map (err "the injected emit") |> Option.defaultWith (fun () -> failtest "the emit never ran")
                Expect.equal emitError.Code (expectedCode fault) (sprintf "%A fails with the right error (got %O)" fault emitError)
                let companionCommits = mode = IgnoringTheError && fault <> Cancellation
                match result with
                | Ok() -> Expect.isTrue companionCommits "only a unit of work that ignores the error commits"
                | Error e -> Expect.isFalse companionCommits (sprintf "the unit of work failed with %O" e)
                let after = snapshot inst key
                Expect.equal after.Account before.Account "the account row is unchanged"
                Expect.equal after.Ledger before.Ledger "no ledger row of the failed emit"
                Expect.equal after.Notes before.Notes "no note written by the failed emit"
                let added = after.Events |> List.except before.Events
                let companionEvents = if companionCommits then 1 else 0
                Expect.equal added.Length companionEvents "no event of the failed emit is in the log"
                let otherLog = run (Store.log i (accountId other) ct) |> ok "Log"
                Expect.equal otherLog.Length companionEvents "the companion emit commits only with a unit of work that goes on"
                let next = run (Store.append i accounts (accountKey key) [ note "" ] ct) |> ok "the next emit"
                Expect.equal next.Events.Head.PrevEventId headBefore "the next event follows the head from before the failure"))

/// A codec whose output is not JSON: Noted events with the text "raw" become `not json`.
let private rawRuntime =
    runtime
    |> withEncoding (function
        | :? Noted as n when n.Text = "raw" -> Some { TypeName = "account.noted"; TypeVersion = 1; Data = "not json" }
        | _ -> None)

/// A codec's output that the database cannot store is a typed error before anything is recorded, alike on
/// every interpreter (in memory it would otherwise be kept, and PostgreSQL would refuse it as Infrastructure).
let codecOutputChecked (fixture: Fixture) =
    testCase "a codec whose payload is not JSON gets UndecodablePayload and the emit records nothing" <| fun () ->
        withInstance fixture rawRuntime (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            run (Store.emitPure i accounts (accountKey key) (Commands.decide (Commands.Deposit 3L)) ct) |> ok "a deposit" |> ignore
            let before = snapshot inst key
            match run (Store.emitPure i accounts (accountKey key) (fun s -> Ok [ box { Amount = 5L; BalanceBefore = s.Balance }; box { Text = "raw"; Fault = "" } ]) ct) with
            | Error(UndecodablePayload("account.noted", 1, why)) -> Expect.stringContains why "not one JSON value" "the reason"
            | other -> failtestf "expected UndecodablePayload, got %A" (other |> Result.map ignore)
            Expect.equal (snapshot inst key) before "no event, row or handler write of the refused emit"
            let next = run (Store.emitPure i accounts (accountKey key) (fun _ -> Ok [ box { Text = "cooked"; Fault = "" } ]) ct) |> ok "the next emit"
            Expect.equal next.Aggregate.State.Notes 1L "the same codec's JSON payloads are recorded")

let tests (fixture: Fixture) = [ injectedFailures fixture; codecOutputChecked fixture ]
