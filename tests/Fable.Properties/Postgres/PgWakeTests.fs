// Waking followers: in-process subscribers of `PostgresStore.Committed` are signalled after a commit that
// recorded events (never before it, never for a rollback), and other connections get a NOTIFY after a burst of
// commits, including one sent after the last commit.
module Fable.Tests.PgWakeTests

open System
open System.Collections.Concurrent
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// Counts the signals of `store.Committed`; `onSignal` runs at each (on the committing thread).
type Signals(store: Fable.FSharp.Postgres.PostgresStore, onSignal: unit -> unit) =
    let mutable count = 0
    let subscription = store.Committed.Subscribe(fun () -> onSignal (); Interlocked.Increment &count |> ignore)
    member _.Count = Volatile.Read &count
    interface IDisposable with
        member _.Dispose() = subscription.Dispose()

/// Committed events, counted on a connection of their own.
let private committedEvents (env: PgEnv.Env) =
    task {
        let! n = env.Scalar(sprintf "SELECT count(*) FROM %s.events" (PgEnv.q env.FableSchema))
        return Convert.ToInt64 n
    }

/// A burst of commits: 8 writers at once, each emitting `perWriter` deposits over the accounts `keys`.
let private burst (env: PgEnv.Env) (keys: AggregateKey[]) (perWriter: int) =
    let writer (w: int) () =
        task {
            for n in 1..perWriter do
                let! r = emit env.Interpreter accounts keys[(w + n) % keys.Length] Expected.Any (deposit [ 1L ])
                ok "burst emit" r |> ignore
        }
    Task.WhenAll [| for w in 0..7 -> background (writer w) |]

let tests =
    testList "wake-ups" [
        // Sequenced: it counts the process's active timers, which tests running beside it would move.
        testSequenced <| testTask "a runner's wait that a wake-up ends leaves no timer behind" {
            let signal = Fable.FSharp.Postgres.PmSignal()
            let waits = 1_000
            let before = Timer.ActiveCount
            for _ in 1 .. waits do
                let woken = Fable.FSharp.Postgres.PmRunner.wait signal.Next (TimeSpan.FromMinutes 1.0) ct
                signal.Set()
                do! woken
            let grown = Timer.ActiveCount - before
            Expect.isLessThan grown (int64 (waits / 2)) (sprintf "%d waits, each woken at once, left %d more active timers (each wait's poll timer must go when the wake-up ends it)" waits grown)
        }

        testTask "in-process subscribers are signalled after the commit, and never before it" {
            // Notify off: the in-process signal does not depend on the cross-process NOTIFY.
            let! (env: PgEnv.Env) = PgEnv.createWith runtime tables false ignore
            let seenAtSignal = ConcurrentQueue<int64>()
            let signals = new Signals(env.Store, fun () -> seenAtSignal.Enqueue((committedEvents env).Result))
            try
                let! r =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! first = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 1L ], ct)
                        let! second = uow.Emit(accounts, newKey (), Expected.Any, deposit [ 2L; 3L ], ct)
                        Expect.equal signals.Count 0 "no signal while the transaction is open"
                        return first |> Result.bind (fun _ -> second)
                    }) ct
                ok "unit of work" r |> ignore
                Expect.equal signals.Count 1 "one signal for the committed transaction, before Transact returned"
                Expect.equal (List.ofSeq seenAtSignal) [ 3L ] "at the signal, its three events were committed"
                let! r = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 4L ])
                ok "emit" r |> ignore
                Expect.equal signals.Count 2 "a signal per committed emit"
                Expect.equal (List.ofSeq seenAtSignal) [ 3L; 4L ] "each after its commit"
            finally
                (signals :> IDisposable).Dispose()
                (env :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
        }

        testTask "no signal for a rolled-back transaction, a failed emit, an emit of no events or the caller's transaction" {
            do! PgEnv.using runtime tables (fun env -> task {
                use signals = new Signals(env.Store, ignore)
                let key = newKey ()
                let! rolledBack =
                    Store.transact env.Interpreter (fun uow -> task {
                        let! e = uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], ct)
                        ok "emit inside" e |> ignore
                        return Error(FableError.reject "roll back")
                    }) ct
                Expect.isError rolledBack "the work failed"
                let! refused = emit env.Interpreter accounts key Expected.Any (Pure(fun _ -> Error(FableError.reject "no")))
                Expect.isError refused "the decision refused"
                let! stale = emit env.Interpreter accounts key (Expected.At(Some 42L)) (deposit [ 1L ])
                Expect.isError stale "an unmet expectation"
                let! nothing = emit env.Interpreter accounts key Expected.Any (always [])
                ok "an emit of no events" nothing |> ignore
                use! conn = env.DataSource.OpenConnectionAsync()
                use! tx = conn.BeginTransactionAsync()
                let! inCaller = env.Store.InTransaction(conn, tx, fun uow -> uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], ct))
                ok "emit in the caller's transaction" inCaller |> ignore
                do! tx.CommitAsync()
                Expect.equal signals.Count 0 "no signal so far"
                let! committed = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                ok "a committed emit" committed |> ignore
                Expect.equal signals.Count 1 "the committed emit signals"
            })
        }

        testTask "disposing the store ends its notifier's loop, after the NOTIFY owed to the last commit" {
            let! (env: PgEnv.Env) = PgEnv.createWith runtime tables true ignore
            try
                let channel = env.Store.Options.NotifyChannel
                use! listener = env.DataSource.OpenConnectionAsync()
                let arrived = ConcurrentQueue<int>()
                listener.Notification.Add(fun a -> if a.Channel = channel then arrived.Enqueue a.PID)
                use listen = new NpgsqlCommand(sprintf "LISTEN %s" (PgEnv.q channel), listener)
                let! _ = listen.ExecuteNonQueryAsync()
                Expect.isTrue env.Store.Notifier.Completion.IsCompleted "no loop before the first commit"
                for _ in 1..3 do
                    let! r = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                    ok "emit" r |> ignore
                let loop = env.Store.Notifier.Completion
                Expect.isFalse loop.IsCompleted "the first commit started the notifier's loop"
                let disposing = (env.Store :> IAsyncDisposable).DisposeAsync().AsTask()
                let! _ = Task.WhenAny(Task.WhenAll(disposing, loop), Task.Delay(TimeSpan.FromSeconds 10.0))
                Expect.isTrue disposing.IsCompleted "DisposeAsync returned"
                Expect.isTrue loop.IsCompleted "the notifier's loop ended with its store (not left waiting for commits that never come)"
                // The last commit is covered by a NOTIFY (sent before the loop ended).
                let guard = new CancellationTokenSource(TimeSpan.FromSeconds 10.0)
                while arrived.IsEmpty && not guard.IsCancellationRequested do
                    try
                        do! listener.WaitAsync guard.Token
                    with :? OperationCanceledException ->
                        ()
                guard.Dispose()
                Expect.isFalse arrived.IsEmpty "a NOTIFY followed the commits"
                // A commit after Dispose still commits and starts no new loop.
                let! r = emit env.Interpreter accounts (newKey ()) Expected.Any (deposit [ 1L ])
                ok "emit after Dispose" r |> ignore
                Expect.isTrue env.Store.Notifier.Completion.IsCompleted "no loop is started after Dispose"
            finally
                (env :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
        }

        testTask "the NOTIFYs of a burst of commits all come from one connection the notifier keeps (no pool checkout per NOTIFY)" {
            do! PgEnv.using runtime tables (fun env -> task {
                let channel = env.Store.Options.NotifyChannel
                use! listener = env.DataSource.OpenConnectionAsync()
                let senders = ConcurrentQueue<int>()
                listener.Notification.Add(fun a -> if a.Channel = channel then senders.Enqueue a.PID)
                use listen = new NpgsqlCommand(sprintf "LISTEN %s" (PgEnv.q channel), listener)
                let! _ = listen.ExecuteNonQueryAsync()
                let! _ = burst env (Array.init 8 (fun _ -> newKey ())) 15
                // The last NOTIFY follows the last commit within a window; collect until none came for 200 ms.
                use guard = new CancellationTokenSource(TimeSpan.FromSeconds 10.0)
                let mutable quiet = false
                while not quiet do
                    use pause = CancellationTokenSource.CreateLinkedTokenSource guard.Token
                    pause.CancelAfter(TimeSpan.FromMilliseconds 200.0)
                    try
                        do! listener.WaitAsync pause.Token
                    with :? OperationCanceledException ->
                        quiet <- true
                let pids = senders.ToArray() |> Array.distinct
                Expect.isGreaterThan (senders.Count) 1 "the burst was notified more than once (it spans several windows)"
                Expect.equal pids.Length 1 (sprintf "every NOTIFY of the burst came from one backend (the notifier's connection), not from pooled checkouts: %A" pids)
            })
        }

        testTask "a listener in another connection is notified after a burst of commits, also after the last one" {
            do! PgEnv.using runtime tables (fun env -> task {
                let channel = env.Store.Options.NotifyChannel
                let marker = env.FableSchema + ".marker"
                use! listener = env.DataSource.OpenConnectionAsync()
                // Notifications in arrival order, which is the commit order of the notifying transactions.
                let arrived = ConcurrentQueue<string * string>()
                listener.Notification.Add(fun a -> arrived.Enqueue((a.Channel, a.Payload)))
                use listen = new NpgsqlCommand(sprintf "LISTEN %s; LISTEN %s" (PgEnv.q channel) (PgEnv.q marker), listener)
                let! _ = listen.ExecuteNonQueryAsync()
                let keys = Array.init 4 (fun _ -> newKey ())
                let! results = burst env keys 10
                Expect.equal results.Length 8 "every writer finished"
                // Rounds of two commits in a row; the second one (the last commit so far) also NOTIFYs a marker
                // in its own transaction, so a notification on the store's channel that arrives after the marker
                // was sent after that commit. The second commit most likely lands inside a window the first one
                // opened, where the notifier coalesces: it must still send a NOTIFY after it.
                use guard = new CancellationTokenSource(TimeSpan.FromSeconds 60.0)
                for round in 1..10 do
                    let! first = emit env.Interpreter accounts keys[0] Expected.Any (deposit [ 1L ])
                    ok "first emit of the round" first |> ignore
                    let! last =
                        Store.transact env.Interpreter (fun uow -> task {
                            let! e = uow.Emit(accounts, keys[1], Expected.Any, deposit [ 1L ], ct)
                            use cmd = new NpgsqlCommand("SELECT pg_notify($1, $2)", uow.Connection.Value :?> NpgsqlConnection, uow.Transaction.Value :?> NpgsqlTransaction)
                            cmd.Parameters.AddWithValue marker |> ignore
                            cmd.Parameters.AddWithValue(string round) |> ignore
                            let! _ = cmd.ExecuteNonQueryAsync()
                            return e
                        }) ct
                    ok "the last emit of the round" last |> ignore
                    let afterMarker () =
                        arrived.ToArray() |> Array.skipWhile (fun n -> n <> (marker, string round)) |> Array.exists (fun (c, _) -> c = channel)
                    while not (afterMarker ()) && not guard.IsCancellationRequested do
                        try
                            do! listener.WaitAsync guard.Token
                        with :? OperationCanceledException ->
                            ()
                    Expect.isTrue (afterMarker ()) (sprintf "round %d: a notification on %s arrived after the last commit (arrivals: %A)" round channel (arrived.ToArray()))
            })
        }
    ]
