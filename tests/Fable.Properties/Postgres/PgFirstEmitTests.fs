// The first emit of a unit of work Fable owns runs in the transaction itself (no savepoint): when it fails the
// transaction is rolled back and the unit of work goes on in a fresh one, as if a savepoint had been undone.
module Fable.Tests.PgFirstEmitTests

open System
open System.Threading
open Expecto
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

let private note (id: string) = Row.ofSeq [ "id", box id; "account", null; "body", box id ]

let tests =
    testList "first emit" [
        testTask "a failed first emit in a unit of work leaves no trace and later emits in it commit" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                let failedKey, laterKey = newKey (), newKey ()
                // The failed emit's aggregate exists already: its row must keep its state and head.
                let! seeded = emit env.Interpreter accounts failedKey Expected.Any (deposit [ 10L ])
                let seeded = ok "seed" seeded
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! failed = uow.Emit(accounts, failedKey, Expected.Any, always [ box { Amount = 3L }; box { Reason = "bang" } ], ct)
                        match err "the first emit" failed with
                        | HandlerFailed("boom", "throw", _, _) -> ()
                        | e -> failtestf "expected the throw handler to fail, got %O" e
                        let! created = uow.Emit(accounts, laterKey, Expected.At None, deposit [ 5L ], ct)
                        let! more = uow.Emit(accounts, failedKey, Expected.At seeded.Aggregate.LastEventId, deposit [ 1L ], ct)
                        let! inserted = uow.Tables.Insert("notes", note "after", ct)
                        return
                            created
                            |> Result.bind (fun c -> more |> Result.map (fun m -> c, m))
                            |> Result.bind (fun cm -> inserted |> Result.map (fun () -> cm))
                    }) ct
                let created, more = ok "the unit of work" r
                let! later = checkChain env.Interpreter accounts laterKey
                Expect.equal later created.Events "the later emit on a new aggregate committed"
                let! failedLog = checkChain env.Interpreter accounts failedKey
                Expect.equal failedLog (seeded.Events @ more.Events) "the failed emit's aggregate: the seed, then the later emit; nothing of the failed one"
                let! rows = env.Rows "accounts"
                Expect.equal (List.sort [ for r in rows -> string r["id"], r["balance"] :?> int64 ]) (List.sort [ string failedKey, 11L; string laterKey, 5L ]) "balances"
                let! notes = env.Rows "notes"
                Expect.equal [ for r in notes -> r["id"] ] [ box "after" ] "the failed emit's handler write is gone; the later insert stands"
                let! ids = env.EventIds()
                Expect.equal ids (List.sort [ for e in seeded.Events @ created.Events @ more.Events -> e.Id ]) "no other event exists"
            })
        }

        testTask "a unit of work whose first emit was refused commits what the work did afterwards" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let refuse = Pure(fun (_: Account) -> Error(FableError.reject "no"))
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! refused = uow.Emit(accounts, key, Expected.Any, refuse, ct)
                        Expect.isTrue (match refused with Error(Rejected _) -> true | _ -> false) "the decision refused"
                        let! again = uow.Emit(accounts, key, Expected.At None, deposit [ 2L ], ct)
                        return again |> Result.map ignore
                    }) ct
                ok "the unit of work" r
                let! log = checkChain env.Interpreter accounts key
                Expect.equal log.Length 1 "the emit after the refused one created the aggregate"
            })
        }

        testTask "a failed first emit followed by a failing unit of work commits nothing" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                let key = newKey ()
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! _ = uow.Emit(accounts, key, Expected.Any, always [ box { Reason = "bang" } ], ct)
                        let! _ = uow.Tables.Insert("notes", note "inside", ct)
                        let! _ = uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], ct)
                        return Error(FableError.reject "the work gives up")
                    }) ct
                Expect.isTrue (match r with Error(Rejected _) -> true | _ -> false) "the work's error"
                let! ids = env.EventIds()
                Expect.isEmpty ids "no event"
                let! notes = env.Rows "notes"
                Expect.isEmpty notes "no note"
                let! rows = env.Rows "accounts"
                Expect.isEmpty rows "no row"
            })
        }
    ]
