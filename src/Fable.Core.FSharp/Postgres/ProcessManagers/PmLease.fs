// The single-runner lease: a dedicated connection holding the session advisory lock of one process manager.
// The lock lives exactly as long as the session, so when the holder's process or connection dies the server
// frees it and another runner takes over. Handling transactions run on this same connection.
namespace Fable.FSharp.Postgres

open System
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Npgsql

/// A held lock on one process manager, on its own connection (not shared with anything else while held).
type internal PmLease private (conn: NpgsqlConnection, schema: string, name: string) =
    let mutable released = false

    /// Opens a connection and tries the lock of `name`; None (and the connection closed) when another session
    /// holds it. On success the row records `holder` and this session's pid.
    static member TryAcquire(ds: NpgsqlDataSource, schema: string, name: string, holder: string, ct: CancellationToken) : Task<PmLease option> =
        task {
            let! conn = ds.OpenConnectionAsync ct
            let! outcome =
                task {
                    try
                        let! ok = PmTable.tryLock conn schema name ct
                        if ok then
                            let! _ = PmTable.setHolder conn schema name holder ct
                            return Ok true
                        else
                            return Ok false
                    with e ->
                        return Error e
                }
            match outcome with
            | Ok true -> return Some(new PmLease(conn, schema, name))
            | Ok false ->
                do! conn.DisposeAsync()
                return None
            | Error e ->
                // The lock may have been taken: release it before the connection goes back to the pool (the pool
                // resets a session only when it is reused); a broken connection is discarded anyway.
                try do! PmTable.unlock conn schema name CancellationToken.None with _ -> ()
                do! conn.DisposeAsync()
                ExceptionDispatchInfo.Capture(e).Throw()
                return None
        }

    /// The connection that holds the lock; handling transactions run on it.
    member _.Connection = conn

    /// The process manager this lease is for.
    member _.Name = name

    /// Clears the holder, releases the lock and closes the connection. Never throws: when the connection is
    /// broken the server has ended the session, and the lock with it.
    member _.Release() : Task =
        task {
            if not released then
                released <- true
                try
                    let! _ = PmTable.clearHolder conn schema name CancellationToken.None
                    do! PmTable.unlock conn schema name CancellationToken.None
                with _ ->
                    ()
                try do! conn.DisposeAsync() with _ -> ()
        }
