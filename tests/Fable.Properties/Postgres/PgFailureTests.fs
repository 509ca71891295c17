// Failed emits leave nothing visible (a throwing handler, a refusing decision, a unique violation, a killed
// connection, a cancellation), and emits compose with the caller's own transaction.
module Fable.Tests.PgFailureTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

let private npgsql (uow: IUnitOfWork) =
    uow.Connection.Value :?> NpgsqlConnection, uow.Transaction.Value :?> NpgsqlTransaction

/// The accounts row, events and notes as they are committed.
let private snapshot (env: PgEnv.Env) =
    task {
        let! rows = env.Rows "accounts"
        let! notes = env.Rows "notes"
        let! ids = env.EventIds()
        return [ for r in rows -> r["id"], r["balance"], r["last_event_id"] ], notes.Length, ids
    }

let private seeded (env: PgEnv.Env) key =
    task {
        let! r = emit env.Interpreter accounts key Expected.Any (deposit [ 10L ])
        ok "seed" r |> ignore
        return! snapshot env
    }

let tests =
    testList "failures" [
        testTask "a throwing handler leaves no event, no row change and no handler write" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                let! r = emit env.Interpreter accounts key Expected.Any (always [ box { Amount = 1L }; box { Reason = "bang" } ])
                match err "boom" r with
                | HandlerFailed("boom", "throw", _, Some(:? InvalidOperationException)) -> ()
                | e -> failtestf "expected the throw handler to fail, got %O" e
                let! created = emit env.Interpreter accounts (newKey ()) Expected.Any (always [ box { Reason = "bang" } ])
                err "boom on create" created |> ignore
                let! after = snapshot env
                Expect.equal after before "nothing of the failed emits is visible"
            })
        }

        testTask "a row changed under the emit's lock is a conflict and is never overwritten" {
            let tamper =
                Router.handler<Boom> "tamper" (fun args _ -> task {
                    let conn, tx = npgsql args.Uow
                    use cmd = new NpgsqlCommand("UPDATE accounts SET last_event_id = -1 WHERE id = $1", conn, tx)
                    cmd.Parameters.Add(NpgsqlParameter(Value = args.Aggregate.Key.Value)) |> ignore
                    let! _ = cmd.ExecuteNonQueryAsync args.CancellationToken
                    return Ok() })
            // Tampering last: the guard alone ends the emit. Tampering first: the next event's INSERT and the row's
            // guarded UPDATE are one statement, whose guard raises.
            for events in [ [ box { Amount = 1L }; box { Reason = "tamper" } ]; [ box { Reason = "tamper" }; box { Amount = 1L } ] ] do
              do! PgEnv.using (runtimeWith (Router.empty |> Router.route<Boom> [ tamper ])) tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                let! r = emit env.Interpreter accounts key Expected.Any (always events)
                match err "guarded write" r with
                | Conflict(Some _, _, _, false, m) ->
                    // The server builds the text from the statement's own parameters: the key and the id the row held.
                    Expect.stringContains m (sprintf "aggregate accounts/%O: last_event_id is no longer " key) "the guard names the aggregate"
                    Expect.isTrue (Text.RegularExpressions.Regex.IsMatch(m, "no longer [0-9]+ under the emit's lock")) (sprintf "the guard names the id the row held: %s" m)
                | e -> failtestf "expected a conflict, got %O" e
                let! after = snapshot env
                Expect.equal after before "nothing changed"
              })
        }

        testTask "a column added to the aggregate table under prepared statements costs one retryable conflict per connection, and the retry succeeds" {
            let configure (b: NpgsqlConnectionStringBuilder) =
                b.MaxPoolSize <- 1
                b.MaxAutoPrepare <- 20
                b.AutoPrepareMinUsages <- 2
            let! (env: PgEnv.Env) = PgEnv.createWith runtime tables false configure
            try
                let key = newKey ()
                for _ in 1..5 do
                    let! r = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                    ok "emit before the column" r |> ignore
                do! env.Exec "ALTER TABLE accounts ADD COLUMN added_later int"
                // The prepared `SELECT * … FOR UPDATE` now returns another row type: PostgreSQL refuses it once, Npgsql
                // prepares it again on the next use.
                let! first = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                match first with
                | Error(Conflict(Some _, _, _, true, m)) -> Expect.stringContains m "columns" "the conflict says what changed"
                | other -> failtestf "expected one retryable conflict (the statements were prepared), got %A" other
                let! second = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                ok "the retry" second |> ignore
                let! (log: StoredEvent list) = checkChain env.Interpreter accounts key
                Expect.equal log.Length 6 "nothing of the refused emit was recorded"
            finally
                (env :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
        }

        testTask "a refusing decision leaves nothing" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                let! r = emit env.Interpreter accounts key Expected.Any (Pure(fun _ -> Error(FableError.reject "no")))
                Expect.isTrue (match err "reject" r with Rejected(:? string as s, _) -> s = "no" | _ -> false) "the caller's reason comes back"
                let! after = snapshot env
                Expect.equal after before "nothing changed"
            })
        }

        testTask "a unique violation in a handler is a handler failure and leaves nothing" {
            let dup =
                Router.handler<Boom> "dup" (fun args _ -> task {
                    let conn, tx = npgsql args.Uow
                    for _ in 1..2 do
                        use cmd = new NpgsqlCommand("INSERT INTO notes (id, body) VALUES ('dup', 'x')", conn, tx)
                        let! _ = cmd.ExecuteNonQueryAsync args.CancellationToken
                        ()
                    return Ok() })
            do! PgEnv.using (runtimeWith (Router.empty |> Router.route<Boom> [ dup ])) tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                let! r = emit env.Interpreter accounts key Expected.Any (always [ box { Reason = "dup" } ])
                match err "dup" r with
                | HandlerFailed("boom", "dup", _, Some(:? PostgresException as p)) -> Expect.equal p.SqlState "23505" "unique violation"
                | e -> failtestf "expected HandlerFailed, got %O" e
                let! after = snapshot env
                Expect.equal after before "nothing changed"
            })
        }

        testTask "a connection terminated mid-emit is an infrastructure error and leaves nothing" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                let decide =
                    InTransaction(fun uow _ ct -> task {
                        let conn, tx = npgsql uow
                        use pidCmd = new NpgsqlCommand("SELECT pg_backend_pid()", conn, tx)
                        let! pid = pidCmd.ExecuteScalarAsync ct
                        use! other = env.DataSource.OpenConnectionAsync()
                        use kill = new NpgsqlCommand("SELECT pg_terminate_backend($1, 30000)", other)
                        kill.Parameters.Add(NpgsqlParameter(Value = pid)) |> ignore
                        let! killed = kill.ExecuteScalarAsync()
                        Expect.equal killed (box true) "the emitting backend was terminated"
                        return Ok [ box { Amount = 1L } ]
                    })
                let! r = emit env.Interpreter accounts key Expected.Any decide
                Expect.isTrue (match err "killed emit" r with Infrastructure _ -> true | _ -> false) (sprintf "Infrastructure, got %A" r)
                let! after = snapshot env
                Expect.equal after before "nothing of the killed emit is visible"
                let! next = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                Expect.equal (ok "emit after the kill" next).Aggregate.State.Balance 11L "the store keeps working"
            })
        }

        testTask "a cancelled emit is Cancelled, rolled back, and the store keeps working" {
            let started = TaskCompletionSource()
            let sleeper =
                Router.handler<Slept> "sleep" (fun args e -> task {
                    let conn, tx = npgsql args.Uow
                    started.TrySetResult() |> ignore
                    use cmd = new NpgsqlCommand("SELECT pg_sleep($1)", conn, tx)
                    cmd.Parameters.Add(NpgsqlParameter(Value = float e.Seconds)) |> ignore
                    let! _ = cmd.ExecuteNonQueryAsync args.CancellationToken
                    return Ok() })
            do! PgEnv.using (runtimeWith (Router.empty |> Router.route<Slept> [ sleeper ])) tables (fun env -> task {
                let key = newKey ()
                let! before = seeded env key
                use cts = new CancellationTokenSource()
                let pending = Store.emit env.Interpreter accounts key Expected.Any (always [ box { Amount = 1L }; box { Seconds = 60 } ]) cts.Token
                do! started.Task
                cts.Cancel()
                let! r = pending
                Expect.equal (err "cancelled emit" r) Cancelled "Cancelled"
                let! after = snapshot env
                Expect.equal after before "nothing of the cancelled emit is visible"
                let! next = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                Expect.equal (ok "emit after cancel" next).Aggregate.State.Balance 11L "the store keeps working"
            })
        }

        testTask "a failed emit inside a unit of work leaves the rest of it to commit" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                let a, b = newKey (), newKey ()
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! ra = uow.Emit(accounts, a, Expected.Any, deposit [ 1L ], ct)
                        let! rb = uow.Emit(accounts, b, Expected.Any, always [ box { Reason = "x" } ], ct)
                        Expect.isError rb "the second emit fails"
                        let! rc = uow.Tables.Insert("notes", Row.ofSeq [ "id", box "after"; "body", box "y" ], ct)
                        return ra |> Result.bind (fun _ -> rc)
                    }) ct
                ok "unit of work" r
                let! rows = env.Rows "accounts"
                Expect.equal [ for r in rows -> r["id"] ] [ box (a.Value :?> Guid) ] "only the first aggregate exists"
                let! notes = env.Rows "notes"
                Expect.equal [ for r in notes -> r["id"] ] [ box "after" ] "the write after the failure committed, the failed handler's did not"
            })
        }

        testTask "a unit of work whose work swallowed a database error reports that nothing was committed" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! emitted = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 1L ], ct)
                        ok "emit" emitted |> ignore
                        let conn, tx = npgsql uow
                        try
                            use cmd = new NpgsqlCommand("SELECT 1/0", conn, tx)
                            let! _ = cmd.ExecuteScalarAsync()
                            ()
                        with _ ->
                            ()
                        return Ok()
                    }) ct
                Expect.isTrue (match r with Error(Infrastructure _) -> true | _ -> false) (sprintf "Infrastructure, got %A" r)
                let! after = snapshot env
                Expect.equal after ([], 0, []) "nothing was committed"
            })
        }

        testTask "a unit of work cancelled while its work carries on rolls back and is Cancelled" {
            do! PgEnv.using runtime tables (fun env -> task {
                use cts = new CancellationTokenSource()
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! first = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 1L ], ct)
                        ok "first emit" first |> ignore
                        cts.Cancel()
                        let! second = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 2L ], cts.Token)
                        Expect.equal (err "cancelled emit" second) Cancelled "the emit sees the cancellation"
                        return Ok()
                    }) cts.Token
                Expect.equal r (Error Cancelled) "the unit of work is Cancelled although its work returned Ok"
                let! after = snapshot env
                Expect.equal after ([], 0, []) "nothing was committed"
            })
        }

        testTask "emits in the caller's transaction vanish when the caller rolls back" {
            do! PgEnv.using runtime tables (fun env -> task {
                use! conn = env.DataSource.OpenConnectionAsync()
                use! tx = conn.BeginTransactionAsync()
                let! r =
                    env.Store.InTransaction(conn, tx, fun uow -> task {
                        let! a = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 1L ], ct)
                        let! b = uow.Emit(accounts, newKey (), Expected.Any, always [ box { Note = "n" } ], ct)
                        use cmd = new NpgsqlCommand("INSERT INTO notes (id, body) VALUES ('caller', 'mine')", conn, tx)
                        let! _ = cmd.ExecuteNonQueryAsync()
                        return a |> Result.bind (fun _ -> b) |> Result.map ignore
                    })
                ok "work" r
                do! tx.RollbackAsync()
                let! after = snapshot env
                Expect.equal after ([], 0, []) "nothing is visible after the caller's rollback"
            })
        }

        testTask "emits in the caller's transaction commit together with the caller's write" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                use! conn = env.DataSource.OpenConnectionAsync()
                use! tx = conn.BeginTransactionAsync()
                let a, b, c = newKey (), newKey (), newKey ()
                let! r =
                    env.Store.InTransaction(conn, tx, fun uow -> task {
                        let! ra = uow.Emit(accounts, a, Expected.Any, deposit [ 1L ], ct)
                        let! rb = uow.Emit(accounts, b, Expected.Any, always [ box { Note = "n" } ], ct)
                        let! rc = uow.Emit(accounts, c, Expected.Any, always [ box { Reason = "fails" } ], ct)
                        Expect.isError rc "the third emit fails without spoiling the transaction"
                        use cmd = new NpgsqlCommand("INSERT INTO notes (id, body) VALUES ('caller', 'mine')", conn, tx)
                        let! _ = cmd.ExecuteNonQueryAsync()
                        return ra |> Result.bind (fun _ -> rb) |> Result.map ignore
                    })
                ok "work" r
                do! tx.CommitAsync()
                let! rows, notes, ids = snapshot env
                Expect.equal (set [ for (id, _, _) in rows -> string id ]) (set [ string a; string b ]) "both emitted aggregates exist, the failed one does not"
                Expect.equal notes 2 "the handler's note and the caller's row"
                Expect.equal ids.Length 2 "two events"
            })
        }
    ]
