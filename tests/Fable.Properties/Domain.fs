// The test domain: bank accounts (uuid keys) with five event types, a ledger handler that writes an associated
// row, a notes handler that can be told to fail, and counters (text keys) for the concurrency properties.
module Fable.Tests.Domain

open System
open System.Threading.Tasks
open Fable.FSharp
open Fable.Tests.Fixture

type Opened = { Owner: string }
type Deposited = { Amount: int64; BalanceBefore: int64 }
type Withdrawn = { Taken: int64; BalanceBefore: int64 }
/// A note; `Fault` makes a step fail on purpose: "handler-error", "handler-exception", "evolve", "torow" or "".
type Noted = { Text: string; Fault: string }
type Closed = { Reason: string }
/// Registered but never routed: emitting it is NoRoute.
type Unrouted = { Value: int }
/// Never registered: emitting it is UnknownEventType.
type Unregistered = { Value: int }
/// One increment of a counter; `Seen` is the value the decision saw.
type Incremented = { Seen: int64 }

/// An account as the row holds it.
type Account =
    { Owner: string
      Balance: int64
      EventCount: int64
      Closed: bool
      Notes: int64
      /// Set by a Noted "torow" fault: ToRow throws.
      Poisoned: bool }

/// A counter as the row holds it.
type Counter = { Value: int64; EventCount: int64 }

let accountsTable = "accounts"
let ledgerTable = "ledger"
let notesTable = "notes"
let countersTable = "counters"
/// A plain table for the table-API properties.
let kvTable = "kv"
/// What process managers handled: one row per (process manager, event).
let seenTable = "pm_seen"
/// The order handlers ran in.
let traceTable = "handler_trace"

let private int64Of (o: obj) = Convert.ToInt64 o

let evolveAccount (s: Account) (e: obj) =
    let s = { s with EventCount = s.EventCount + 1L }
    match e with
    | :? Opened as o -> { s with Owner = o.Owner }
    | :? Deposited as d -> { s with Balance = s.Balance + d.Amount }
    | :? Withdrawn as w -> { s with Balance = s.Balance - w.Taken }
    | :? Noted as n when n.Fault = "evolve" -> failwith "evolve fault injected"
    | :? Noted as n -> { s with Notes = s.Notes + 1L; Poisoned = s.Poisoned || n.Fault = "torow" }
    | :? Closed -> { s with Closed = true }
    | _ -> s

let accounts: AggregateDef<Account> =
    { Table = accountsTable
      KeyKind = KeyType.Uuid
      Initial = fun _ -> { Owner = ""; Balance = 0L; EventCount = 0L; Closed = false; Notes = 0L; Poisoned = false }
      Evolve = evolveAccount
      ToRow =
        fun s ->
            if s.Poisoned then failwith "ToRow fault injected"
            Row.ofSeq [ "owner", box s.Owner; "balance", box s.Balance; "event_count", box s.EventCount
                        "closed", box s.Closed; "notes", box s.Notes ]
      OfRow =
        fun r ->
            { Owner = string r["owner"]; Balance = int64Of r["balance"]; EventCount = int64Of r["event_count"]
              Closed = Convert.ToBoolean r["closed"]; Notes = int64Of r["notes"]; Poisoned = false } }

let counters: AggregateDef<Counter> =
    { Table = countersTable
      KeyKind = KeyType.Text
      Initial = fun _ -> { Value = 0L; EventCount = 0L }
      Evolve =
        fun s e ->
            match e with
            | :? Incremented -> { Value = s.Value + 1L; EventCount = s.EventCount + 1L }
            | _ -> s
      ToRow = fun s -> Row.ofSeq [ "value", box s.Value; "event_count", box s.EventCount ]
      OfRow = fun r -> { Value = int64Of r["value"]; EventCount = int64Of r["event_count"] } }

let private accountKey (args: HandlerArgs) =
    match args.Aggregate.Key with
    | AggregateKey.Uuid g -> g
    | k -> failwithf "accounts have uuid keys, got %O" k

/// Writes the ledger row of a deposit or withdrawal (upsert, so a replay rewrites the same row).
let private ledger (amount: int64) (args: HandlerArgs) =
    let state = args.State :?> Account
    args.Uow.Tables.Upsert(
        ledgerTable,
        Row.ofSeq [ "id", box args.Recorded.Id; "account", box (accountKey args); "amount", box amount
                    "balance", box state.Balance ],
        args.CancellationToken)

/// Writes the note row, then fails as the note says.
let private note (args: HandlerArgs) (n: Noted) : Task<Result<unit, FableError>> =
    task {
        let row = Row.ofSeq [ "id", box args.Recorded.Id; "account", box (accountKey args); "text", box n.Text ]
        let! written =
            if args.Replaying then args.Uow.Tables.Upsert(notesTable, row, args.CancellationToken)
            else args.Uow.Tables.Insert(notesTable, row, args.CancellationToken)
        match written, n.Fault with
        | Error e, _ -> return Error e
        | Ok(), "handler-error" -> return Error(FableError.reject "handler fault injected")
        | Ok(), "handler-exception" -> return raise (InvalidOperationException "handler exception injected")
        | Ok(), _ -> return Ok()
    }

/// The routes of the account domain.
let router =
    Router.empty
    |> Router.route<Opened> []
    |> Router.route<Deposited> [ Router.handler<Deposited> "ledger" (fun args d -> ledger d.Amount args) ]
    |> Router.route<Withdrawn> [ Router.handler<Withdrawn> "ledger" (fun args w -> ledger -w.Taken args) ]
    |> Router.route<Noted> [ Router.handler<Noted> "notes" note ]
    |> Router.route<Closed> []
    |> Router.route<Incremented> []

/// The event registry of the domain.
let events =
    EventRegistry.empty
    |> EventRegistry.add (EventType.create<Opened> "account.opened")
    |> EventRegistry.add (EventType.create<Deposited> "account.deposited")
    |> EventRegistry.add (EventType.create<Withdrawn> "account.withdrawn")
    |> EventRegistry.add (EventType.create<Noted> "account.noted")
    |> EventRegistry.add (EventType.create<Closed> "account.closed")
    |> EventRegistry.add (EventType.create<Unrouted> "account.unrouted")
    |> EventRegistry.add (EventType.create<Incremented> "counter.incremented")

/// The tables the domain needs (every column nullable, as the tests write partial rows).
let tables: TableSpec list =
    let n name (t: ColumnType) = TableDecl.nullable name t
    [ TableDecl.aggregate accountsTable KeyType.Uuid
          [ n "owner" ColumnType.Text; n "balance" ColumnType.BigInt; n "event_count" ColumnType.BigInt
            n "closed" ColumnType.Boolean; n "notes" ColumnType.BigInt ]
      TableDecl.table ledgerTable KeyType.Int [ n "account" ColumnType.Uuid; n "amount" ColumnType.BigInt; n "balance" ColumnType.BigInt ]
      TableDecl.table notesTable KeyType.Int [ n "account" ColumnType.Uuid; n "text" ColumnType.Text ]
      TableDecl.aggregate countersTable KeyType.Text [ n "value" ColumnType.BigInt; n "event_count" ColumnType.BigInt ]
      TableDecl.table kvTable KeyType.Int [ n "a" ColumnType.BigInt; n "b" ColumnType.BigInt; n "c" ColumnType.Text ]
      TableDecl.table seenTable KeyType.Text
          [ n "pm" ColumnType.Text; n "event" ColumnType.BigInt; n "aggregate" ColumnType.Text; n "prev" ColumnType.BigInt
            n "seq" ColumnType.BigInt; n "times" ColumnType.BigInt ]
      TableDecl.table traceTable KeyType.Int [ n "handler" ColumnType.Text ] ]

/// The domain's definition with extra process managers.
let definition (pms: ProcessManagerDef list) = { Events = events; Router = router; ProcessManagers = pms; Tables = tables }

/// The domain's runtime with extra process managers (fails the test when invalid).
let runtimeWith (pms: ProcessManagerDef list) =
    match Runtime.build (definition pms) with
    | Ok rt -> rt
    | Error e -> failwithf "the test domain is invalid: %O" e

/// The domain's runtime without process managers.
let runtime = runtimeWith []
