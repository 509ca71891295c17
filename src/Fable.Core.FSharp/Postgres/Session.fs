// One open connection and transaction as the interpreter drives it: batches (one round trip each) inside
// savepoints, rollback to a savepoint after a failed step, and the "broken" state once the connection is lost.
namespace Fable.Postgres

open System
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable

/// A savepoint of a session: established once its SAVEPOINT command ran, released once RELEASE ran.
type internal Savepoint(name: string) =
    member _.Name = name
    member val Established = false with get, set
    member val Released = false with get, set

    /// A pseudo-savepoint for batches that run inside an enclosing savepoint: adds no command.
    static member Ambient() = Savepoint("", Established = true)

/// A connection and transaction in use by one unit of work. Not thread-safe, like the connection.
type internal Session(conn: NpgsqlConnection, tx: NpgsqlTransaction) =
    let mutable counter = 0

    /// The error that made the session unusable (connection lost, rollback impossible).
    member val Broken: FableError option = None with get, set
    /// How many emits/replays are running (nested through handlers): table operations inside one are
    /// covered by its savepoint.
    member val Depth = 0 with get, set
    member _.Connection = conn
    member _.Transaction = tx

    /// A new savepoint with a name unique in this session.
    member _.NewSavepoint() =
        counter <- counter + 1
        Savepoint("fable_" + string counter)

    /// Sends `commands` as one batch (one round trip) inside `sp`: SAVEPOINT is prepended while `sp` is not
    /// established and RELEASE appended when `release`. Returns the rows of each command that returns rows,
    /// in order. Throws the database exception on failure.
    member _.Run(sp: Savepoint, commands: NpgsqlBatchCommand list, release: bool, ct: CancellationToken) : Task<Row list list> =
        task {
            let opening = not sp.Established
            use batch = new NpgsqlBatch(conn, tx)
            if opening then
                batch.BatchCommands.Add(NpgsqlBatchCommand("SAVEPOINT " + sp.Name))
            for c in commands do
                batch.BatchCommands.Add c
            if release then
                batch.BatchCommands.Add(NpgsqlBatchCommand("RELEASE SAVEPOINT " + sp.Name))
            ct.ThrowIfCancellationRequested()
            try
                use! reader = batch.ExecuteReaderAsync ct
                sp.Established <- true
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
                if release then
                    sp.Released <- true
                return List.ofSeq results
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
                return []
        }

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

    /// Runs `body` in a new savepoint that `body` passes to `Run` (releasing it in its last batch). On error
    /// the savepoint is rolled back so the transaction stays usable; exceptions become typed errors.
    member this.InSavepoint(agg: AggregateId option, ct: CancellationToken, body: Savepoint -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        task {
            match this.Broken with
            | Some e -> return Error e
            | None ->
                let sp = this.NewSavepoint()
                this.Depth <- this.Depth + 1
                let! result =
                    task {
                        try
                            let! r = body sp
                            match r with
                            | Ok _ when sp.Established && not sp.Released ->
                                let! _ = this.Run(sp, [], true, ct)
                                return r
                            | r -> return r
                        with e ->
                            return Error(PgErrors.ofExn agg ct e)
                    }
                this.Depth <- this.Depth - 1
                match result with
                | Ok v -> return Ok v
                | Error e ->
                    let e = PgErrors.refine agg ct e
                    match! this.Rollback sp with
                    | Ok() -> return Error e
                    | Error broken ->
                        match e with
                        | Cancelled
                        | Infrastructure _ -> return Error e
                        | _ -> return Error broken
        }

    /// Runs one batch: at the top level in its own savepoint (a failure leaves the transaction usable),
    /// inside an emit or replay as is (its savepoint covers it).
    member this.Query(agg: AggregateId option, commands: NpgsqlBatchCommand list, ct: CancellationToken) : Task<Result<Row list list, FableError>> =
        if this.Depth = 0 then
            this.InSavepoint(agg, ct, fun sp -> task {
                let! rows = this.Run(sp, commands, true, ct)
                return Ok rows })
        else
            task {
                match this.Broken with
                | Some e -> return Error e
                | None ->
                    try
                        let! rows = this.Run(Savepoint.Ambient(), commands, false, ct)
                        return Ok rows
                    with e ->
                        return Error(PgErrors.ofExn agg ct e)
            }
