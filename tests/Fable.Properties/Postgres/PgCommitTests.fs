// An emit in a transaction of its own sends COMMIT with its last batch: a failure at COMMIT (a deferred
// constraint) or while the batch is written (a value Npgsql cannot encode) is a typed error that leaves nothing,
// like the same emit inside Transact, and a cancellation that arrives while COMMIT runs does not turn a committed
// emit into Cancelled.
module Fable.Tests.PgCommitTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// Runs `sql` on the handler's connection and transaction.
let private execIn (args: HandlerArgs) (sql: string) (value: obj) =
    task {
        use cmd = new NpgsqlCommand(sql, args.Uow.Connection.Value :?> NpgsqlConnection, args.Uow.Transaction.Value :?> NpgsqlTransaction)
        cmd.Parameters.Add(NpgsqlParameter(Value = value)) |> ignore
        let! _ = cmd.ExecuteNonQueryAsync args.CancellationToken
        return Ok()
    }

/// The aggregate rows and event ids as committed.
let private committed (env: PgEnv.Env) =
    task {
        let! rows = env.Rows "accounts"
        let! ids = env.EventIds()
        return [ for r in rows -> r["id"], r["balance"], r["last_event_id"] ], ids
    }

let tests =
    testList "commit with the last batch" [
        testTask "a deferred constraint that fails at COMMIT is a typed error, leaves nothing, and agrees with Transact" {
            // Boom writes its reason twice into a column whose uniqueness is checked only at COMMIT.
            let twice =
                Router.handler<Boom> "tag twice" (fun args e -> task {
                    let! _ = execIn args "INSERT INTO tags (tag) VALUES ($1)" (box e.Reason)
                    return! execIn args "INSERT INTO tags (tag) VALUES ($1)" (box e.Reason) })
            do! PgEnv.using (runtimeWith (Router.empty |> Router.route<Boom> [ twice ])) tables (fun env -> task {
                do! env.Exec "CREATE TABLE tags (tag text, CONSTRAINT tags_unique UNIQUE (tag) DEFERRABLE INITIALLY DEFERRED)"
                let key = newKey ()
                let! seeded = emit env.Interpreter accounts key Expected.Any (deposit [ 10L ])
                ok "seed" seeded |> ignore
                let! before = committed env
                let boom = always [ box { Amount = 1L }; box { Reason = "same" } ]
                let! alone = emit env.Interpreter accounts key Expected.Any boom
                let! inTransact = Store.transact env.Interpreter (fun uow -> uow.Emit(accounts, key, Expected.Any, boom, ct)) ct
                let kind r =
                    match r with
                    | Error(Conflict(_, _, _, _, m)) -> Some(sprintf "conflict on %s" (if m.Contains "tags_unique" then "tags_unique" else m))
                    | Error e -> failtestf "expected a conflict naming the constraint, got %O" e
                    | Ok _ -> None
                Expect.equal (kind alone) (Some "conflict on tags_unique") "the emit alone fails at COMMIT with the constraint's conflict"
                Expect.equal (kind inTransact) (kind alone) "inside Transact the same emit fails the same way"
                let! after = committed env
                Expect.equal after before "no event, no row change"
                let! tags = env.Scalar "SELECT count(*) FROM tags"
                Expect.equal tags (box 0L) "no handler write"
                let! next = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                Expect.equal (ok "emit after the failed commit" next).Aggregate.State.Balance 11L "the store keeps working"
            })
        }

        testCase "an exception raised while the COMMIT batch is written is typed, and only a lost connection says 'outcome unknown'" <| fun () ->
            // Fable's own statements carry only coerced, checked values (declared columns, jsonb texts in normal form),
            // so Npgsql cannot fail to encode them any more; the mapping stays the guard: an encoder failure happens
            // before anything is sent, a lost connection may have happened after COMMIT was sent.
            let agg = Some(AggregateId.uuid "accounts" (Guid.NewGuid()))
            match Fable.FSharp.Postgres.PgErrors.ofCommit agg (Text.EncoderFallbackException "lone surrogate") with
            | Unstorable(_, why) as e ->
                Expect.stringContains why "lone surrogate" "says why"
                Expect.isFalse (e.Message.Contains "outcome is unknown") "nothing was sent"
            | other -> failtestf "an encoder failure: expected Unstorable, got %O" other
            match Fable.FSharp.Postgres.PgErrors.ofCommit agg (IO.IOException "connection reset") with
            | Infrastructure(m, _) -> Expect.stringContains m "outcome is unknown" "a lost connection during COMMIT"
            | other -> failtestf "a lost connection: expected Infrastructure, got %O" other

        testTask "a cancellation that arrives while COMMIT runs leaves a committed emit reported as committed" {
            // A Noted handler marks the transaction; a deferred trigger sleeps at COMMIT, when it fires.
            let pid = TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously)
            let mark =
                Router.handler<Noted> "mark" (fun args e -> task {
                    use cmd = new NpgsqlCommand("SELECT pg_backend_pid()", args.Uow.Connection.Value :?> NpgsqlConnection, args.Uow.Transaction.Value :?> NpgsqlTransaction)
                    let! p = cmd.ExecuteScalarAsync args.CancellationToken
                    pid.TrySetResult(unbox<int> p) |> ignore
                    return! execIn args "INSERT INTO marks (note) VALUES ($1)" (box e.Note) })
            do! PgEnv.using (runtimeWith (Router.empty |> Router.route<Noted> [ mark ])) tables (fun env -> task {
                do! env.Exec "CREATE TABLE marks (note text)"
                do! env.Exec "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$"
                do! env.Exec "CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON marks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"
                let key = newKey ()
                use cts = new CancellationTokenSource()
                let pending = Store.emit env.Interpreter accounts key Expected.Any (always [ box { Amount = 3L }; box { Note = "n" } ]) cts.Token
                let! backend = pid.Task
                // Wait until the backend sleeps in the deferred trigger, i.e. inside COMMIT, then cancel.
                let mutable sleeping = false
                let deadline = DateTime.UtcNow.AddSeconds 30.0
                while not sleeping && DateTime.UtcNow < deadline do
                    let! w = env.Scalar(sprintf "SELECT coalesce(wait_event, '') FROM pg_stat_activity WHERE pid = %d" backend)
                    sleeping <- string w = "PgSleep"
                    if not sleeping then do! Task.Delay 5
                Expect.isTrue sleeping "the emit reached COMMIT"
                cts.Cancel()
                let! r = pending
                let emitted = ok "the emit whose COMMIT was under way" r
                let! rows, ids = committed env
                Expect.equal rows [ key.Value, box 3L, box (List.last ids) ] "the aggregate row is committed"
                Expect.equal [ for e in emitted.Events -> e.Id ] ids "the events it reports are the committed ones"
            })
        }
    ]
