// Counts network round trips per emit with a TCP proxy between Npgsql and the server: a round trip is the
// client speaking after the server did (or first). Measures the single-event emit and a few neighbours.
module Fable.Tests.PgRoundTripTests

open System
open System.Net
open System.Net.Sockets
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PgDomain

/// Follows one client→server stream of the PostgreSQL protocol message by message (the untyped SSL, GSS and
/// startup messages first, then typed ones) and counts statements: Execute messages (one per statement of a
/// batch) and simple Query messages (Npgsql sends BEGIN as one).
type private ClientMessages() =
    let mutable typed = false
    // The bytes of the message being read that arrived so far (header first), and how many it has in all.
    let header = Array.zeroCreate<byte> 5
    let mutable have = 0
    let mutable need = -1

    /// Execute messages seen in `bytes`, which follow the bytes fed before.
    member _.Feed(bytes: ReadOnlySpan<byte>) =
        let mutable executes = 0
        let mutable headerLength = if typed then 5 else 4
        let mutable i = 0
        while i < bytes.Length do
            if need < 0 then
                header[have] <- bytes[i]
                have <- have + 1
                i <- i + 1
                if have = headerLength then
                    let length = Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(ReadOnlySpan(header, headerLength - 4, 4))
                    // The length counts itself, not the type byte.
                    need <- length - 4
                    have <- 0
                    if typed && (header[0] = byte 'E' || header[0] = byte 'Q') then executes <- executes + 1
                    if not typed then
                        // SSLRequest and GSSENCRequest (8 bytes) are followed by the startup message; after it, typed.
                        if length <> 8 then typed <- true
                        headerLength <- if typed then 5 else 4
                    if need = 0 then need <- -1
            else
                let take = min need (bytes.Length - i)
                i <- i + take
                need <- need - take
                if need = 0 then need <- -1
        executes

/// A loopback TCP proxy to `target` that counts client→server turns over all its connections, the savepoint
/// commands (the text SAVEPOINT) clients send, and the statements they execute.
type RoundTripProxy(target: EndPoint) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    let mutable trips = 0
    let mutable savepoints = 0
    let mutable executes = 0
    let cts = new CancellationTokenSource()
    let word = Text.Encoding.ASCII.GetBytes "SAVEPOINT"
    // The statement text ends with the message's NUL ("BEGIN ... READ COMMITTED" must not match).
    let commit = Text.Encoding.ASCII.GetBytes "COMMIT\000"
    // Set by CutAtNextCommit: the next client chunk holding COMMIT is forwarded, then the connection is cut.
    let mutable cut = 0

    let contains (seen: byte[]) (w: byte[]) =
        let mutable found = false
        let mutable i = 0
        while not found && i <= seen.Length - w.Length do
            found <- ReadOnlySpan(seen, i, w.Length).SequenceEqual(ReadOnlySpan w)
            i <- i + 1
        found

    let pump (src: Socket) (dst: Socket) (clientSide: bool) (turn: bool ref) =
        task {
            let buffer = Array.zeroCreate<byte> 65536
            // The stream's last bytes, so that a word split between two reads is still found.
            let mutable tail: byte[] = [||]
            // The same for COMMIT (one byte short of the word, so a COMMIT already forwarded never matches again).
            let mutable commitTail: byte[] = [||]
            let messages = ClientMessages()
            let mutable go = true
            while go do
                let! n = src.ReceiveAsync(Memory buffer, SocketFlags.None, cts.Token)
                if n = 0 then
                    go <- false
                else
                    if clientSide then
                        Interlocked.Add(&executes, messages.Feed(ReadOnlySpan(buffer, 0, n))) |> ignore
                        let seen = Array.append tail buffer[0 .. n - 1]
                        let mutable i = 0
                        while i <= seen.Length - word.Length do
                            if ReadOnlySpan(seen, i, word.Length).SequenceEqual(ReadOnlySpan word) then
                                Interlocked.Increment &savepoints |> ignore
                                i <- i + word.Length
                            else
                                i <- i + 1
                        tail <- seen[max 0 (seen.Length - word.Length + 1) ..]
                    lock turn (fun () ->
                        if clientSide then
                            if turn.Value then
                                Interlocked.Increment &trips |> ignore
                                turn.Value <- false
                        else
                            turn.Value <- true)
                    let cutNow =
                        if clientSide then
                            let seen = Array.append commitTail buffer[0 .. n - 1]
                            commitTail <- seen[max 0 (seen.Length - commit.Length + 1) ..]
                            Volatile.Read &cut = 1 && contains seen commit && Interlocked.Exchange(&cut, 0) = 1
                        else false
                    let! _ = dst.SendAsync(ReadOnlyMemory(buffer, 0, n), SocketFlags.None, cts.Token)
                    if cutNow then
                        // The server has the COMMIT; the client never hears back.
                        src.Shutdown SocketShutdown.Both
                        go <- false
        }

    let serve (client: Socket) =
        task {
            use client = client
            use server = new Socket(target.AddressFamily, SocketType.Stream, (if target :? UnixDomainSocketEndPoint then ProtocolType.Unspecified else ProtocolType.Tcp))
            do! server.ConnectAsync(target, cts.Token)
            let turn = ref true
            let up = pump client server true turn
            let down = pump server client false turn
            try
                let! _ = Task.WhenAny(up, down)
                ()
            with _ ->
                ()
        }

    do
        listener.Start()
        Task.Run(fun () ->
            task {
                try
                    while not cts.IsCancellationRequested do
                        let! s = listener.AcceptSocketAsync cts.Token
                        serve s |> ignore
                with _ ->
                    ()
            } :> Task)
        |> ignore

    /// The proxy's port on 127.0.0.1.
    member _.Port = (listener.LocalEndpoint :?> IPEndPoint).Port
    /// Round trips since the last reset.
    member _.Trips = Volatile.Read &trips
    /// SAVEPOINT words sent (SAVEPOINT, RELEASE SAVEPOINT, ROLLBACK TO SAVEPOINT) since the last reset.
    member _.Savepoints = Volatile.Read &savepoints
    /// Statements executed (Execute messages) since the last reset.
    member _.Executes = Volatile.Read &executes
    /// Cuts the client's connection right after forwarding the next chunk that holds COMMIT.
    member _.CutAtNextCommit() = Volatile.Write(&cut, 1)

    /// Starts counting again from zero.
    member _.Reset() =
        Interlocked.Exchange(&trips, 0) |> ignore
        Interlocked.Exchange(&savepoints, 0) |> ignore
        Interlocked.Exchange(&executes, 0) |> ignore

    interface IDisposable with
        member _.Dispose() =
            cts.Cancel()
            listener.Stop()

/// The server's endpoint from a connection string (TCP host or unix socket folder).
let private endpointOf (cs: string) : EndPoint =
    let b = NpgsqlConnectionStringBuilder cs
    if b.Host.StartsWith "/" then UnixDomainSocketEndPoint(IO.Path.Combine(b.Host, sprintf ".s.PGSQL.%d" b.Port))
    else
        match IPAddress.TryParse b.Host with
        | true, ip -> IPEndPoint(ip, b.Port)
        | _ -> DnsEndPoint(b.Host, b.Port)

/// Round trips taken by `action`, averaged over `times` runs.
let private measure (proxy: RoundTripProxy) (times: int) (action: unit -> Task) =
    task {
        proxy.Reset()
        for _ in 1..times do
            do! action ()
        return float proxy.Trips / float times
    }

/// Runs `body` on a fresh environment whose connections go through a new proxy (`adjust` sets the other connection
/// settings), with Notify off, and disposes both.
let private throughProxy (adjust: NpgsqlConnectionStringBuilder -> unit) (body: RoundTripProxy -> PgEnv.Env -> Task<unit>) : Task<unit> =
    task {
        let proxy = new RoundTripProxy(endpointOf (PgServer.connectionString ()))
        let configure (b: NpgsqlConnectionStringBuilder) =
            b.Host <- "127.0.0.1"
            b.Port <- proxy.Port
            adjust b
        let! (env: PgEnv.Env) = PgEnv.createWith runtime tables false configure
        try
            do! body proxy env
        finally
            (env :> IAsyncDisposable).DisposeAsync().AsTask().Wait()
            (proxy :> IDisposable).Dispose()
    }

let tests =
    testList "round trips" [
        testTask "an emit in a transaction of its own takes 2 round trips: COMMIT rides with the last batch" {
            // Notify off: the store's notifier sends its NOTIFY on a connection of its own after the commit,
            // which the proxy would count too (emits in the caller's transaction notify inline, in a batch).
            let adjust (b: NpgsqlConnectionStringBuilder) =
                b.MaxPoolSize <- 1
            do! throughProxy adjust (fun proxy env -> task {
                let i = env.Interpreter
                let key = AggregateKey.Uuid(Guid.NewGuid())
                let emitOne (k: AggregateKey) (amounts: int64 list) () =
                    task {
                        let! r = emit i accounts k Expected.Any (deposit amounts)
                        ok "emit" r |> ignore
                    } :> Task
                let emitNote (k: AggregateKey) () =
                    task {
                        let! r = emit i accounts k Expected.Any (always [ box { Note = "n" } ])
                        ok "emit a note" r |> ignore
                    } :> Task
                do! emitOne key [ 1L ] ()
                let! existing = measure proxy 5 (emitOne key [ 1L ])
                let! noteCreating = measure proxy 5 (fun () -> emitNote (AggregateKey.Uuid(Guid.NewGuid())) ())
                let! noteExisting = measure proxy 5 (emitNote key)
                let! creating = measure proxy 5 (fun () -> emitOne (AggregateKey.Uuid(Guid.NewGuid())) [ 1L ] ())
                let! threeEvents = measure proxy 5 (emitOne key [ 1L; 2L; 3L ])
                let! inTransact =
                    measure proxy 5 (fun () -> task {
                        let! r = Store.transact i (fun uow -> uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], CancellationToken.None)) CancellationToken.None
                        ok "emit in Transact" r |> ignore } :> Task)
                use! conn = env.DataSource.OpenConnectionAsync()
                let mutable inCallerTotal = 0
                for _ in 1..5 do
                    use! tx = conn.BeginTransactionAsync()
                    proxy.Reset()
                    let! r = env.Store.InTransaction(conn, tx, fun uow -> uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], CancellationToken.None))
                    ok "emit in the caller's transaction" r |> ignore
                    inCallerTotal <- inCallerTotal + proxy.Trips
                    do! tx.CommitAsync()
                let inCaller = float inCallerTotal / 5.0
                printfn "round trips: single-event emit %.1f (existing row), %.1f (new row), 3 events %.1f, an event with handlers %.1f (new row) %.1f (existing row), one emit in Transact %.1f, in the caller's transaction (commit not counted) %.1f"
                    existing creating threeEvents noteCreating noteExisting inTransact inCaller
                Expect.equal existing 2.0 "existing aggregate: [BEGIN, lock, load] + [INSERT, UPDATE, COMMIT]"
                Expect.equal creating 2.0 "new aggregate: the same"
                Expect.equal threeEvents 2.0 "three events: the same (the INSERT takes the ids after the first)"
                Expect.equal noteCreating 4.0 "an event with handlers on a new aggregate: [BEGIN, lock, load] + [INSERT event, INSERT row] + the handler's upsert + [guard, COMMIT], as many as when the row was written after the handlers"
                Expect.equal noteExisting 4.0 "an event with handlers on an existing aggregate: the same, with the row's UPDATE"
                Expect.equal inTransact 3.0 "Transact does not know the work is one emit: COMMIT after it returns"
                Expect.equal inCaller 2.0 "in the caller's transaction: BEGIN rides with the first batch; no commit of its own"
            })
        }

        testTask "a single-event emit runs 5 statements on a new aggregate and 4 on one the store saw: no create lock once the row is known" {
            let adjust (b: NpgsqlConnectionStringBuilder) =
                b.MaxPoolSize <- 1
                b.NoResetOnClose <- true // the pool's DISCARD ALL on the next checkout is not the emit's
            do! throughProxy adjust (fun proxy env -> task {
                let key = AggregateKey.Uuid(Guid.NewGuid())
                let statements (k: AggregateKey) (amounts: int64 list) =
                    task {
                        proxy.Reset()
                        let! r = emit env.Interpreter accounts k Expected.Any (deposit amounts)
                        ok "emit" r |> ignore
                        return proxy.Executes
                    }
                let! creating = statements key [ 1L ]
                let! existing = statements key [ 2L ]
                let! three = statements key [ 3L; 4L; 5L ]
                printfn "statements per emit: new row %d, existing row %d, 3 events %d" creating existing three
                Expect.equal creating 5 "new aggregate: BEGIN, create-lock check, SELECT … FOR UPDATE, INSERT events + the row's INSERT, COMMIT"
                Expect.equal existing 4 "an aggregate the store saw with a row: BEGIN, SELECT … FOR UPDATE, INSERT events + guarded UPDATE, COMMIT"
                Expect.equal three 4 "three events: the same (one INSERT for all, in the row write's statement)"
                let! (log: StoredEvent list) = checkChain env.Interpreter accounts key
                Expect.equal log.Length 5 "every event recorded, in one chain"
                let! row = Store.load env.Interpreter accounts key CancellationToken.None
                match row with
                | Ok(Some st) ->
                    Expect.equal st.State.Balance 15L "the row holds the state after the last event"
                    Expect.equal st.LastEventId (Some (List.last log).Id) "the row's last_event_id is the last event's id"
                | other -> failtestf "expected the row, got %A" other
            })
        }

        testTask "an emit on an aggregate the store saw whose row is gone locks again with the create lock: the fork is refused, a replayed row emits" {
            let adjust (b: NpgsqlConnectionStringBuilder) =
                b.MaxPoolSize <- 1
                b.NoResetOnClose <- true
            do! throughProxy adjust (fun proxy env -> task {
                let uuid = Guid.NewGuid()
                let key = AggregateKey.Uuid uuid
                let i = env.Interpreter
                let! first = emit i accounts key Expected.Any (deposit [ 1L ])
                ok "first emit" first |> ignore
                let! second = emit i accounts key Expected.Any (deposit [ 2L ])
                ok "second emit" second |> ignore
                // Deleted behind the store's back: the store still takes the aggregate for one with a row.
                do! env.Exec(sprintf "DELETE FROM accounts WHERE id = '%O'" uuid)
                // An emit on the missing row, refused as a fork as for any aggregate whose row is missing; its statements.
                let refused (what: string) =
                    task {
                        proxy.Reset()
                        let! r = emit i accounts key Expected.Any (deposit [ 4L ])
                        match r with
                        | Error(Conflict(Some _, None, None, false, m)) -> Expect.stringContains m "its row is gone" (what + ": the fork is refused")
                        | other -> failtestf "%s: expected the refused fork, got %A" what other
                        return proxy.Executes
                    }
                let! goneStatements = refused "while known"
                // The store forgot the aggregate: the next emit takes the create lock at once, and is refused alike.
                let! forgottenStatements = refused "once forgotten"
                printfn "statements of a refused emit on a missing row: %d while known, %d once forgotten" goneStatements forgottenStatements
                Expect.equal goneStatements (forgottenStatements + 1) "while known: one row lock that found nothing, then the same statements as for an unknown aggregate"
                let! log = Store.log i (AggregateDef.idOf accounts key) CancellationToken.None
                Expect.equal (ok "log" log).Length 2 "nothing was recorded by the refused emit"
                let! replayed = Store.replay i accounts key CancellationToken.None
                Expect.equal (ok "replay" replayed).State.Balance 3L "replay restores the row from the log"
                let! again = emit i accounts key Expected.Any (deposit [ 4L ])
                Expect.equal (ok "emit after replay" again).Aggregate.State.Balance 7L "emits continue the chain"
                let! (log: StoredEvent list) = checkChain i accounts key
                Expect.equal log.Length 3 "one chain, three events"
                // A row the store wrote in a transaction that then rolled back: the next emit finds no row, locks
                // again with the create lock and starts the aggregate's chain.
                let created = AggregateKey.Uuid(Guid.NewGuid())
                let! undone =
                    Store.transact i (fun uow -> task {
                        let! r = uow.Emit(accounts, created, Expected.Any, deposit [ 5L ], CancellationToken.None)
                        ok "emit in the unit of work" r |> ignore
                        return Error(FableError.reject "undo")
                    }) CancellationToken.None
                Expect.isTrue (match undone with Error(Rejected _) -> true | _ -> false) "the unit of work rolled back"
                proxy.Reset()
                let! fresh = emit i accounts created Expected.Any (deposit [ 6L ])
                let freshStatements = proxy.Executes
                Expect.equal (ok "emit after the rollback" fresh).Aggregate.State.Balance 6L "the rolled-back deposit is not in the state"
                Expect.equal freshStatements 6 "BEGIN, row lock (no row), create-lock check, row lock, INSERT event + row, COMMIT"
                let! (log: StoredEvent list) = checkChain i accounts created
                Expect.equal log.Length 1 "the chain starts with the emit after the rollback"
            })
        }

        testTask "a connection lost once COMMIT was sent with the last batch is Infrastructure saying the outcome is unknown" {
            let adjust (b: NpgsqlConnectionStringBuilder) =
                b.MaxAutoPrepare <- 0 // COMMIT crosses the proxy as text
            do! throughProxy adjust (fun proxy env -> task {
                let key = newKey ()
                let! seeded = emit env.Interpreter accounts key Expected.Any (deposit [ 1L ])
                ok "seed" seeded |> ignore
                proxy.CutAtNextCommit()
                let! r = emit env.Interpreter accounts key Expected.Any (deposit [ 2L ])
                match r with
                | Error(Infrastructure(m, _)) -> Expect.stringContains m "outcome is unknown" "the error says the commit may have happened"
                | other -> failtestf "expected Infrastructure, got %A" other
                let! (next: Result<Emitted<Account>, FableError>) = emit env.Interpreter accounts key Expected.Any (deposit [ 4L ])
                let balance = (ok "an emit after the cut" next).Aggregate.State.Balance
                Expect.isTrue (balance = 5L || balance = 7L) (sprintf "the cut emit either committed whole or not at all (balance %d)" balance)
            })
        }

        testTask "the first emit of a transaction Fable owns runs without a savepoint; every other emit keeps one" {
            let adjust (b: NpgsqlConnectionStringBuilder) =
                b.MaxPoolSize <- 2 // the caller's connection and one for the chain check
                b.MaxAutoPrepare <- 0 // every command's text crosses the proxy
            do! throughProxy adjust (fun proxy env -> task {
                let ct = CancellationToken.None
                let key = AggregateKey.Uuid(Guid.NewGuid())
                let deposit1 (uow: IUnitOfWork) = uow.Emit(accounts, key, Expected.Any, deposit [ 1L ], ct)
                let savepointsOf (f: unit -> Task<Result<'T, FableError>>) =
                    task {
                        proxy.Reset()
                        let! r = f ()
                        ok "work" r |> ignore
                        return proxy.Savepoints
                    }
                let! single = savepointsOf (fun () -> Store.transact env.Interpreter deposit1 ct)
                let! two =
                    savepointsOf (fun () ->
                        Store.transact env.Interpreter (fun uow -> task {
                            match! deposit1 uow with
                            | Error e -> return Error e
                            | Ok _ -> return! deposit1 uow }) ct)
                let! afterTable =
                    savepointsOf (fun () ->
                        Store.transact env.Interpreter (fun uow -> task {
                            match! uow.Tables.Get("notes", box "none", ct) with
                            | Error e -> return Error e
                            | Ok _ -> return! deposit1 uow }) ct)
                let! afterConnection =
                    savepointsOf (fun () ->
                        Store.transact env.Interpreter (fun uow -> task {
                            uow.Connection |> ignore
                            return! deposit1 uow }) ct)
                use! conn = env.DataSource.OpenConnectionAsync()
                use! tx = conn.BeginTransactionAsync()
                let! inCaller = savepointsOf (fun () -> env.Store.InTransaction(conn, tx, deposit1))
                do! tx.CommitAsync()
                Expect.equal single 0 "a lone emit: no SAVEPOINT"
                Expect.equal two 2 "two emits: the second has SAVEPOINT and RELEASE SAVEPOINT"
                Expect.equal afterTable 4 "after a table read (itself in a savepoint) the emit keeps its savepoint"
                Expect.equal afterConnection 2 "after the caller took the connection the emit keeps its savepoint"
                Expect.equal inCaller 2 "in the caller's transaction the emit keeps its savepoint"
                let! (log: StoredEvent list) = checkChain env.Interpreter accounts key
                Expect.equal log.Length 6 "every emit committed"
            })
        }
    
        testProperty "the store's memory of aggregates with a row holds what was added since it last emptied, never more than its capacity nor a long text key" <| fun (ops: (bool * byte) list) ->
            let capacity = 8
            let known = Fable.FSharp.Postgres.KnownRows(capacity)
            // Keys 0–11 are ints; 12 is a text key too long to be remembered.
            let idOf (k: byte) =
                match int k % 13 with
                | 12 -> { Table = "accounts"; Key = AggregateKey.Text(String('k', Fable.FSharp.Postgres.KnownRows.LongestKey + 1)) }
                | n -> { Table = "accounts"; Key = AggregateKey.Int(int64 n) }
            let model = Collections.Generic.HashSet<AggregateId>()
            for (add, k) in ops do
                let id = idOf k
                if add then
                    known.Add id
                    if int k % 13 <> 12 && model.Add id && model.Count > capacity then model.Clear()
                else
                    known.Remove id
                    model.Remove id |> ignore
                Expect.isLessThanOrEqual known.Count capacity "bounded"
            for k in 0uy .. 12uy do
                Expect.equal (known.Contains(idOf k)) (model.Contains(idOf k)) (sprintf "aggregate %d" k)
    ]
