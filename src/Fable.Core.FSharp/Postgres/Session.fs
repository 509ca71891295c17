// One open connection and transaction as the interpreter drives it: batches (one round trip each) inside
// savepoints (or, for the first emit of a Fable-owned transaction, the transaction itself), rollback after a
// failed step, and the "broken" state once the connection is lost.
namespace Fable.FSharp.Postgres

open System
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// A savepoint of a session: established once its SAVEPOINT command ran, released once RELEASE ran.
/// `WholeTransaction`: no SAVEPOINT at all, the scope is the session's transaction (undone by rolling it back).
type internal Savepoint(name: string, wholeTransaction: bool) =
    new(name) = Savepoint(name, false)
    member _.Name = name
    member _.WholeTransaction = wholeTransaction
    member val Established = false with get, set
    member val Released = false with get, set

    /// A pseudo-savepoint for batches that run inside an enclosing savepoint: adds no command.
    static member Ambient() = Savepoint("", Established = true)

    /// The scope of an operation that runs first in a Fable-owned transaction: adds no command.
    static member Transaction() = Savepoint("", true, Established = true)

/// A connection and transaction in use by one unit of work. Not thread-safe, like the connection.
/// `owned`: Fable began the transaction and commits it (Transact), so a failure of the first operation may
/// roll the whole transaction back and begin a fresh one; the caller's transaction (InTransaction) is never
/// replaced.
type internal Session(conn: NpgsqlConnection, initial: NpgsqlTransaction, owned: bool) =
    let mutable counter = 0
    let mutable tx = initial
    // Whether anything was sent in the current transaction, and whether the caller was handed the connection
    // or transaction (then it may have sent anything: savepoints stay).
    let mutable touched = false
    let mutable exposed = false
    // The batch of a Fable-owned session, kept between its round trips (one batch object per transaction, not per
    // round trip); null while in use. `Close` disposes it.
    let mutable spare: NpgsqlBatch = null

    /// A batch for the current transaction (the kept one, emptied, when there is one).
    let takeBatch () =
        match spare with
        | null -> new NpgsqlBatch(conn, tx)
        | b ->
            spare <- null
            b.Transaction <- tx
            b.BatchCommands.Clear()
            b

    /// Gives a batch back: kept for the next round trip of an owned session, disposed otherwise.
    let giveBack (b: NpgsqlBatch) =
        if owned && isNull spare then spare <- b else b.Dispose()

    new(conn, tx) = Session(conn, tx, false)

    /// Disposes the kept batch (the owner calls it when the transaction ends).
    member _.Close() =
        if not (isNull spare) then
            spare.Dispose()
            spare <- null

    /// The error that made the session unusable (connection lost, rollback impossible).
    member val Broken: FableError option = None with get, set
    /// How many emits/replays are running (nested through handlers): table operations inside one are
    /// covered by its savepoint.
    member val Depth = 0 with get, set
    /// The aggregates whose emit or replay is running on this session (re-entry and own-row writes are refused).
    member val Running = RunningEmits()
    /// Events recorded by operations that succeeded in the current transaction (undone with them): the
    /// owner wakes followers after the commit when it is not zero.
    member val Recorded = 0 with get, set
    member _.Connection = conn
    /// The current transaction (a fresh one after a failed first emit rolled the previous one back).
    member _.Transaction = tx
    /// Whether Fable owns (commits) the transaction.
    member _.Owned = owned

    /// Set when the transaction is one emit (`IInterpreter.Emit`): that emit sends COMMIT with its last batch.
    member val CommitWithLastBatch = false with get, set
    /// Whether a batch carrying COMMIT was sent: the transaction is over either way (committed or not).
    member val CommitSent = false with get, set
    /// Whether a batch carrying COMMIT succeeded: the owner must not commit again.
    member val Committed = false with get, set

    /// Marks the connection and transaction as handed to the caller's code: every later emit keeps its savepoint.
    member _.Expose() = exposed <- true

    /// Whether the caller's code was handed the connection or transaction. Until then every statement of the
    /// transaction is Fable's, and each failed one was undone (or the session is broken), so the transaction
    /// cannot have been aborted behind Fable's back.
    member _.Exposed = exposed

    /// Whether an operation may run without a savepoint: nothing ran yet in a transaction Fable owns and
    /// nobody else could have used it, so rolling the whole transaction back undoes exactly that operation.
    member this.CanSkipSavepoint = owned && not touched && not exposed && this.Depth = 0 && this.Broken.IsNone

    /// A new savepoint with a name unique in this session.
    member _.NewSavepoint() =
        counter <- counter + 1
        Savepoint("fable_" + string counter)

    /// Sends `commands` as one batch (one round trip) inside `sp`: SAVEPOINT is prepended while `sp` is not
    /// established and RELEASE appended when `release` (neither for a whole-transaction scope). `read` reads
    /// the results: the reader starts on the first command that returns rows (FieldCount is 0 when none does)
    /// and NextResult moves to the next such command. Throws the database exception on failure.
    member _.Run(sp: Savepoint, commands: NpgsqlBatchCommand list, release: bool, ct: CancellationToken, read: NpgsqlDataReader -> Task<'T>) : Task<'T> =
        task {
            let opening = not sp.Established
            let batch = takeBatch ()
            try
                if opening then
                    batch.BatchCommands.Add(NpgsqlBatchCommand("SAVEPOINT " + sp.Name))
                for c in commands do
                    batch.BatchCommands.Add c
                if release && not sp.WholeTransaction then
                    batch.BatchCommands.Add(NpgsqlBatchCommand("RELEASE SAVEPOINT " + sp.Name))
                ct.ThrowIfCancellationRequested()
                touched <- true
                try
                    use! reader = batch.ExecuteReaderAsync ct
                    sp.Established <- true
                    let! result = read reader
                    // Consume the rest so that a failing later command (the guard, RELEASE) throws here.
                    let mutable more = true
                    while more do
                        let! next = reader.NextResultAsync ct
                        more <- next
                    if release then
                        sp.Released <- true
                    return result
                with e ->
                    // The batch was sent and SAVEPOINT ran unless the failure came before the server saw it or the
                    // transaction was aborted already (then SAVEPOINT itself failed).
                    if opening then
                        match e with
                        | :? PostgresException as p when p.SqlState = "25P02" -> ()
                        | :? PostgresException
                        | :? OperationCanceledException -> sp.Established <- true
                        | _ -> ()
                    ExceptionDispatchInfo.Capture(e).Throw()
                    return Unchecked.defaultof<'T>
            finally
                giveBack batch
        }

    /// `Run` returning the rows of each command that returns rows, in order.
    member this.Run(sp: Savepoint, commands: NpgsqlBatchCommand list, release: bool, ct: CancellationToken) : Task<Row list list> =
        this.Run(sp, commands, release, ct, fun reader -> task {
            let results = Collections.Generic.List<Row list>()
            let mutable more = reader.FieldCount > 0
            while more do
                let rows = Collections.Generic.List<Row>()
                let mutable go = true
                while go do
                    let! has = reader.ReadAsync ct
                    if has then rows.Add(Sql.readRow reader) else go <- false
                results.Add(List.ofSeq rows)
                let! next = reader.NextResultAsync ct
                more <- next
            return List.ofSeq results })

    /// Rolls back to `sp` and releases it (when it was established and not released). If that fails the
    /// session is broken: the error is kept and returned.
    member this.Rollback(sp: Savepoint) : Task<Result<unit, FableError>> =
        task {
            if not sp.Established || sp.Released then
                return Ok()
            else
                try
                    use batch = new NpgsqlBatch(conn, tx)
                    batch.BatchCommands.Add(NpgsqlBatchCommand("ROLLBACK TO SAVEPOINT " + sp.Name))
                    batch.BatchCommands.Add(NpgsqlBatchCommand("RELEASE SAVEPOINT " + sp.Name))
                    let! _ = batch.ExecuteNonQueryAsync CancellationToken.None
                    sp.Released <- true
                    return Ok()
                with e ->
                    let err = Infrastructure("the unit of work could not undo a failed step and is no longer usable: " + e.Message, Some e)
                    this.Broken <- Some err
                    return Error err
        }

    /// Rolls the whole transaction back and begins a fresh one (lazily: BEGIN rides with its first command).
    /// If that fails the session is broken: the error is kept and returned.
    member this.Restart() : Task<Result<unit, FableError>> =
        task {
            try
                do! tx.RollbackAsync CancellationToken.None
                do! tx.DisposeAsync()
                let! fresh = conn.BeginTransactionAsync CancellationToken.None
                tx <- fresh
                touched <- false
                this.Recorded <- 0
                return Ok()
            with e ->
                let err = Infrastructure("the unit of work could not undo a failed step and is no longer usable: " + e.Message, Some e)
                this.Broken <- Some err
                return Error err
        }

    /// Runs `body` in a new savepoint that `body` passes to `Run` (releasing it in its last batch). On error
    /// the savepoint is rolled back so the transaction stays usable; exceptions become typed errors.
    member this.InSavepoint(agg: AggregateId option, ct: CancellationToken, body: Savepoint -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        this.InScope(agg, false, ct, body)

    /// `InSavepoint`, except that when `mayUseTransaction` and nothing ran yet in a transaction Fable owns
    /// (`CanSkipSavepoint`), `body` runs in the transaction itself: no SAVEPOINT or RELEASE, and on error the
    /// transaction is rolled back and a fresh one begun, which leaves the same trace as a savepoint: none.
    member this.InScope(agg: AggregateId option, mayUseTransaction: bool, ct: CancellationToken, body: Savepoint -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        task {
            match this.Broken with
            | Some e -> return Error e
            | None ->
                let sp = if mayUseTransaction && this.CanSkipSavepoint then Savepoint.Transaction() else this.NewSavepoint()
                let recorded = this.Recorded
                this.Depth <- this.Depth + 1
                // In this task, not a nested one: one async state machine less per emit.
                let mutable result = Unchecked.defaultof<Result<'T, FableError>>
                try
                    let! r = body sp
                    match r with
                    | Ok _ when sp.Established && not sp.Released && not sp.WholeTransaction ->
                        let! _ = this.Run(sp, [], true, ct)
                        result <- r
                    | r -> result <- r
                with e ->
                    result <- Error(PgErrors.ofExn agg ct e)
                this.Depth <- this.Depth - 1
                match result with
                | Ok v -> return Ok v
                | Error e ->
                    let e = PgErrors.refine agg ct e
                    this.Recorded <- recorded
                    // After a failed batch carrying COMMIT the owner only rolls back: no fresh transaction.
                    let undo =
                        if not sp.WholeTransaction then this.Rollback sp
                        elif touched && not this.CommitSent then this.Restart()
                        else Task.FromResult(Ok())
                    match! undo with
                    | Ok() -> return Error e
                    | Error broken ->
                        match e with
                        | Cancelled
                        | Infrastructure _ -> return Error e
                        | _ -> return Error broken
        }

    /// Runs one batch in its own savepoint, sent with it ([SAVEPOINT; commands; RELEASE]: no extra round trip on
    /// success); a failure rolls back to it, so the transaction (and an emit around the call) stays usable.
    member this.Query(agg: AggregateId option, commands: NpgsqlBatchCommand list, ct: CancellationToken) : Task<Result<Row list list, FableError>> =
        this.InSavepoint(agg, ct, fun sp -> task {
            let! rows = this.Run(sp, commands, true, ct)
            return Ok rows })
