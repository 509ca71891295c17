// Wakes followers after a Fable-owned transaction that recorded events commits: in-process subscribers at
// once, other processes by at most one NOTIFY per short window, sent on its own connection outside any emit's
// transaction (so emits never take NOTIFY's commit lock), coalescing the commits in between.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes

/// The wake-ups of one store. `notify`: whether to send the cross-process NOTIFY on `channel`.
type internal Notifier(ds: NpgsqlDataSource, channel: string, notify: bool, window: TimeSpan) =
    let gate = obj ()
    let mutable observers: IObserver<unit>[] = [||]
    // 1 while a commit is not yet covered by a NOTIFY sent after it; 1 while the sending loop runs.
    let mutable pending = 0
    let mutable running = 0

    // One round trip. The NOTIFY's commit does not wait for its WAL flush (a notification is delivered at
    // commit and means nothing after a crash), so it holds NOTIFY's commit lock only briefly.
    let send () =
        task {
            use! conn = ds.OpenConnectionAsync()
            use batch = new NpgsqlBatch(conn)
            batch.BatchCommands.Add(NpgsqlBatchCommand("BEGIN"))
            batch.BatchCommands.Add(NpgsqlBatchCommand("SET LOCAL synchronous_commit = off"))
            let notify = NpgsqlBatchCommand("SELECT pg_notify($1, '')")
            notify.Parameters.Add(NpgsqlParameter(Value = channel, NpgsqlDbType = NpgsqlDbType.Text)) |> ignore
            batch.BatchCommands.Add notify
            batch.BatchCommands.Add(NpgsqlBatchCommand("COMMIT"))
            let! _ = batch.ExecuteNonQueryAsync()
            ()
        }

    // Sends one NOTIFY now for the commits so far, then one per window while commits keep coming. A commit
    // that lands while a NOTIFY is on its way sets `pending` again, so the last commit is always followed by
    // a NOTIFY that started after it. A failed send is retried in the next windows, up to 3 times in a row
    // (followers poll as well, so a database that cannot be reached costs only latency).
    let loop () =
        task {
            let mutable go = true
            let mutable failures = 0
            while go do
                Volatile.Write(&pending, 0)
                try
                    do! send ()
                    failures <- 0
                with _ ->
                    failures <- failures + 1
                    if failures < 3 then
                        Volatile.Write(&pending, 1)
                do! Task.Delay window
                if Volatile.Read &pending = 0 then
                    Volatile.Write(&running, 0)
                    // A commit between the check and the write saw the loop running and left its wake-up to it.
                    go <- Volatile.Read &pending = 1 && Interlocked.CompareExchange(&running, 1, 0) = 0
        }

    /// The window between two NOTIFYs of one store: 5 ms.
    static member DefaultWindow = TimeSpan.FromMilliseconds 5.0

    /// Called after a commit that recorded events: signals the subscribers (on the calling thread, after the
    /// commit) and schedules the cross-process NOTIFY.
    member _.Committed() =
        for o in Volatile.Read &observers do
            try
                o.OnNext()
            with _ ->
                ()
        if notify then
            Volatile.Write(&pending, 1)
            if Interlocked.CompareExchange(&running, 1, 0) = 0 then
                Task.Run(fun () -> loop () :> Task) |> ignore

    /// Subscribers, signalled after every such commit.
    member _.Commits =
        { new IObservable<unit> with
            member _.Subscribe(o: IObserver<unit>) =
                if isNull o then nullArg "observer"
                lock gate (fun () -> observers <- Array.append observers [| o |])
                { new IDisposable with
                    member _.Dispose() =
                        lock gate (fun () ->
                            match Array.tryFindIndex (fun x -> obj.ReferenceEquals(x, o)) observers with
                            | Some i -> observers <- Array.removeAt i observers
                            | None -> ()) } }
