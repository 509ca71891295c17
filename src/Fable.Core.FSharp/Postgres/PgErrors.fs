// Maps Npgsql/PostgreSQL failures to FableError values by SQLSTATE and exception type (never by message):
// serialization failure, deadlock, a lock wait past lock_timeout, a concurrent first emit and a prepared statement
// whose table changed are retryable conflicts,
// any other unique violation is not, connection loss is infrastructure.
namespace Fable.FSharp.Postgres

open System
open System.IO
open System.Net.Sockets
open System.Threading
open Npgsql
open Fable.FSharp

/// Exception → FableError mapping for the Postgres interpreter.
module internal PgErrors =
    /// The SQLSTATE raised by the row guard when the aggregate row's last_event_id is not the expected one.
    [<Literal>]
    let GuardMismatch = "FB409"

    /// The unique index on each aggregate's first event: violated only by a concurrent first emit that the
    /// transaction's snapshot did not show (a retry sees its row). A fork is refused before anything is sent.
    [<Literal>]
    let FirstEvent = "events_first_event"

    /// The unique index on each aggregate's chain (aggregate_table, aggregate_key, prev_event_id): violated only when
    /// the aggregate row's last_event_id is behind its log (the row was restored or edited), since an emit holds the
    /// row's lock. Retrying cannot help; replaying the aggregate rebuilds the row from its log.
    [<Literal>]
    let Chain = "events_chain"

    let rec private unwrap (e: exn) =
        match e with
        | :? AggregateException as a when a.InnerExceptions.Count = 1 -> unwrap a.InnerExceptions[0]
        | e -> e

    let private isConnectionState (s: string) =
        s.StartsWith("08", StringComparison.Ordinal) || s = "57P01" || s = "57P02" || s = "57P03" || s = "53300"

    /// The FableError for a database exception met while working on `agg` (when known).
    /// `ct` tells a cancellation by the caller from a server-side statement timeout.
    let ofExn (agg: AggregateId option) (ct: CancellationToken) (e: exn) : FableError =
        let where = match agg with Some a -> sprintf "aggregate %O: " a | None -> ""
        match unwrap e with
        | :? OperationCanceledException -> Cancelled
        | :? PostgresException as p ->
            match p.SqlState with
            | "40001" -> Conflict(agg, None, None, true, where + "serialization failure, retry the operation: " + p.MessageText)
            | "40P01" -> Conflict(agg, None, None, true, where + "deadlock detected, retry the operation: " + p.MessageText)
            | "55P03" -> Conflict(agg, None, None, true, where + "a lock was held past lock_timeout, retry the operation: " + p.MessageText)
            | "23505" when p.ConstraintName = FirstEvent ->
                Conflict(agg, None, None, true, where + "a concurrent emit recorded the aggregate's first event first, retry the operation: " + p.MessageText)
            | "23505" when p.ConstraintName = Chain ->
                Conflict(agg, None, None, false,
                         where + "the log already holds an event after the one the aggregate row names as its last (last_event_id is behind the log: was the row restored or edited by hand?); nothing was recorded. Replay the aggregate to rebuild its row from the log, then emit again (unique index " + Chain + ": " + p.MessageText + ")")
            | "23505" ->
                Conflict(agg, None, None, false,
                         sprintf "%sa row with the same key already exists (unique constraint %s on %s): %s" where p.ConstraintName p.TableName p.MessageText)
            | GuardMismatch -> Conflict(agg, None, None, false, where + p.MessageText)
            // A statement prepared on this connection (Npgsql's automatic preparation) whose table's columns changed
            // since: refused once; Npgsql prepares it again on its next use, so a retry succeeds.
            | "0A000" when p.Routine = "RevalidateCachedQuery" ->
                Conflict(agg, None, None, true,
                         where + "a table's columns changed since this connection prepared a statement on it (ALTER TABLE while running?); nothing was written and the statement is prepared again on its next use: retry the operation (" + p.MessageText + ")")
            | "57014" when ct.IsCancellationRequested -> Cancelled
            | "57014" -> Infrastructure(where + "statement cancelled by the server (statement timeout?): " + p.MessageText, Some p)
            | "42P01" | "42703" | "42804" | "42883" | "3F000" ->
                InvalidDefinition [ where + p.MessageText + (if isNull p.Hint then "" else " (" + p.Hint + ")") ]
            | "25P02" -> Infrastructure(where + "the transaction was already aborted by an earlier error: " + p.MessageText, Some p)
            | s when isConnectionState s -> Infrastructure(where + "connection lost: " + p.MessageText, Some p)
            | s -> Infrastructure(sprintf "%sPostgreSQL error %s: %s" where s p.MessageText, Some p)
        | :? NpgsqlException as n -> Infrastructure(where + "database connection failed: " + n.Message, Some n)
        // Npgsql encodes text parameters before it sends a command: one that is not valid UTF-8 was never sent.
        | :? Text.EncoderFallbackException ->
            Unstorable(where + "a text value of a statement", "it holds a lone surrogate (half of a UTF-16 pair), which is not valid UTF-8")
        | :? InvalidCastException
        | :? NotSupportedException as x -> InvalidDefinition [ where + "a value cannot be converted between .NET and its column type: " + x.Message ]
        | :? IOException
        | :? SocketException
        | :? TimeoutException
        | :? ObjectDisposedException
        | :? InvalidOperationException as x -> Infrastructure(where + "database connection failed: " + x.Message, Some x)
        | x -> Infrastructure(where + "unexpected failure: " + x.Message, Some x)

    /// The error of a failed batch that carried COMMIT. A database error means nothing was committed (a failed
    /// command skips the rest; a failed COMMIT rolls back) and maps as usual. A lost connection (an I/O failure,
    /// a timeout, a broken or disposed connector) leaves the outcome unknown, which the error says. Any other
    /// exception was raised while Npgsql wrote the batch (a parameter it cannot encode, a connection not open):
    /// the COMMIT, last in the batch, was never sent, so nothing was committed.
    let ofCommit (agg: AggregateId option) (e: exn) : FableError =
        let mapped = ofExn agg CancellationToken.None e
        match unwrap e, mapped with
        | :? PostgresException, _ -> mapped
        | (:? NpgsqlException | :? IOException | :? SocketException | :? TimeoutException | :? ObjectDisposedException), Infrastructure(m, inner) ->
            Infrastructure("commit failed; its outcome is unknown: " + m, inner)
        | x, Infrastructure(_, inner) ->
            let where = match agg with Some a -> sprintf "aggregate %O: " a | None -> ""
            Infrastructure(where + "the batch carrying COMMIT could not be written, so nothing was sent or committed: " + x.Message, inner)
        | _ -> mapped

    /// True for database failures that must win over a HandlerFailed wrapping them: conflicts to retry,
    /// connection loss and cancellation.
    let private overrides (e: FableError) =
        match e with
        | Conflict(_, _, _, true, _)
        | Infrastructure _
        | Cancelled -> true
        | _ -> false

    /// A handler or decide failure caused by a database exception that says "retry" (deadlock, serialization),
    /// "connection lost" or "cancelled" becomes that error; a unique violation stays a HandlerFailed.
    let refine (agg: AggregateId option) (ct: CancellationToken) (e: FableError) =
        match e with
        | HandlerFailed(_, _, _, Some inner) when (inner :? NpgsqlException || inner :? OperationCanceledException) ->
            let mapped = ofExn agg ct inner
            let unique = match unwrap inner with :? PostgresException as p -> p.SqlState = "23505" | _ -> false
            if overrides mapped && not unique then mapped else e
        | e -> e
