// A store keeps the connection of a transaction it owned for its next one, skipping the pool's reset, only when no
// code but Fable's used it; a kept connection goes back to the pool after a second without use, or at disposal.
module Fable.Tests.PgKeptConnectionTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// Runs `sql` on the unit of work's connection (which hands it to this code: the session is exposed) and returns
/// the first column of its first row, or None when PostgreSQL refused it (undone by a savepoint).
let private probe (uow: IUnitOfWork) (sql: string) =
    task {
        let conn = uow.Connection.Value :?> NpgsqlConnection
        use mark = new NpgsqlCommand("SAVEPOINT probe", conn)
        let! _ = mark.ExecuteNonQueryAsync()
        try
            use cmd = new NpgsqlCommand(sql, conn)
            let! v = cmd.ExecuteScalarAsync()
            return Some v
        with :? PostgresException ->
            use back = new NpgsqlCommand("ROLLBACK TO SAVEPOINT probe", conn)
            let! _ = back.ExecuteNonQueryAsync()
            return None
    }

/// An emit on `key` whose decision runs `sql` through `probe` first and deposits 1; the probe's answer.
let private emitProbing (env: PgEnv.Env) (key: AggregateKey) (sql: string) =
    task {
        let seen = ref None
        let decide =
            InTransaction(fun uow _ _ -> task {
                let! v = probe uow sql
                seen.Value <- v
                return Ok [ box { Amount = 1L } ] })
        let! r = emit env.Interpreter accounts key Expected.Any decide
        ok "probing emit" r |> ignore
        return seen.Value
    }

/// `currval` of the store's event id sequence: set in a session once it recorded an event, cleared by the pool's reset.
let private currval (env: PgEnv.Env) = sprintf "SELECT currval('%s.event_ids')" env.FableSchema

/// `sql` (one parameter: `pid`) run on a connection of its own (not the store's), and its scalar result.
let private onServer (sql: string) (pid: int) =
    task {
        use admin = new NpgsqlConnection(PgServer.connectionString ())
        do! admin.OpenAsync()
        use cmd = new NpgsqlCommand(sql, admin)
        cmd.Parameters.Add(NpgsqlParameter(Value = pid)) |> ignore
        return! cmd.ExecuteScalarAsync()
    }

/// The statement backend `pid` ran last (`pg_stat_activity.query`).
let private lastStatement (pid: int) =
    task {
        let! q = onServer "SELECT query FROM pg_stat_activity WHERE pid = $1" pid
        return string q
    }

/// The one connection `env`'s store keeps now (its backend's process id); fails when it keeps none or several.
let private theKept (env: PgEnv.Env) (what: string) =
    match env.Store.KeptBackends with
    | [ pid ] -> pid
    | pids -> failtestf "%s: expected one kept connection, the store keeps %d" what (List.length pids)

/// Takes three connections from `kept` at once and gives them back clean, in that order; the three.
let private takeThreeGiveBack (kept: KeptConnections) : Task<NpgsqlConnection * NpgsqlConnection * NpgsqlConnection> =
    task {
        let! a = kept.Take ct
        let! b = kept.Take ct
        let! c = kept.Take ct
        for x in [ a; b; c ] do
            kept.Give(x, true)
        return a, b, c
    }

// Sequenced: what these tests check happens within a store's one-second linger, which tests running alongside on
// two cores could stretch.
let tests =
    testSequenced <| testList "kept connections" [
        testTask "an emit takes the connection the store's previous emit kept, without the pool's reset" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! first = emit env.Interpreter accounts key Expected.Any (deposit [ 5L ])
                let recorded = (ok "first emit" first).Events |> List.map (fun e -> e.Id)
                // The pool's reset (DISCARD SEQUENCES among its statements) would have forgotten the session's last id.
                let! seen = emitProbing env key (currval env)
                Expect.equal (seen |> Option.map Convert.ToInt64) (Some(List.last recorded)) "the session still knows the id the previous emit drew"
            })
        }

        testTask "a connection handed to other code goes back to the pool, so what that code set does not reach the next emit" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! _ = emitProbing env key "SELECT set_config('application_name', 'set by a decision', false)"
                let! after = emitProbing env key "SELECT current_setting('application_name')"
                Expect.notEqual (after |> Option.map string) (Some "set by a decision") "the next emit's session was reset"
                // Nor does a unit of work that only emitted (kept) inherit it.
                let! _ = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                let! later = emitProbing env key "SELECT current_setting('application_name')"
                Expect.notEqual (later |> Option.map string) (Some "set by a decision") "still reset"
            })
        }

        testTask "a failed emit whose rollback succeeded leaves its connection kept, and the next emit works on it" {
            do! PgEnv.using (runtimeWith boomRouter) tables (fun env -> task {
                let key = newKey ()
                let! seeded = emit env.Interpreter accounts key Expected.Any (deposit [ 3L ])
                let seededIds = (ok "seed" seeded).Events |> List.map (fun e -> e.Id)
                let! failed = emit env.Interpreter accounts key Expected.Any (always [ box { Reason = "boom" } ])
                err "the throwing handler's emit" failed |> ignore
                let! seen = emitProbing env key (currval env)
                // The failed emit drew an id before rolling back (sequences are not transactional).
                Expect.isSome seen "the rolled-back emit's connection was kept (its session drew an id)"
                Expect.isGreaterThan (Convert.ToInt64 seen.Value) (List.last seededIds) "and it is the id the failed emit drew"
                let! _ = checkChain env.Interpreter accounts key
                ()
            })
        }

        testTask "the connection of a cancelled emit goes back to the pool, even when nothing else touched it" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! _ = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                // The decision takes the kept connection (its session drew an id) and cancels the emit without
                // touching the connection itself.
                use cts = new CancellationTokenSource()
                let cancelling = InTransaction(fun _ _ _ -> task { cts.Cancel(); return Ok [ box { Amount = 1L } ] })
                let! cancelled = Store.emit env.Interpreter accounts key Expected.Any cancelling cts.Token
                Expect.equal (err "the cancelled emit" cancelled) Cancelled "cancelled"
                let! seen = emitProbing env key (currval env)
                Expect.isNone seen "the next emit got a connection the pool reset"
            })
        }

        testTask "a kept connection goes back to the pool after a second without emits" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! _ = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                do! Task.Delay 1600
                let! seen = emitProbing env key (currval env)
                Expect.isNone seen "the connection was reset by the pool (it was returned after a second)"
            })
        }

        testTask "at most `cap` connections are kept, each for at most `linger`, none after disposal" {
            do! PgEnv.using runtime tables (fun env -> task {
                let kept = new KeptConnections(env.DataSource, 2, TimeSpan.FromMilliseconds 200.0, TimeSpan.FromMinutes 1.0)
                let! three = takeThreeGiveBack kept
                let (a: NpgsqlConnection, b: NpgsqlConnection, c: NpgsqlConnection) = three
                Expect.equal kept.Count 2 "the third went back to the pool"
                Expect.equal c.FullState Data.ConnectionState.Closed "closed (returned to the pool)"
                let! again = kept.Take ct
                Expect.isTrue (obj.ReferenceEquals(again, b)) "the most recently kept one is taken first"
                kept.Give(again, false)
                Expect.equal kept.Count 1 "a connection given back unclean is not kept"
                let deadline = DateTime.UtcNow.AddSeconds 5.0
                while kept.Count > 0 && DateTime.UtcNow < deadline do
                    do! Task.Delay 50
                Expect.equal kept.Count 0 "released after its linger"
                Expect.equal a.FullState Data.ConnectionState.Closed "and closed"
                let! d = kept.Take ct
                kept.Dispose()
                kept.Give(d, true)
                Expect.equal kept.Count 0 "nothing is kept once disposed"
                Expect.equal d.FullState Data.ConnectionState.Closed "a connection given back after disposal goes to the pool"
            })
        }

        testTask "a connection goes back to the pool once it has been out of it for its cycle, however busy" {
            do! PgEnv.using runtime tables (fun env -> task {
                let kept = new KeptConnections(env.DataSource, 2, TimeSpan.FromSeconds 10.0, TimeSpan.FromMilliseconds 300.0)
                let! a = kept.Take ct
                kept.Give(a, true)
                let deadline = DateTime.UtcNow.AddSeconds 5.0
                let mutable cycles = 0
                // Taken and given back again and again: kept while the cycle lasts, then returned to the pool.
                while a.FullState = Data.ConnectionState.Open && DateTime.UtcNow < deadline do
                    let! c = kept.Take ct
                    Expect.isTrue (obj.ReferenceEquals(c, a)) "the same connection while its cycle lasts"
                    do! Task.Delay 20
                    kept.Give(c, true)
                    cycles <- cycles + 1
                Expect.equal a.FullState Data.ConnectionState.Closed "returned to the pool after its cycle"
                Expect.isGreaterThan cycles 3 "after being reused several times"
                Expect.equal kept.Count 0 "and not kept"
                kept.Dispose()
            })
        }

        testTask "followers' reads (ReadAll, Head, WaitUntilReadable) run on the connection an emit kept, and keep it" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! _ = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                let pid = theKept env "after the emit"
                // Each read's statement is the last one the kept connection's backend ran, and it is kept again.
                let ranOnIt (read: string) (statement: string) =
                    task {
                        let! last = lastStatement pid
                        Expect.stringContains last statement (sprintf "%s ran on the connection the emit kept" read)
                        Expect.equal env.Store.KeptBackends [ pid ] (sprintf "and it is kept after %s" read)
                    }
                let! read = env.Interpreter.ReadAll(LogPosition.Origin, 10, ct)
                Expect.equal (ok "ReadAll" read |> List.length) 1 "the event is read"
                do! ranOnIt "ReadAll" "ORDER BY tx, id LIMIT $3"
                let! head = env.Interpreter.Head ct
                ok "Head" head |> ignore
                do! ranOnIt "Head" "ORDER BY tx DESC, id DESC LIMIT 1"
                let! readable = env.Store.WaitUntilReadable ct
                ok "WaitUntilReadable" readable
                do! ranOnIt "WaitUntilReadable" "pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1"
            })
        }

        testTask "a read that ends in an error (cancelled while it waits) does not keep its connection" {
            do! PgEnv.using runtime tables (fun env -> task {
                // A transaction holding an xid below a committed one keeps WaitUntilReadable waiting until the token
                // fires (the emit after it commits that younger xid).
                use! other = env.DataSource.OpenConnectionAsync()
                use! tx = other.BeginTransactionAsync()
                use xid = new NpgsqlCommand("SELECT pg_current_xact_id()", other, tx)
                let! _ = xid.ExecuteScalarAsync()
                let! _ = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                let pid = theKept env "after the emit"
                use cts = new CancellationTokenSource(TimeSpan.FromMilliseconds 200.0)
                let! waited = env.Store.WaitUntilReadable cts.Token
                Expect.equal (err "the cancelled wait" waited) Cancelled "cancelled"
                Expect.isFalse (List.contains pid env.Store.KeptBackends) "the connection it read on went back to the pool"
            })
        }

        testTask "a kept connection the server closed fails one emit with a connection error, records nothing, and is not kept again" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = newKey ()
                let! _ = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                let pid = theKept env "after the first emit"
                let! killed = onServer "SELECT pg_terminate_backend($1)" pid
                Expect.isTrue (unbox<bool> killed) "the kept connection's backend was terminated"
                let! broken = emit env.Interpreter accounts key Expected.Any (deposit [ 2L ])
                match err "the emit on the closed connection" broken with
                | Infrastructure(message, _) -> Expect.stringContains message "connection" "the error says the connection failed"
                | other -> failtestf "expected a connection error, got %O" other
                Expect.isFalse (List.contains pid env.Store.KeptBackends) "the closed connection is not kept"
                let! next = emit env.Interpreter accounts key Expected.Any (deposit [ 4L ])
                ok "the emit after it, on a fresh connection" next |> ignore
                let! chain = checkChain env.Interpreter accounts key
                Expect.equal (chain |> List.length) 2 "the failed emit recorded nothing; the others one event each"
            })
        }

        testTask "a store keeps at most half the pool, and returns a busy connection within a tenth of the pool's lifetime" {
            let b = NpgsqlConnectionStringBuilder(PgServer.connectionString ())
            b.MaxPoolSize <- 4
            b.ConnectionLifetime <- 3
            use ds = NpgsqlDataSource.Create b.ConnectionString
            let kept = KeptConnections.For ds
            let! three = takeThreeGiveBack kept
            let (_, y: NpgsqlConnection, _) = three
            Expect.equal kept.Count 2 "half of Maximum Pool Size 4"
            // Used every 20 ms (so never idle for the 1 s linger): back to the pool after 0.3 s, not the default 60 s.
            let sw = Diagnostics.Stopwatch.StartNew()
            while y.FullState = Data.ConnectionState.Open && sw.Elapsed < TimeSpan.FromSeconds 5.0 do
                let! c = kept.Take ct
                Expect.isTrue (obj.ReferenceEquals(c, y)) "the most recently kept one, again and again"
                do! Task.Delay 20
                kept.Give(c, true)
            Expect.equal y.FullState Data.ConnectionState.Closed "returned to the pool"
            Expect.isLessThan sw.Elapsed (TimeSpan.FromSeconds 2.0) "within a tenth of Connection Lifetime 3 s (plus scheduling)"
            kept.Dispose()
        }

        testTask "a store keeps no connection of a multiplexing data source" {
            let b = NpgsqlConnectionStringBuilder(PgServer.connectionString ())
            b.Multiplexing <- true
            use ds = NpgsqlDataSource.Create b.ConnectionString
            let kept = KeptConnections.For ds
            let! c = kept.Take ct
            kept.Give(c, true)
            Expect.equal kept.Count 0 "given back to the pool"
            kept.Dispose()
        }
    ]
