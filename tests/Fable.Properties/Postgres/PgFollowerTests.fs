// ReadAll never skips (DESIGN §4): it does not pass a transaction that holds an xid, does not stall on one that
// rolls back, keeps chain order when a writer waited on the row lock, and a concurrent follower sees every
// committed event exactly once in chain order (FsCheck plans of writers that take xids early and roll back).
module Fable.Tests.PgFollowerTests

open System
open System.Collections.Concurrent
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Npgsql
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// Opens a transaction and makes it take an xid; returns the connection, transaction and xid.
let private holdXid (env: PgEnv.Env) =
    task {
        let! conn = env.DataSource.OpenConnectionAsync()
        let! tx = conn.BeginTransactionAsync()
        use cmd = new NpgsqlCommand("SELECT pg_current_xact_id()::text::bigint", conn, tx)
        let! xid = cmd.ExecuteScalarAsync()
        return conn, tx, (xid :?> int64)
    }

let private readAll (env: PgEnv.Env) () =
    task {
        let! r = env.Interpreter.ReadAll(LogPosition.Origin, 1000, ct)
        return ok "ReadAll" r
    }

let private ids (events: StoredEvent list) = [ for e in events -> e.Id ]

/// Waits until every event committed so far is readable (the token only bounds a hang).
let private settle (env: PgEnv.Env) =
    task {
        use guard = new CancellationTokenSource(TimeSpan.FromSeconds 60.0)
        let! r = env.Store.WaitUntilReadable guard.Token
        ok "WaitUntilReadable" r
    }

/// One transaction of a follower plan.
type Tx =
    { XidFirst: bool
      Key: int
      Events: int
      Rollback: bool
      PauseMs: int }

let private txGen =
    gen {
        let! xidFirst = Gen.elements [ true; false ]
        let! key = Gen.choose (0, 2)
        let! events = Gen.choose (1, 3)
        let! rollback = Gen.frequency [ 1, Gen.constant true; 5, Gen.constant false ]
        let! pause = Gen.choose (0, 3)
        return { XidFirst = xidFirst; Key = key; Events = events; Rollback = rollback; PauseMs = pause }
    }

let private planGen = Gen.listOfLength 5 (Gen.listOfLength 12 txGen)

/// Writers run the plan while a follower pages through ReadAll (small pages) from its own checkpoint.
let private followDuring (plan: Tx list list) =
    PgEnv.using runtime tables (fun env -> task {
        let keys = [| newKey (); newKey (); newKey () |]
        let committed = ConcurrentBag<int64>()
        let writer (txs: Tx list) =
            background (fun () ->
                task {
                    for t in txs do
                        use! conn = env.DataSource.OpenConnectionAsync()
                        use! tx = conn.BeginTransactionAsync()
                        if t.XidFirst then
                            use cmd = new NpgsqlCommand("SELECT pg_current_xact_id()", conn, tx)
                            let! _ = cmd.ExecuteScalarAsync()
                            ()
                        if t.PauseMs > 0 then do! Task.Delay t.PauseMs
                        let! r =
                            env.Store.InTransaction(conn, tx, fun uow ->
                                uow.Emit(accounts, keys[t.Key], Expected.Any, deposit [ for n in 1 .. t.Events -> int64 n ], ct))
                        let emitted = ok "emit" r
                        if t.PauseMs > 1 then do! Task.Delay t.PauseMs
                        if t.Rollback then
                            do! tx.RollbackAsync()
                        else
                            do! tx.CommitAsync()
                            for e in emitted.Events do
                                committed.Add e.Id
                })
        let writers = Task.WhenAll [ for txs in plan -> writer txs ]
        let seen = Collections.Generic.List<StoredEvent>()
        let mutable position = LogPosition.Origin
        let page () =
            task {
                let! r = env.Interpreter.ReadAll(position, 7, ct)
                let events = ok "ReadAll" r
                for e in events do
                    Expect.isGreaterThan (e.Position.Tx, e.Position.Id) (position.Tx, position.Id) "positions only grow"
                    seen.Add e
                    position <- e.Position
                return events
            }
        while not writers.IsCompleted do
            let! _ = page ()
            do! Task.Delay 1
        let! _ = writers
        do! settle env
        let mutable drained = false
        while not drained do
            let! events = page ()
            drained <- events.IsEmpty
        let seenIds = [ for e in seen -> e.Id ]
        Expect.equal (List.distinct seenIds).Length seenIds.Length "no event is delivered twice"
        Expect.equal (set seenIds) (set committed) "every committed event is delivered, no rolled-back one"
        for k in keys do
            let! log = checkChain env.Interpreter accounts k
            let followed = [ for e in seen do if e.Aggregate.Key = k then yield e.Id ]
            Expect.equal followed (ids log) "the follower sees each aggregate's events in chain order"
    })

let tests =
    testList "followers" [
        testTask "ReadAll does not pass a transaction holding an xid, and shows its event first once it commits" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! conn, tx, xid = holdXid env
                use _conn = conn
                let! e1 = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                let! e2 = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 2L ])
                let later = ids (ok "e1" e1).Events @ ids (ok "e2" e2).Events
                let! before = readAll env ()
                Expect.isEmpty before "nothing after the open transaction's xid is visible"
                let! held = env.Store.InTransaction(conn, tx, fun uow -> uow.Emit(accounts, newKey (), Expected.Any, deposit [ 3L ], ct))
                let held = ok "held emit" held
                Expect.equal held.Events.Head.Position.Tx xid "the held transaction's event is keyed by its xid"
                let! stillBefore = readAll env ()
                Expect.isEmpty stillBefore "still nothing while it is open"
                do! tx.CommitAsync()
                do! settle env
                let! after = readAll env ()
                Expect.equal (ids after) (ids held.Events @ later) "once readable: the late committer's event first, then the others"
            })
        }

        testTask "Head is the origin before any event and then the last position ReadAll returns" {
            do! PgEnv.using runtime tables (fun env -> task {
                let head () = task { let! h = env.Interpreter.Head ct in return ok "Head" h }
                let! empty = head ()
                Expect.equal empty LogPosition.Origin "no events: the origin"
                let! _ = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L; 2L ])
                do! settle env
                let! events = readAll env ()
                let! h = head ()
                Expect.equal h (List.last events).Position "the head is the last visible event"
                let! conn, tx, _ = holdXid env
                use _conn = conn
                let! held = env.Store.InTransaction(conn, tx, fun uow -> uow.Emit(accounts, newKey (), Expected.Any, deposit [ 3L ], ct))
                ok "held emit" held |> ignore
                let! _ = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 4L ])
                let! stillH = head ()
                Expect.equal stillH h "the head does not pass an open transaction"
                do! tx.CommitAsync()
                do! settle env
                let! all = readAll env ()
                Expect.equal all.Length 4 "every event is readable"
                let! last = head ()
                Expect.equal last (List.last all).Position "the head moves once it commits"
            })
        }

        testTask "ReadAll does not stall on a transaction that rolls back" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! conn, tx, _ = holdXid env
                use _conn = conn
                let! e1 = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                let! e2 = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 2L ])
                let later = ids (ok "e1" e1).Events @ ids (ok "e2" e2).Events
                let! held = env.Store.InTransaction(conn, tx, fun uow -> uow.Emit(accounts, newKey (), Expected.Any, deposit [ 3L ], ct))
                ok "held emit" held |> ignore
                let! before = readAll env ()
                Expect.isEmpty before "nothing is visible while the transaction is open"
                do! tx.RollbackAsync()
                do! settle env
                let! after = readAll env ()
                Expect.equal (ids after) later "the committed events, without the rolled-back one"
            })
        }

        testTask "an event that waited on the row lock follows its predecessor although its xid is older" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! seed = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                let seed = ok "seed" seed
                let! earlyConn, earlyTx, earlyXid = holdXid env
                use _early = earlyConn
                let! lateConn, lateTx, lateXid = holdXid env
                use _late = lateConn
                Expect.isLessThan earlyXid lateXid "the early transaction took its xid first"
                let! late = env.Store.InTransaction(lateConn, lateTx, fun uow -> uow.Emit(accounts, key, Expected.Any, deposit [ 2L ], ct))
                let late = ok "late emit" late
                let earlyEmit = env.Store.InTransaction(earlyConn, earlyTx, fun uow -> uow.Emit(accounts, key, Expected.Any, deposit [ 3L ], ct))
                do! lateTx.CommitAsync()
                let! early = earlyEmit
                let early = ok "early emit" early
                do! earlyTx.CommitAsync()
                Expect.equal early.Events.Head.PrevEventId (Some late.Events.Head.Id) "the early transaction's event follows the late one's"
                Expect.isGreaterThanOrEqual early.Events.Head.Position.Tx lateXid "its ordering key is raised to its predecessor's"
                let! log = checkChain env.Interpreter accounts key
                do! settle env
                let! all = readAll env ()
                Expect.equal (ids all) (ids log) "followers see the chain order"
                Expect.equal (ids log) (ids seed.Events @ ids late.Events @ ids early.Events) "chain: seed, late, early"
            })
        }

        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 3 } "a follower during concurrent writes and rollbacks sees each committed event once, in chain order"
            (Prop.forAll (Arb.fromGen planGen) (fun plan -> (followDuring plan).GetAwaiter().GetResult()))
    ]
