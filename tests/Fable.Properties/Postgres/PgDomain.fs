// A small account domain for the Postgres tests: deposits (no handlers), notes (a handler writes a row of
// `notes`), and test-specific event types whose handlers each test supplies; helpers to run and check emits.
module Fable.Tests.PgDomain

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture

type Deposited = { Amount: int64 }
type Noted = { Note: string }
type Boom = { Reason: string }
type Slept = { Seconds: int }

/// The state of an account: balance, events seen, notes seen.
type Account = { Balance: int64; Events: int64; Notes: int64 }

/// The accounts aggregate in `table` with keys of `kind`.
let accountsIn (table: string) (kind: KeyType) : AggregateDef<Account> =
    { Table = table
      KeyKind = kind
      Initial = fun _ -> { Balance = 0L; Events = 0L; Notes = 0L }
      Evolve =
        fun s e ->
            match e with
            | :? Deposited as d -> { s with Balance = s.Balance + d.Amount; Events = s.Events + 1L }
            | :? Noted -> { s with Notes = s.Notes + 1L; Events = s.Events + 1L }
            | _ -> { s with Events = s.Events + 1L }
      ToRow = fun s -> Row.ofSeq [ "balance", box s.Balance; "events", box s.Events; "notes", box s.Notes ]
      OfRow =
        fun r ->
            { Balance = r["balance"] :?> int64
              Events = r["events"] :?> int64
              Notes = r["notes"] :?> int64 } }

/// The accounts aggregate with uuid keys in table `accounts`.
let accounts = accountsIn "accounts" KeyType.Uuid

/// The table of an accounts aggregate.
let accountsSpec (name: string) (kind: KeyType) =
    TableDecl.aggregate name kind
        [ TableDecl.column "balance" ColumnType.BigInt; TableDecl.column "events" ColumnType.BigInt
          TableDecl.column "notes" ColumnType.BigInt ]

/// Rows written by the note handler: id = event id, the account key and the note.
let notesSpec =
    TableDecl.table "notes" KeyType.Text [ TableDecl.nullable "account" ColumnType.Text; TableDecl.nullable "body" ColumnType.Text ]

/// The default tables: accounts (uuid) and notes.
let tables = [ accountsSpec "accounts" KeyType.Uuid; notesSpec ]

let private registry =
    EventRegistry.empty
    |> EventRegistry.add (EventType.create<Deposited> "deposited")
    |> EventRegistry.add (EventType.create<Noted> "noted")
    |> EventRegistry.add (EventType.create<Boom> "boom")
    |> EventRegistry.add (EventType.create<Slept> "slept")

/// Writes (upserts) the note of a Noted event into `notes`.
let noteHandler =
    Router.handler<Noted> "write-note" (fun args e ->
        args.Uow.Tables.Upsert(
            "notes",
            Row.ofSeq [ "id", box (string args.Recorded.Id); "account", box (string args.Aggregate.Key); "body", box e.Note ],
            args.CancellationToken))

/// Deposits have no handlers; notes are written by `noteHandler`.
let baseRouter = Router.empty |> Router.route<Deposited> [] |> Router.route<Noted> [ noteHandler ]

/// The runtime with the base routes and `extra` merged after them.
let runtimeWith (extra: Router) =
    match Runtime.build { Events = registry; Router = Router.merge baseRouter extra; ProcessManagers = []; Tables = [] } with
    | Ok rt -> rt
    | Error e -> failwithf "test runtime: %O" e

/// The runtime with the base routes only.
let runtime = runtimeWith Router.empty

/// A decision that deposits each amount.
let deposit (amounts: int64 list) : Decide<Account> = Pure(fun _ -> Ok [ for a in amounts -> box { Amount = a } ])

/// A decision that records `events` whatever the state.
let always (events: obj list) : Decide<Account> = Pure(fun _ -> Ok events)

/// The Ok value, or a test failure showing the error.
let ok (what: string) (r: Result<'T, FableError>) =
    match r with
    | Ok v -> v
    | Error e -> failtestf "%s failed: %O" what e

/// The error, or a test failure when the result is Ok.
let err (what: string) (r: Result<'T, FableError>) =
    match r with
    | Ok v -> failtestf "%s should have failed but returned %A" what v
    | Error e -> e

/// Emits `decide` on `key` in its own transaction.
/// Boom: a first handler writes a note, the second throws (so a failed emit has written an event and a row).
let boomRouter =
    Router.empty
    |> Router.route<Boom> [
        Router.handler<Boom> "note-first" (fun args e ->
            args.Uow.Tables.Insert("notes", Row.ofSeq [ "id", box ("boom-" + string args.Recorded.Id); "account", null; "body", box e.Reason ], args.CancellationToken))
        Router.handler<Boom> "throw" (fun _ e -> raise (InvalidOperationException e.Reason)) ]

/// A fresh uuid aggregate key.
let newKey () = AggregateKey.Uuid(Guid.NewGuid())

let emit (i: IInterpreter) (def: AggregateDef<Account>) key expected decide =
    Store.emit i def key expected decide CancellationToken.None

/// Checks the chain of one aggregate: first event has no predecessor, each next follows the previous one,
/// and the row's last_event_id is the chain's head. Returns the log.
let checkChain (i: IInterpreter) (def: AggregateDef<Account>) (key: AggregateKey) : Task<StoredEvent list> =
    task {
        let! log = Store.log i (AggregateDef.idOf def key) CancellationToken.None
        let log = ok "log" log
        let! loaded = Store.load i def key CancellationToken.None
        let loaded = ok "load" loaded
        match log with
        | [] -> Expect.isNone loaded "an aggregate without events has no row"
        | first :: _ ->
            Expect.isNone first.PrevEventId "the first event has no predecessor"
            for (a, b) in List.pairwise log do
                Expect.equal b.PrevEventId (Some a.Id) "each event follows the previous one"
            Expect.equal (loaded |> Option.bind (fun a -> a.LastEventId)) (Some (List.last log).Id) "the row points at the chain's head"
        return log
    }

/// Runs `f` on the thread pool (a real concurrent writer).
let background (f: unit -> Task<'T>) : Task<'T> = Task.Run<'T>(Func<Task<'T>>(f))

/// Polls `read` until `ready` holds for its value (the guard only bounds a hang; assertions follow it).
let eventually (read: unit -> Task<'T>) (ready: 'T -> bool) : Task<'T> =
    task {
        let deadline = DateTime.UtcNow.AddSeconds 60.0
        let! v = read ()
        let mutable v = v
        while not (ready v) && DateTime.UtcNow < deadline do
            do! Task.Delay 20
            let! next = read ()
            v <- next
        return v
    }
