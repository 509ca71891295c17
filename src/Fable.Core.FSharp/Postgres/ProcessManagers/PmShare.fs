// The fair share of a partitioned process manager's partitions in one process: a membership slot (a session
// advisory lock on its own connection, freed by the server when the process dies) lets every process count the live
// members; a process holds at most ceil(partitions / live members) partitions and sheds the excess when others join.
namespace Fable.FSharp.Postgres

open System
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// The partitions of one partitioned process manager (`group`, `count` partitions) this process may hold.
type internal PmShare(ds: NpgsqlDataSource, schema: string, group: string, count: int, refresh: TimeSpan) =
    /// The first key of the membership locks (the second is the member's slot): positive, from the stable hash.
    let key1 =
        int ((Partitioning.hash { Table = "fable.pm.members:" + schema; Key = AggregateKey.Text group }) &&& 0x7fffffffu)
    let gate = obj ()
    let sync = new SemaphoreSlim(1, 1)
    let mutable membership: NpgsqlConnection option = None
    let mutable live = 1
    let mutable held = 0
    let mutable refreshedAt = 0L

    let quota () = (count + live - 1) / live

    /// Leaves the membership: unlocks before the connection goes back to the pool (the pool resets a session only
    /// when it is reused); a broken connection's session is gone, and its lock with it.
    let close () =
        match membership with
        | Some c ->
            membership <- None
            try
                use cmd = new NpgsqlCommand("SELECT pg_advisory_unlock_all()", c)
                cmd.ExecuteNonQuery() |> ignore
            with _ ->
                ()
            try c.Dispose() with _ -> ()
        | None -> ()

    /// Takes a membership slot when this process has none, then counts the live members (members of this process
    /// manager in this database). A failure keeps the last count and drops the connection (retried next time).
    let doRefresh (ct: CancellationToken) =
        task {
            try
                if membership.IsNone then
                    let! c = ds.OpenConnectionAsync ct
                    let! rs =
                        PmTable.rows c null "SELECT s FROM generate_series(0, 4095) AS s WHERE pg_try_advisory_lock($1, s) LIMIT 1"
                            [ NpgsqlParameter(Value = key1, NpgsqlDbType = NpgsqlDbType.Integer) ] ct
                    if rs.IsEmpty then c.Dispose() else membership <- Some c
                match membership with
                | Some c ->
                    let! rs =
                        PmTable.rows c null
                            "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND classid = $1::bigint::oid AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                            [ NpgsqlParameter(Value = int64 key1, NpgsqlDbType = NpgsqlDbType.Bigint) ] ct
                    let n = Convert.ToInt32((List.head rs)["n"])
                    lock gate (fun () -> live <- max 1 n)
                | None -> ()
            with _ ->
                close ()
            refreshedAt <- Stopwatch.GetTimestamp()
        }

    /// Counts the live members again when the last count is older than the refresh interval.
    member _.Refresh(ct: CancellationToken) : Task =
        task {
            if Stopwatch.GetElapsedTime(refreshedAt) >= refresh || membership.IsNone then
                do! sync.WaitAsync ct
                try
                    if Stopwatch.GetElapsedTime(refreshedAt) >= refresh || membership.IsNone then do! doRefresh ct
                finally
                    sync.Release() |> ignore
        }

    /// Reserves a place for one more partition (before taking its lock); false when this process holds its share.
    member _.TryReserve() = lock gate (fun () -> if held < quota () then held <- held + 1; true else false)

    /// Gives a reserved or held place back (the lock was not taken, or is released).
    member _.Release() = lock gate (fun () -> held <- max 0 (held - 1))

    /// Whether a runner holding a partition should release it: this process holds more than its share. Counts the
    /// release at once, so only the excess is shed.
    member _.TryShed() = lock gate (fun () -> if held > quota () then held <- held - 1; true else false)

    /// Live members last counted, partitions held here, and this process's share.
    member _.Snapshot = lock gate (fun () -> live, held, quota ())

    /// Leaves the membership (the other processes take over the partitions released).
    member _.Close() = lock gate close

    interface IDisposable with
        member this.Dispose() = this.Close()
