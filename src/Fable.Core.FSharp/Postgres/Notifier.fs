// Wakes followers after a Fable-owned transaction that recorded events commits: in-process subscribers at
// once, other processes by at most one NOTIFY per short window, coalescing the commits in between. The NOTIFYs go
// out on one connection the notifier keeps while commits keep coming (no pool checkout, reset or BEGIN/COMMIT
// per NOTIFY), outside any emit's transaction (so emits never take NOTIFY's commit lock). Disposing ends it.
namespace Fable.FSharp.Postgres

open System
open System.Diagnostics
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes

/// The connection NOTIFYs are sent on, with its prepared command.
type private NotifyLine = { Connection: NpgsqlConnection; Command: NpgsqlCommand }

/// Where a notifier's sending loop is in its life.
[<RequireQualifiedAccess>]
type private NotifierPhase =
    /// No commit yet: no loop.
    | Idle
    /// The loop runs (started by the first commit).
    | Running
    /// Disposed: the loop was asked to end, and none starts again.
    | Disposed

/// The wake-ups of one store. `notify`: whether to send the cross-process NOTIFY on `channel`; `window`: the
/// shortest time between two NOTIFYs; `linger`: how long the connection stays open without commits.
type internal Notifier(ds: NpgsqlDataSource, channel: string, notify: bool, window: TimeSpan, linger: TimeSpan) =
    let gate = obj ()
    let mutable observers: IObserver<unit>[] = [||]
    // 1 while a commit is not yet covered by a NOTIFY sent after it (its 0 → 1 step releases `signal`).
    let mutable pending = 0
    // The sending loop's life (under `gate`): not started, running (idle while nothing commits) or disposed.
    let mutable phase = NotifierPhase.Idle
    let mutable loopTask = Task.CompletedTask
    // Cancelled by Dispose: ends the sending loop.
    let stopping = new CancellationTokenSource()
    let signal = new SemaphoreSlim(0)
    let mutable line: NotifyLine option = None
    // The backend process id of the open connection (0 when none): the listener of a host on this store
    // ignores these NOTIFYs, whose commits were already signalled in-process.
    let mutable linePid = 0

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
                Volatile.Write(&linePid, 0)
                try
                    l.Command.Dispose()
                    do! l.Connection.DisposeAsync()
                with _ ->
                    ()
            | None -> ()
        }

    // One round trip on the notifier's connection (opened first when it is not open): a single statement in
    // its own implicit transaction.
    let send (ct: CancellationToken) =
        task {
            let! l =
                match line with
                | Some l -> Task.FromResult l
                | None -> openLine ()
            line <- Some l
            Volatile.Write(&linePid, l.Connection.ProcessID)
            let! _ = l.Command.ExecuteNonQueryAsync ct
            ()
        }

    // Waits for a commit (closing the connection after `linger` without one), sends one NOTIFY for the commits
    // so far, then waits out the window that NOTIFY opened (counted from its start, so a slow send is not
    // followed by a full window more). A commit that lands while a NOTIFY is on its way sets `pending` again, so
    // the last commit is always followed by a NOTIFY that started after it. A failed send is retried in the next
    // windows, up to 3 times in a row (followers poll as well, so a database that cannot be reached costs only
    // latency). Ends when the notifier is disposed: a commit still owed a NOTIFY gets one (within 2 s), and the
    // connection is closed.
    let loop () =
        task {
            let ct = stopping.Token
            let mutable failures = 0
            while not ct.IsCancellationRequested do
                // A commit already pending (the usual case under load) is taken without an asynchronous wait.
                let mutable woken = signal.Wait 0
                if not woken then
                    try
                        let! w = signal.WaitAsync((if line.IsSome then linger else Timeout.InfiniteTimeSpan), ct)
                        woken <- w
                    with :? OperationCanceledException ->
                        ()
                if ct.IsCancellationRequested then
                    ()
                elif not woken then
                    do! closeLine ()
                else
                    Volatile.Write(&pending, 0)
                    let started = Stopwatch.GetTimestamp()
                    try
                        // Not cancelled by Dispose: a NOTIFY on its way is one round trip.
                        do! send CancellationToken.None
                        failures <- 0
                    with _ ->
                        do! closeLine ()
                        failures <- failures + 1
                        if failures < 3 && Interlocked.Exchange(&pending, 1) = 0 then
                            signal.Release() |> ignore
                    let rest = window - Stopwatch.GetElapsedTime started
                    if rest > TimeSpan.Zero && not ct.IsCancellationRequested then
                        try
                            do! Task.Delay(rest, ct)
                        with :? OperationCanceledException ->
                            ()
            if Interlocked.Exchange(&pending, 0) = 1 then
                try
                    use last = new CancellationTokenSource(TimeSpan.FromSeconds 2.0)
                    do! send last.Token
                with _ ->
                    ()
            do! closeLine ()
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
            if phase = NotifierPhase.Idle then
                lock gate (fun () ->
                    if phase = NotifierPhase.Idle then
                        phase <- NotifierPhase.Running
                        loopTask <- Task.Run(fun () -> loop () :> Task))

    /// The backend process id of the connection NOTIFYs are sent on, 0 while none is open.
    member _.SenderPid = Volatile.Read &linePid

    /// The sending loop: completes once it has ended (at once when it never started).
    member _.Completion = lock gate (fun () -> loopTask)

    /// Ends the sending loop (a NOTIFY still owed to the last commit is sent first) and closes its connection;
    /// completes when the loop has ended. Commits after this are still signalled in-process, not NOTIFYed.
    member _.DisposeAsync() : Task =
        let running =
            lock gate (fun () ->
                match phase with
                | NotifierPhase.Disposed -> None
                | _ ->
                    phase <- NotifierPhase.Disposed
                    Some loopTask)
        match running with
        | None -> Task.CompletedTask
        | Some t ->
            task {
                stopping.Cancel()
                try
                    do! t
                with _ ->
                    ()
                stopping.Dispose()
            }

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
