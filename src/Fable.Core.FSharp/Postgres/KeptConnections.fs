// The connections a store keeps open between the transactions it owns, so that the next one skips the reset Npgsql
// prepends to a pooled connection taken again (a simple query of seven statements, answered on its own: about a
// fifth of a single-event emit's server time at 8 writers). Only a connection no code but Fable's touched is kept.
namespace Fable.FSharp.Postgres

open System
open System.Collections.Generic
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Npgsql

/// Open connections kept for the store's next transactions, each for at most `linger` without use, at most `cap` at
/// once (`cap` 0: none kept; every connection goes back to the pool as usual), and each back to the pool once it has
/// stayed out of it for `cycle` (so the pool still closes connections past their lifetime). A transaction Fable owns
/// whose connection and transaction were never handed to other code leaves no session state behind: its locks are
/// transaction-scoped and it sets nothing, so the next transaction may use the connection as it is. Thread-safe.
type internal KeptConnections(ds: NpgsqlDataSource, cap: int, linger: TimeSpan, cycle: TimeSpan) =
    let gate = obj ()
    // Most recently kept last (taken first: the warmest); each with the time it was kept.
    let idle = List<struct (NpgsqlConnection * int64)>()
    // When each connection now out of the pool was first kept (in use or idle), by reference.
    let since = Dictionary<NpgsqlConnection, int64>(HashIdentity.Reference)
    let mutable disposed = false
    // Due whenever a connection is kept (set when the first one is, re-set by each sweep that leaves some).
    let mutable timer: Timer = null

    /// How long the connection at `index` has been kept, at `now`.
    let keptFor (index: int) (now: int64) =
        let struct (_, at) = idle[index]
        Stopwatch.GetElapsedTime(at, now)

    /// Closes (returns to the pool) every connection kept longer than `linger`; re-arms for the next one due.
    let sweep () =
        let expired = List<NpgsqlConnection>()
        lock gate (fun () ->
            let now = Stopwatch.GetTimestamp()
            let mutable stale = 0
            while stale < idle.Count && keptFor stale now >= linger do
                let struct (c, _) = idle[stale]
                expired.Add c
                since.Remove c |> ignore
                stale <- stale + 1
            idle.RemoveRange(0, stale)
            if idle.Count > 0 && not disposed then
                timer.Change(max (linger - keptFor 0 now) (TimeSpan.FromMilliseconds 1.0), Timeout.InfiniteTimeSpan) |> ignore)
        for c in expired do
            try
                c.Dispose()
            with _ ->
                ()

    do timer <- new Timer((fun _ -> sweep ()), null, Timeout.Infinite, Timeout.Infinite)

    /// The limits the store uses for `ds`: up to half its pool (code sharing the data source keeps the other half),
    /// each idle for at most 1 s and back to the pool after 60 s out of it (a tenth of the pool's connection lifetime
    /// when that is shorter); none for a multiplexing data source (no connection stays bound between commands there).
    static member For(ds: NpgsqlDataSource) =
        let settings = NpgsqlConnectionStringBuilder(ds.ConnectionString)
        let cap = if settings.Multiplexing then 0 else settings.MaxPoolSize / 2
        let cycle =
            if settings.ConnectionLifetime > 0 then min 60.0 (float settings.ConnectionLifetime / 10.0) else 60.0
        new KeptConnections(ds, cap, TimeSpan.FromSeconds 1.0, TimeSpan.FromSeconds cycle)

    /// How many connections are kept now.
    member _.Count = lock gate (fun () -> idle.Count)

    /// The server process ids of the connections kept now, least recently kept first.
    member _.ProcessIds = lock gate (fun () -> [ for struct (c, _) in idle -> c.ProcessID ])

    /// An open connection: the most recently kept one, or one from the data source.
    member _.Take(ct: CancellationToken) : ValueTask<NpgsqlConnection> =
        let kept =
            lock gate (fun () ->
                if idle.Count = 0 then null
                else
                    let struct (c, _) = idle[idle.Count - 1]
                    idle.RemoveAt(idle.Count - 1)
                    c)
        if isNull kept then ds.OpenConnectionAsync ct else ValueTask<NpgsqlConnection>(kept)

    /// Hands `conn` back after a transaction. `clean`: the transaction ended (committed or rolled back) without an
    /// error and nobody but Fable used the connection; then it is kept (when there is room and the store is not
    /// disposed), otherwise it goes back to the pool, which resets it.
    member _.Give(conn: NpgsqlConnection, clean: bool) =
        let usable = clean && conn.FullState = Data.ConnectionState.Open
        let keep =
            lock gate (fun () ->
                let now = Stopwatch.GetTimestamp()
                let first =
                    match since.TryGetValue conn with
                    | true, t -> t
                    | _ -> now
                if not usable || disposed || idle.Count >= cap || Stopwatch.GetElapsedTime(first, now) >= cycle then
                    since.Remove conn |> ignore
                    false
                else
                    since[conn] <- first
                    idle.Add(struct (conn, now))
                    // The first one kept: nothing is due yet (a sweep re-arms while any remain).
                    if idle.Count = 1 then
                        timer.Change(linger, Timeout.InfiniteTimeSpan) |> ignore
                    true)
        if not keep then conn.Dispose()

    /// Returns every kept connection to the pool; connections given back later go there too.
    member _.Dispose() =
        let all =
            lock gate (fun () ->
                disposed <- true
                timer.Dispose()
                let all = [ for struct (c, _) in idle -> c ]
                idle.Clear()
                since.Clear()
                all)
        for c in all do
            try
                c.Dispose()
            with _ ->
                ()

    interface IDisposable with
        member this.Dispose() = this.Dispose()
