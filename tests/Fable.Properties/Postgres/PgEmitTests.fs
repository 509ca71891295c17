// Emit, log, load and replay on a real server: creation by the first event, chaining, expectations,
// decisions that read inside the transaction, and replay through evolve and handlers.
module Fable.Tests.PgEmitTests

open System
open System.Collections.Concurrent
open System.Threading
open Expecto
open Fable
open Fable.Tests.PgDomain

let private ct = CancellationToken.None
let private newKey () = AggregateKey.Uuid(Guid.NewGuid())

let tests =
    testList "emit" [
        testTask "the first emit creates the row and later emits chain onto it" {
            do! PgEnv.using runtime tables (fun env -> task {
                let i = env.Interpreter
                let key = newKey ()
                let! first = emit i accounts key Expected.Any (deposit [ 10L ])
                let first = ok "first emit" first
                Expect.equal first.Aggregate.State { Balance = 10L; Events = 1L; Notes = 0L } "state after the first event"
                Expect.equal first.Aggregate.LastEventId (Some first.Events.Head.Id) "the aggregate points at its event"
                let! second = emit i accounts key (Expected.At first.Aggregate.LastEventId) (always [ box { Amount = 5L }; box { Note = "hi" } ])
                let second = ok "second emit" second
                Expect.equal second.Aggregate.State { Balance = 15L; Events = 3L; Notes = 1L } "state after three events"
                let! log = checkChain i accounts key
                Expect.equal [ for e in log -> e.Id ] [ for e in first.Events @ second.Events -> e.Id ] "the log lists every emitted event in order"
                Expect.equal [ for e in log -> e.TypeName ] [ "deposited"; "deposited"; "noted" ] "stable type names are stored"
                Expect.equal [ for e in log -> i.Codec.Decode(e.TypeName, e.TypeVersion, e.Data) ]
                    [ Ok(box { Amount = 10L }); Ok(box { Amount = 5L }); Ok(box { Note = "hi" }) ] "payloads decode to the emitted events"
                Expect.equal [ for e in log -> e.Position ] [ for e in first.Events @ second.Events -> e.Position ] "emitted positions are the stored ones"
                Expect.isGreaterThanOrEqual second.Events.Head.Position.Tx first.Events.Head.Position.Tx "ordering keys grow along the chain"
                let! rows = env.Rows "accounts"
                Expect.equal [ for r in rows -> r["balance"], r["last_event_id"] ] [ box 15L, box (List.last log).Id ] "the row holds the state and the head"
                let! notes = env.Rows "notes"
                Expect.equal [ for r in notes -> r["id"], r["body"] ] [ box (string log[2].Id), box "hi" ] "the note handler wrote in the emit's transaction"
            })
        }

        testTask "an unmet expectation is a conflict and writes nothing" {
            do! PgEnv.using runtime tables (fun env -> task {
                let i = env.Interpreter
                let key = newKey ()
                let! first = emit i accounts key (Expected.At None) (deposit [ 1L ])
                let last = (ok "create" first).Aggregate.LastEventId
                let! stale = emit i accounts key (Expected.At(Some(last.Value + 1000L))) (deposit [ 1L ])
                match err "stale emit" stale with
                | Conflict(_, expected, actual, false, _) ->
                    Expect.equal (expected, actual) (Some(last.Value + 1000L), last) "the conflict names both versions"
                | e -> failtestf "expected a conflict, got %O" e
                let! again = emit i accounts key (Expected.At None) (deposit [ 1L ])
                Expect.isTrue (match err "create twice" again with Conflict _ -> true | _ -> false) "creating an existing aggregate conflicts"
                let! ids = env.EventIds()
                Expect.equal ids.Length 1 "only the first event exists"
            })
        }

        testTask "a decision in the transaction sees what the unit of work wrote before it" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let decide =
                    InTransaction(fun uow _ ct -> task {
                        match! uow.Tables.Get("notes", box "limit", ct) with
                        | Ok(Some row) -> return Ok [ box { Amount = int64 (string row["body"]).Length } ]
                        | Ok None -> return Error(FableError.reject "no limit")
                        | Error e -> return Error e
                    })
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        match! uow.Tables.Insert("notes", Row.ofSeq [ "id", box "limit"; "account", null; "body", box "12345" ], ct) with
                        | Error e -> return Error e
                        | Ok() -> return! uow.Emit(accounts, key, Expected.Any, decide, ct)
                    }) ct
                Expect.equal (ok "emit" r).Aggregate.State.Balance 5L "the decision read the uncommitted note"
            })
        }

        testTask "load returns nothing for an aggregate without a row and the state for one with a row" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! none = Store.load env.Interpreter accounts key ct
                Expect.isNone (ok "load" none) "no row, no aggregate"
                let! _ = emit env.Interpreter accounts key Expected.Any (deposit [ 7L ])
                let! some = Store.load env.Interpreter accounts key ct
                Expect.equal (ok "load" some |> Option.map (fun a -> a.State.Balance)) (Some 7L) "the row's state"
            })
        }

        testTask "replay rebuilds a tampered row from the log and reruns handlers as replaying" {
            let seen = ConcurrentQueue<bool>()
            let spy = Router.handler<Noted> "spy" (fun args _ -> task { seen.Enqueue args.Replaying; return Ok() })
            let rt = runtimeWith (Router.empty |> Router.route<Noted> [ spy ])
            do! PgEnv.using rt tables (fun env -> task {
                let i = env.Interpreter
                let key = newKey ()
                let! _ = emit i accounts key Expected.Any (always [ box { Amount = 10L }; box { Note = "a" }; box { Amount = 5L } ])
                do! env.Exec "UPDATE accounts SET balance = 999, events = 0; DELETE FROM notes"
                let! replayed = Store.replay i accounts key ct
                let replayed = ok "replay" replayed
                Expect.equal replayed.State { Balance = 15L; Events = 3L; Notes = 1L } "replayed state"
                let! rows = env.Rows "accounts"
                Expect.equal [ for r in rows -> r["balance"], r["events"], r["notes"] ] [ box 15L, box 3L, box 1L ] "the row is rebuilt"
                let! notes = env.Rows "notes"
                Expect.equal notes.Length 1 "the handler rewrote its row"
                Expect.equal (List.ofSeq seen) [ false; true ] "handlers know when they replay"
                let! missing = Store.replay i accounts (newKey ()) ct
                Expect.isTrue (match err "replay of nothing" missing with NotFound _ -> true | _ -> false) "no events: NotFound"
            })
        }

        testTask "a key of the wrong kind is an invalid definition" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = emit env.Interpreter accounts (AggregateKey.Int 1L) Expected.Any (deposit [ 1L ])
                Expect.isTrue (match err "wrong key" r with InvalidDefinition _ -> true | _ -> false) "InvalidDefinition"
            })
        }
    ]
