// The Postgres interpreter: migrates its schema on creation, runs units of work in transactions it owns or in
// the caller's, and reads the global log for followers below the snapshot horizon (DESIGN §4).
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// Fable on PostgreSQL: events in `"<schema>".events`, aggregates in the application's own tables.
/// Thread-safe; each unit of work uses one connection from the data source, kept for the store's next unit of work
/// when only Fable's statements ran on it (no pool reset in between: docs/postgres.md, Connections).
type PostgresStore private (ds: NpgsqlDataSource, ctx: Context) =
    let notifier = Notifier(ds, ctx.Options.NotifyChannel, ctx.Options.Notify, Notifier.DefaultWindow)
    // Connections of transactions this store owned, kept for the next ones (no pool reset in between).
    let kept = KeptConnections.For ds

    /// An exception that escaped the caller's work: a database failure (or any failure once the connection
    /// is broken) maps as usual; anything else is the work's own failure.
    static let workFailure (session: Session) (ct: CancellationToken) (e: exn) =
        let broken = session.Connection.FullState <> Data.ConnectionState.Open
        match e with
        | :? OperationCanceledException -> Cancelled
        | :? NpgsqlException -> PgErrors.ofExn None ct e
        | e when broken -> PgErrors.ofExn None ct e
        | e -> HandlerFailed("transaction", "work", e.Message, Some e)

    /// The work's outcome `r` on `session`: a broken session fails it even when the work returned Ok.
    static let settled (session: Session) (r: Result<'T, FableError>) =
        match r, session.Broken with
        | Ok _, Some broken -> Error broken
        | r, _ -> r

    /// Commits the session's transaction. A COMMIT of an aborted transaction silently rolls back: the SELECT before
    /// it fails instead (and COMMIT is skipped) when code handed the connection swallowed a database error; without
    /// such code, COMMIT alone. The error says nothing was committed.
    static let commit (session: Session) : Task<Result<unit, FableError>> =
        task {
            try
                use batch = new NpgsqlBatch(session.Connection, session.Transaction)
                if session.Exposed then
                    batch.BatchCommands.Add(NpgsqlBatchCommand("SELECT 1"))
                batch.BatchCommands.Add(NpgsqlBatchCommand("COMMIT"))
                let! _ = batch.ExecuteNonQueryAsync CancellationToken.None
                return Ok()
            with
            | :? PostgresException as p when p.SqlState = "25P02" ->
                return Error(Infrastructure("the transaction was aborted by a database error the work did not report; nothing was committed", Some(p :> exn)))
            | e -> return Error(PgErrors.ofCommit None e)
        }

    /// The outcome of a commit that already happened (an emit that was the whole transaction sent COMMIT with its last
    /// batch): one completed task for every such emit.
    static let committedAlready: Task<Result<unit, FableError>> = Task.FromResult(Ok())

    /// Rolls the session's transaction back; false when that failed (the connection is gone: the server rolls the
    /// transaction back itself).
    static let rollBack (session: Session) : Task<bool> =
        task {
            try
                do! session.Transaction.RollbackAsync CancellationToken.None
                return true
            with _ ->
                return false
        }

    static let runWork (session: Session) (work: IUnitOfWork -> Task<Result<'T, FableError>>) (uow: IUnitOfWork) (ct: CancellationToken) =
        task {
            let mutable r = Unchecked.defaultof<Result<'T, FableError>>
            try
                let! w = work uow
                r <- w
            with e ->
                r <- Error(workFailure session ct e)
            return settled session r
        }

    /// Migrates `options.Schema` (creating it if needed; safe when several processes do it at once), checks every
    /// table `rt` declares against the catalog (all problems at once) and returns a store for `rt`. InvalidDefinition for bad options; Infrastructure when the database cannot be reached.
    static member Create(dataSource: NpgsqlDataSource, rt: Runtime, ?options: PostgresOptions, ?ct: CancellationToken) : Task<Result<PostgresStore, FableError>> =
        task {
            let options = defaultArg options PostgresOptions.Default
            let ct = defaultArg ct CancellationToken.None
            match options.Problems with
            | _ :: _ as ps -> return Error(InvalidDefinition ps)
            | [] when isNull dataSource -> return Error(InvalidDefinition [ "the data source is null" ])
            | [] ->
                match! Migrations.run dataSource options.Schema Migrations.all ct with
                | Error e -> return Error e
                | Ok _ ->
                    match! TableCheck.check dataSource rt.Tables ct with
                    | Error e -> return Error e
                    | Ok() -> return Ok(new PostgresStore(dataSource, Events.context rt options))
        }

    /// The data source connections come from.
    member _.DataSource = ds

    /// The runtime this store was created for (its codec, router and process managers).
    member _.Runtime = ctx.Runtime

    /// The options this store was created with.
    member _.Options = ctx.Options

    /// Checks that the table of `def` can hold the aggregate: it exists, `id` is its primary key of the
    /// definition's key type, it has `last_event_id bigint NULL`, and every column ToRow writes exists.
    /// InvalidDefinition lists every problem found.
    member _.CheckAggregate(def: AggregateDef<'S>, ?ct: CancellationToken) : Task<Result<unit, FableError>> =
        AggregateCheck.check ds def (defaultArg ct CancellationToken.None)

    /// A warning for each table among `tables` (aggregate tables) and the tables the runtime declares that resolves
    /// into Fable's own schema (`Options.Schema`): with PostgreSQL's default `search_path = "$user", public`, an
    /// unqualified CREATE TABLE by a role named like that schema lands there. Empty when none does.
    member _.SchemaWarnings(tables: string seq, ?ct: CancellationToken) : Task<Result<string list, FableError>> =
        let declared = ctx.Runtime.Tables.Decls |> Seq.map (fun d -> d.Name)
        TableCheck.ownSchemaWarnings ds ctx.Options.Schema (Seq.append tables declared) (defaultArg ct CancellationToken.None)

    /// Signalled after every commit of a transaction this store owns (`Transact`, `Store.emit`, ...) that recorded
    /// events: on the committing thread, once the commit has succeeded, never for a rolled-back transaction.
    /// For in-process followers: keep `OnNext` short and non-blocking (set a signal; exceptions are ignored).
    /// Not signalled for emits in the caller's transaction (`InTransaction`): Fable does not see that commit;
    /// those emits NOTIFY inside the caller's transaction instead (when `Options.Notify`).
    member _.Committed: IObservable<unit> = notifier.Commits

    /// The notifier (its sender's backend process id tells a listener which NOTIFYs this store sent).
    member internal _.Notifier = notifier

    /// The server process ids of the connections the store keeps now (for tests and diagnostics).
    member internal _.KeptBackends = kept.ProcessIds

    /// Runs `read` (queries outside any transaction: they leave nothing in the session) on a connection the store
    /// kept, or one from the data source, and keeps that connection again when `read` ended without an exception and
    /// `ct` did not fire (no pool reset between a follower's reads, or between them and emits). An exception (taking
    /// the connection included) becomes the typed error `PgErrors.ofExn` gives it.
    member internal _.Read(read: NpgsqlConnection -> Task<Result<'T, FableError>>, ct: CancellationToken) : Task<Result<'T, FableError>> =
        task {
            try
                let! conn = kept.Take ct
                let mutable clean = false
                try
                    let! r = read conn
                    clean <- not ct.IsCancellationRequested
                    return r
                finally
                    kept.Give(conn, clean)
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }

    /// Runs `work` on the caller's open connection and transaction. The caller commits or rolls back: emits
    /// inside `work` run in savepoints, so a failed emit leaves nothing behind and the transaction usable.
    /// An exception from `work` becomes a typed error; the transaction is left for the caller to roll back.
    /// Emits inside it NOTIFY in the transaction when `Options.Notify` (no `Committed` signal).
    member _.InTransaction(conn: NpgsqlConnection, tx: NpgsqlTransaction, work: IUnitOfWork -> Task<Result<'T, FableError>>, ?ct: CancellationToken) : Task<Result<'T, FableError>> =
        let ct = defaultArg ct CancellationToken.None
        if isNull conn || isNull tx then
            Task.FromResult(Error(InvalidDefinition [ "InTransaction needs an open connection and its transaction" ]))
        elif not (obj.ReferenceEquals(tx.Connection, conn)) then
            Task.FromResult(Error(InvalidDefinition [ "InTransaction: the transaction does not belong to the connection (or has completed)" ]))
        else
            let session = Session(conn, tx)
            runWork session work (PgUnitOfWork(ctx, session)) ct

    /// Returns once every event committed before the call is visible to `ReadAll` and `Head`, i.e. once every
    /// transaction whose xid is below the snapshot's xmax at the call (one past the newest completed xid) has ended;
    /// a transaction that took a newer xid is not waited for (nothing it commits was committed before the call). It
    /// polls the snapshot horizon every few milliseconds and waits as long as such a transaction stays open (bound it
    /// with `ct`). For "run until caught up".
    /// Call it outside any transaction that holds an xid: it would wait for that transaction too.
    member this.WaitUntilReadable(?ct: CancellationToken) : Task<Result<unit, FableError>> =
        let ct = defaultArg ct CancellationToken.None
        this.Read((fun conn -> task {
            use target = new NpgsqlCommand("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint", conn)
            let! xmax = target.ExecuteScalarAsync ct
            use check = new NpgsqlCommand("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint >= $1", conn)
            check.Parameters.Add(NpgsqlParameter(Value = xmax)) |> ignore
            let mutable ready = false
            while not ready do
                let! r = check.ExecuteScalarAsync ct
                ready <- unbox<bool> r
                if not ready then
                    do! Task.Delay(5, ct)
            return Ok() }), ct)

    /// Runs `work` in a transaction this store owns. `oneEmit`: the work is exactly one emit, which sends
    /// COMMIT with its last batch (then the commit below is skipped).
    member private _.Run(work: IUnitOfWork -> Task<Result<'T, FableError>>, oneEmit: bool, ct: CancellationToken) : Task<Result<'T, FableError>> =
        task {
            if ct.IsCancellationRequested then
                return Error Cancelled
            else
                let mutable opened = Unchecked.defaultof<Result<NpgsqlConnection * NpgsqlTransaction, FableError>>
                let mutable taken: NpgsqlConnection = null
                try
                    let! conn = kept.Take ct
                    taken <- conn
                    let! tx = conn.BeginTransactionAsync ct
                    opened <- Ok(conn, tx)
                with e ->
                    if not (isNull taken) then kept.Give(taken, false)
                    opened <- Error(PgErrors.ofExn None ct e)
                match opened with
                | Error e -> return Error e
                | Ok(conn, tx) ->
                    // Whether the transaction ended without an error on a connection only Fable used: then the store
                    // keeps the connection for its next transaction; otherwise it goes back to the pool (reset there).
                    let mutable clean = false
                    try
                        // The session may replace the transaction (a failed first emit rolls it back).
                        let session = Session(conn, tx, true, CommitWithLastBatch = oneEmit)
                        use _tx =
                            { new IDisposable with
                                member _.Dispose() =
                                    session.Close()
                                    session.Transaction.Dispose() }
                        // `runWork` in this task (one async state machine less per emit).
                        let mutable worked = Unchecked.defaultof<Result<'T, FableError>>
                        try
                            let! w = work (PgUnitOfWork(ctx, session))
                            worked <- w
                        with e ->
                            worked <- Error(workFailure session ct e)
                        let outcome = settled session worked
                        // Cancelled while the work ran (even if it ignored that): roll back, as documented.
                        let outcome = if ct.IsCancellationRequested && not session.Committed then Error Cancelled else outcome
                        // Nothing but Fable's statements ran, none was cancelled midway, and the session is not broken.
                        let ownOnly = not session.Exposed && session.Broken.IsNone && not ct.IsCancellationRequested
                        match outcome with
                        | Ok v ->
                            match! (if session.Committed then committedAlready else commit session) with
                            | Ok() ->
                                clean <- ownOnly
                                if session.Recorded > 0 then
                                    notifier.Committed()
                                return Ok v
                            | Error e ->
                                let! _ = rollBack session
                                return Error e
                        | Error e ->
                            let! undone = rollBack session
                            clean <- ownOnly && undone
                            return Error e
                    finally
                        kept.Give(conn, clean)
        }

    interface IInterpreter with
        member this.Transact(work, ct) = this.Run(work, false, ct)

        member this.Emit(def, key, expected, decide, ct) =
            let run () = this.Run((fun uow -> (uow :?> PgUnitOfWork).EmitUntraced(def, key, expected, decide, ct)), true, ct)
            if Telemetry.emitObserved () then Telemetry.traceEmit TelemetryNames.Postgresql def.Table def.KeyKind run else run ()

        member this.ReadAll(after, max, ct) =
            task {
                match Following.checkPage max with
                | Error e -> return Error e
                | Ok() ->
                    let! events = this.Read((fun conn -> Events.readAllOn ctx conn after max ct), ct)
                    return Result.map List.ofArray events
            }

        member this.Head ct =
            this.Read((fun conn -> task {
                use cmd = new NpgsqlCommand(Events.head ctx, conn)
                use! reader = cmd.ExecuteReaderAsync ct
                let! has = reader.ReadAsync ct
                return Ok(if has then { Tx = reader.GetInt64 0; Id = reader.GetInt64 1 } else LogPosition.Origin) }), ct)

        member _.Codec = ctx.Runtime.Codec

    /// Ends the store's background work: returns the connections it kept to the pool, and the notifier's loop sends
    /// a NOTIFY still owed to the last commit, then closes its connection. The data source stays the caller's. Emits
    /// after this still commit and signal `Committed`, but no longer NOTIFY other processes (which still find their
    /// events by polling), and their connections go back to the pool.
    interface IAsyncDisposable with
        member _.DisposeAsync() =
            kept.Dispose()
            ValueTask(notifier.DisposeAsync())

    /// As DisposeAsync, blocking until the notifier's loop has ended.
    interface IDisposable with
        member _.Dispose() =
            kept.Dispose()
            notifier.DisposeAsync().GetAwaiter().GetResult()
