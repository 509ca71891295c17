// Emit, log, load and replay on a real server: creation by the first event, chaining, expectations,
// decisions that read inside the transaction, and replay through evolve and handlers.
module Fable.Tests.PgEmitTests

open System
open System.Collections.Concurrent
open System.Threading
open Expecto
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

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
                Expect.equal log (first.Events @ second.Events) "emitted events are exactly the stored ones (payload in jsonb's form)"
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

        testTask "two emits on one aggregate in one unit of work chain in order and the second sees the first" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        match! uow.Emit(accounts, key, Expected.At None, deposit [ 1L ], ct) with
                        | Error e -> return Error e
                        | Ok first -> return! uow.Emit(accounts, key, Expected.At first.Aggregate.LastEventId, deposit [ 2L ], ct)
                    }) ct
                Expect.equal (ok "two emits" r).Aggregate.State.Balance 3L "the second decision saw the first event"
                let! log = checkChain env.Interpreter accounts key
                Expect.equal log.Length 2 "one chain of two"
                Expect.equal log[0].Position.Tx log[1].Position.Tx "one transaction, one ordering key"
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
                do! env.Exec "DELETE FROM accounts"
                let! recreated = Store.replay i accounts key ct
                Expect.equal (ok "replay of a deleted row" recreated).LastEventId replayed.LastEventId "replay recreates a deleted row"
                let! rows = env.Rows "accounts"
                Expect.equal [ for r in rows -> r["balance"], r["last_event_id"] ] [ box 15L, box replayed.LastEventId.Value ] "the recreated row"
                let! missing = Store.replay i accounts (newKey ()) ct
                Expect.isTrue (match err "replay of nothing" missing with NotFound _ -> true | _ -> false) "no events: NotFound"
            })
        }

        testTask "a handler may emit to another aggregate in the same transaction, and fails with it" {
            let reactionKey = newKey ()
            let react =
                Router.handler<Noted> "react" (fun args _ -> task {
                    let! r = args.Uow.Emit(accounts, reactionKey, Expected.Any, deposit [ 1L ], args.CancellationToken)
                    return Result.map ignore r })
            let boom = Router.handler<Boom> "throw" (fun _ e -> raise (InvalidOperationException e.Reason))
            let rt = runtimeWith (Router.empty |> Router.route<Noted> [ react ] |> Router.route<Boom> [ boom ])
            do! PgEnv.using rt tables (fun env -> task {
                let i = env.Interpreter
                let key = newKey ()
                let! r = emit i accounts key Expected.Any (always [ box { Note = "a" }; box { Note = "b" } ])
                ok "emit with reactions" r |> ignore
                let! reaction = Store.load i accounts reactionKey ct
                Expect.equal (ok "load" reaction |> Option.map (fun a -> a.State.Balance)) (Some 2L) "each note deposited into the other aggregate"
                let! _ = checkChain i accounts reactionKey
                let! failed = emit i accounts key Expected.Any (always [ box { Note = "c" }; box { Reason = "bang" } ])
                err "emit that fails after a reaction" failed |> ignore
                let! after = Store.load i accounts reactionKey ct
                Expect.equal (ok "load" after |> Option.map (fun a -> a.State.Balance)) (Some 2L) "the reaction of the failed emit is gone"
                let! ids = env.EventIds()
                Expect.equal ids.Length 4 "two notes and two reactions"
            })
        }

        testTask "the table API works in the unit of work and a duplicate insert leaves it usable" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let t = uow.Tables
                        let row (id: string) (account: obj) (body: string) = Row.ofSeq [ "id", box id; "account", account; "body", box body ]
                        let! first = t.Insert("notes", row "a" null "x", ct)
                        ok "insert" first
                        let! dup = t.Insert("notes", row "a" null "y", ct)
                        Expect.isTrue (match dup with Error(Conflict _) -> true | _ -> false) "a duplicate insert is a conflict"
                        let! got = t.Get("notes", box "a", ct)
                        Expect.equal (ok "get" got |> Option.map (fun r -> r["body"])) (Some(box "x")) "the first insert stands"
                        let! up1 = t.Upsert("notes", row "a" null "z", ct)
                        ok "upsert existing" up1
                        let! up2 = t.Upsert("notes", row "b" (box "k") "w", ct)
                        ok "upsert new" up2
                        let! found = t.Find("notes", "account", box "k", ct)
                        Expect.equal [ for r in ok "find" found -> r["id"] ] [ box "b" ] "find by column"
                        let! nulls = t.Find("notes", "account", null, ct)
                        Expect.equal [ for r in ok "find null" nulls -> r["id"], r["body"] ] [ box "a", box "z" ] "find by NULL; the upsert updated"
                        let! d1 = t.Delete("notes", box "a", ct)
                        let! d2 = t.Delete("notes", box "a", ct)
                        Expect.equal (ok "delete" d1, ok "delete again" d2) (true, false) "delete says whether a row went"
                        let! missing = t.Get("no_such_table", box "a", ct)
                        Expect.isError missing "a missing table is an error"
                        let! still = t.Get("notes", box "b", ct)
                        return still |> Result.map ignore
                    }) ct
                ok "unit of work" r
                let! notes = env.Rows "notes"
                Expect.equal [ for r in notes -> r["id"] ] [ box "b" ] "only b is committed"
            })
        }

        testTask "an emit notifies the schema's channel when it commits" {
            do! PgEnv.using runtime tables (fun env -> task {
                use! listener = env.DataSource.OpenConnectionAsync()
                let channel = env.Store.Options.NotifyChannel
                let received = Threading.Tasks.TaskCompletionSource<string>()
                listener.Notification.Add(fun a -> received.TrySetResult a.Channel |> ignore)
                use listen = new Npgsql.NpgsqlCommand(sprintf "LISTEN %s" (PgEnv.q channel), listener)
                let! _ = listen.ExecuteNonQueryAsync()
                let! r = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                ok "emit" r |> ignore
                use guard = new CancellationTokenSource(TimeSpan.FromSeconds 60.0)
                while not received.Task.IsCompleted && not guard.IsCancellationRequested do
                    try
                        do! listener.WaitAsync guard.Token
                    with :? OperationCanceledException ->
                        ()
                Expect.equal received.Task.Result channel "a notification on the schema's channel"
            })
        }

        testTask "a key of the wrong kind is an invalid definition" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = emit env.Interpreter accounts (AggregateKey.Int 1L) Expected.Any (deposit [ 1L ])
                Expect.isTrue (match err "wrong key" r with InvalidDefinition _ -> true | _ -> false) "InvalidDefinition"
            })
        }
    ]
