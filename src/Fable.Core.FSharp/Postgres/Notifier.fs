// Wakes followers after a Fable-owned transaction that recorded events commits: in-process subscribers at
// once, other processes by at most one NOTIFY per short window, coalescing the commits in between. The NOTIFYs go
// out on one connection the notifier keeps while commits keep coming (no pool checkout, reset or BEGIN/COMMIT
// per NOTIFY), outside any emit's transaction (so emits never take NOTIFY's commit lock).
namespace Fable.FSharp.Postgres

open System
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes

/// The connection NOTIFYs are sent on, with its prepared command.
type private NotifyLine = { Connection: NpgsqlConnection; Command: NpgsqlCommand }

/// The wake-ups of one store. `notify`: whether to send the cross-process NOTIFY on `channel`; `window`: the
/// shortest time between two NOTIFYs; `linger`: how long the connection stays open without commits.
type internal Notifier(ds: NpgsqlDataSource, channel: string, notify: bool, window: TimeSpan, linger: TimeSpan) =
    let gate = obj ()
    let mutable observers: IObserver<unit>[] = [||]
    // 1 while a commit is not yet covered by a NOTIFY sent after it (its 0 → 1 step releases `signal`).
    let mutable pending = 0
    // 1 once the sending loop was started (it runs for the store's lifetime, idle while nothing commits).
    let mutable started = 0
    let signal = new SemaphoreSlim(0)
    let mutable line: NotifyLine option = None

    // A connection of the notifier's own. Its NOTIFYs commit without waiting for their WAL flush (a notification
    // is delivered at commit and means nothing after a crash), so each holds NOTIFY's commit lock only briefly.
    let openLine () =
        task {
            let! conn = ds.OpenConnectionAsync()
            try
                use set = new NpgsqlCommand("SET synchronous_commit = off", conn)
                let! _ = set.ExecuteNonQueryAsync()
                let cmd = new NpgsqlCommand("SELECT pg_notify($1, '')", conn)
                cmd.Parameters.Add(NpgsqlParameter(Value = channel, NpgsqlDbType = NpgsqlDbType.Text)) |> ignore
                do! cmd.PrepareAsync()
                return { Connection = conn; Command = cmd }
            with e ->
                do! conn.DisposeAsync()
                ExceptionDispatchInfo.Capture(e).Throw()
                return Unchecked.defaultof<NotifyLine>
        }

    let closeLine () =
        task {
            match line with
            | Some l ->
                line <- None
                try
                    l.Command.Dispose()
                    do! l.Connection.DisposeAsync()
                with _ ->
                    ()
            | None -> ()
        }

    // One round trip on the notifier's connection (opened first when it is not open): a single statement in
    // its own implicit transaction.
    let send () =
        task {
            let! l =
                match line with
                | Some l -> Task.FromResult l
                | None -> openLine ()
            line <- Some l
            let! _ = l.Command.ExecuteNonQueryAsync()
            ()
        }

    // Waits for a commit (closing the connection after `linger` without one), sends one NOTIFY for the commits
    // so far, then waits a window. A commit that lands while a NOTIFY is on its way sets `pending` again, so the
    // last commit is always followed by a NOTIFY that started after it. A failed send is retried in the next
    // windows, up to 3 times in a row (followers poll as well, so a database that cannot be reached costs only
    // latency).
    let loop () =
        task {
            let mutable failures = 0
            while true do
                // A commit already pending (the usual case under load) is taken without an asynchronous wait.
                let mutable woken = signal.Wait 0
                if not woken then
                    let! w = signal.WaitAsync(if line.IsSome then linger else Timeout.InfiniteTimeSpan)
                    woken <- w
                if not woken then
                    do! closeLine ()
                else
                    Volatile.Write(&pending, 0)
                    try
                        do! send ()
                        failures <- 0
                    with _ ->
                        do! closeLine ()
                        failures <- failures + 1
                        if failures < 3 && Interlocked.Exchange(&pending, 1) = 0 then
                            signal.Release() |> ignore
                    do! Task.Delay window
        }

    new(ds, channel, notify, window) = Notifier(ds, channel, notify, window, Notifier.DefaultLinger)

    /// The window between two NOTIFYs of one store: 5 ms.
    static member DefaultWindow = TimeSpan.FromMilliseconds 5.0

    /// How long the notifier keeps its connection without commits: 1 s.
    static member DefaultLinger = TimeSpan.FromSeconds 1.0

    /// Called after a commit that recorded events: signals the subscribers (on the calling thread, after the
    /// commit) and schedules the cross-process NOTIFY.
    member _.Committed() =
        for o in Volatile.Read &observers do
            try
                o.OnNext()
            with _ ->
                ()
        if notify && Interlocked.Exchange(&pending, 1) = 0 then
            signal.Release() |> ignore
            if Interlocked.CompareExchange(&started, 1, 0) = 0 then
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
