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

/// The account aggregate's events: one case per event record, each with its stable name.
type AccountEvent =
    | [<Event("account.opened")>] Opened of Opened
    | [<Event("account.deposited")>] Deposited of Deposited
    | [<Event("account.withdrawn")>] Withdrawn of Withdrawn
    | [<Event("account.noted")>] Noted of Noted
    | [<Event("account.closed")>] Closed of Closed

/// The counter aggregate's events.
type CounterEvent = | [<Event("counter.incremented")>] Incremented of Incremented

/// Evolves an account by one event (exhaustive: a new case does not compile until it is handled here).
let evolveAccount (s: Account) (e: AccountEvent) =
    let s = { s with EventCount = s.EventCount + 1L }
    match e with
    | Opened o -> { s with Owner = o.Owner }
    | Deposited d -> { s with Balance = s.Balance + d.Amount }
    | Withdrawn w -> { s with Balance = s.Balance - w.Taken }
    | Noted n when n.Fault = "evolve" -> failwith "evolve fault injected"
    | Noted n -> { s with Notes = s.Notes + 1L; Poisoned = s.Poisoned || n.Fault = "torow" }
    | Closed _ -> { s with Closed = true }

let accountEvents = EventUnion.create<AccountEvent> ()
let counterEvents = EventUnion.create<CounterEvent> ()

/// The account aggregate, typed.
let accountsDecider: Decider<Account, AccountEvent, Guid> =
    Decider.create accountsTable accountEvents
        (fun _ -> { Owner = ""; Balance = 0L; EventCount = 0L; Closed = false; Notes = 0L; Poisoned = false })
        evolveAccount
        (fun s ->
            if s.Poisoned then failwith "ToRow fault injected"
            Row.ofSeq [ "owner", box s.Owner; "balance", box s.Balance; "event_count", box s.EventCount
                        "closed", box s.Closed; "notes", box s.Notes ])
        (fun r ->
            { Owner = string r["owner"]; Balance = int64Of r["balance"]; EventCount = int64Of r["event_count"]
              Closed = Convert.ToBoolean r["closed"]; Notes = int64Of r["notes"]; Poisoned = false })

/// The counter aggregate, typed.
let countersDecider: Decider<Counter, CounterEvent, string> =
    Decider.create countersTable counterEvents
        (fun _ -> { Value = 0L; EventCount = 0L })
        (fun s e ->
            match e with
            | Incremented _ -> { Value = s.Value + 1L; EventCount = s.EventCount + 1L })
        (fun s -> Row.ofSeq [ "value", box s.Value; "event_count", box s.EventCount ])
        (fun r -> { Value = int64Of r["value"]; EventCount = int64Of r["event_count"] })

/// The untyped definition most properties emit through (the interpreter contract). It evolves through the union and,
/// as before, counts an event outside it (the properties record raw payloads, tagged and unknown types on purpose).
let accounts: AggregateDef<Account> =
    { Decider.definition accountsDecider with
        Evolve =
            fun s o ->
                match accountEvents.TryOfRecord o with
                | ValueSome e -> evolveAccount s e
                | ValueNone -> { s with EventCount = s.EventCount + 1L } }
let counters: AggregateDef<Counter> = Decider.definition countersDecider

/// Writes the ledger row of a deposit or withdrawal (upsert, so a replay rewrites the same row).
let private ledger (amount: int64) (ctx: EventContext<Account, Guid>) =
    ctx.Uow.Tables.Upsert(
        ledgerTable,
        Row.ofSeq [ "id", box ctx.Recorded.Id; "account", box ctx.Key; "amount", box amount; "balance", box ctx.State.Balance ],
        ctx.CancellationToken)

/// Writes the note row, then fails as the note says.
let private note (ctx: EventContext<Account, Guid>) (n: Noted) : Task<Result<unit, FableError>> =
    task {
        let row = Row.ofSeq [ "id", box ctx.Recorded.Id; "account", box ctx.Key; "text", box n.Text ]
        let! written =
            if ctx.Replaying then ctx.Uow.Tables.Upsert(notesTable, row, ctx.CancellationToken)
            else ctx.Uow.Tables.Insert(notesTable, row, ctx.CancellationToken)
        match written, n.Fault with
        | Error e, _ -> return Error e
        | Ok(), "handler-error" -> return Error(FableError.reject "handler fault injected")
        | Ok(), "handler-exception" -> return raise (InvalidOperationException "handler exception injected")
        | Ok(), _ -> return Ok()
    }

/// The account reactions over the union (exhaustive matches).
let accountReactions: Reaction<Account, Guid, AccountEvent> list =
    [ Reaction.create "ledger" (fun ctx e ->
          match e with
          | Deposited d -> ledger d.Amount ctx
          | Withdrawn w -> ledger -w.Taken ctx
          | Opened _ | Noted _ | Closed _ -> Reaction.skip)
      Reaction.create "notes" (fun ctx e ->
          match e with
          | Noted n -> note ctx n
          | Opened _ | Deposited _ | Withdrawn _ | Closed _ -> Reaction.skip) ]

/// The routes of the account domain: every case of both unions (Unrouted stays without a route).
let router =
    Router.merge (Decider.routes accountReactions accountsDecider) (Decider.routes [] countersDecider)

/// The event registry of the domain: both unions, and Unrouted (registered but never routed).
let events =
    EventRegistry.empty
    |> Decider.register accountsDecider
    |> Result.bind (Decider.register countersDecider)
    |> Result.map (EventRegistry.add (EventType.create<Unrouted> "account.unrouted"))
    |> function
        | Ok r -> r
        | Error e -> failwithf "the test domain's events are invalid: %O" e

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
