// The runner loop of one process manager: take its lease (retrying while another runner holds it), then step
// batch after batch; sleep until a notification, a control change or the poll interval when idle. Database or
// connection failures are logged, the lease is dropped and the loop backs off: it never crashes and never skips.
namespace Fable.FSharp.Postgres

open System
open System.Runtime.ExceptionServices
open System.Threading
open System.Threading.Tasks
open Fable.FSharp

/// Timing of runners.
type internal PmTiming =
    {
        /// The longest a runner waits before looking again (lock retry, idle poll).
        Poll: TimeSpan
        /// The first delay after a failure of the database; doubles up to `Poll` (at least a second).
        Backoff: TimeSpan
    }

/// Background runners.
module internal PmRunner =
    /// Waits until `signal` completes, `delay` passes or `ct` fires (never throws). The delay's timer goes as soon
    /// as the wait ends (a `Task.Delay` beside the signal would stay in the timer queue for the whole delay: one
    /// timer per wake-up, a thousand live ones at a thousand wake-ups a second).
    let wait (signal: Task) (delay: TimeSpan) (ct: CancellationToken) : Task =
        task {
            if not ct.IsCancellationRequested then
                try
                    do! signal.WaitAsync(delay, ct)
                with
                | :? TimeoutException
                | :? OperationCanceledException -> ()
        }

    /// A task that never completes (wait on the delay alone).
    let never = TaskCompletionSource().Task

    /// The next delay of a doubling sequence, capped.
    let grow (d: TimeSpan) (cap: TimeSpan) = TimeSpan.FromTicks(min (d.Ticks * 2L) cap.Ticks)

    /// Runs `pm` until `ct` fires, holding its lease whenever it can (a partition: only while this process holds
    /// no more than its `share`); sets `progress` after every batch or recorded failure. Releases the lease on the
    /// way out (a batch in flight has rolled back or committed whole).
    let run (ctx: PmContext) (pm: ProcessManagerDef) (share: PmShare option) (runnerId: string) (timing: PmTiming) (wake: PmSignal) (progress: PmSignal) (ct: CancellationToken) : Task =
        task {
            Telemetry.detach ()
            let mutable lease: PmLease option = None
            let ahead = PmAhead(ctx.Store)
            let maxBackoff = TimeSpan.FromTicks(max timing.Poll.Ticks (TimeSpan.FromSeconds 1.0).Ticks)
            let mutable backoff = timing.Backoff
            let quickStart = TimeSpan.FromMilliseconds 5.0
            let mutable quick = quickStart
            // `counted`: the share already counted the release (a shed partition).
            let dropLease counted =
                task {
                    match lease with
                    | Some l ->
                        lease <- None
                        if not counted then share |> Option.iter (fun s -> s.Release())
                        do! ahead.Drain()
                        do! l.Release()
                        FableLog.runnerReleased ctx.Log pm.Name runnerId
                    | None -> ()
                }
            let drop () = dropLease false
            /// Takes the lease when it is free (and, for a partition, within this process's share).
            let acquire () =
                task {
                    let! reserved =
                        match share with
                        | Some s ->
                            task {
                                do! s.Refresh ct
                                return s.TryReserve()
                            }
                        | None -> Task.FromResult true
                    if not reserved then
                        return None
                    else
                        let! l =
                            task {
                                try
                                    return! PmLease.TryAcquire(ctx.Store.DataSource, ctx.Schema, pm.Name, runnerId, ct)
                                with e ->
                                    share |> Option.iter (fun s -> s.Release())
                                    ExceptionDispatchInfo.Capture(e).Throw()
                                    return None
                            }
                        if l.IsNone then share |> Option.iter (fun s -> s.Release())
                        return l
                }
            /// A partition this process holds beyond its share (another process joined) is released.
            let shed () =
                task {
                    match share with
                    | Some s ->
                        do! s.Refresh ct
                        if s.TryShed() then
                            do! dropLease true
                            return true
                        else
                            return false
                    | None -> return false
                }
            while not ct.IsCancellationRequested do
                let woke = wake.Next
                try
                    let! shedNow = if lease.IsSome then shed () else Task.FromResult false
                    match lease with
                    | None ->
                        match! acquire () with
                        | Some l ->
                            lease <- Some l
                            backoff <- timing.Backoff
                            FableLog.runnerAcquired ctx.Log pm.Name runnerId
                        | None -> do! wait never timing.Poll ct
                    | Some _ when shedNow -> do! wait never timing.Poll ct
                    | Some l ->
                        match! PmStep.run ctx pm l.Connection ahead ct with
                        | Ok(StepOutcome.Handled _) ->
                            quick <- quickStart
                            backoff <- timing.Backoff
                            progress.Set()
                        | Ok(StepOutcome.Failed _) -> progress.Set()
                        | Ok StepOutcome.Changed -> ()
                        | Ok(StepOutcome.Idle true) ->
                            // Committed events wait behind an open transaction: look again soon.
                            do! wait woke quick ct
                            quick <- grow quick timing.Poll
                        | Ok(StepOutcome.Idle false) -> do! wait woke timing.Poll ct
                        | Ok(StepOutcome.Waiting d) -> do! wait woke (if d < timing.Poll then d else timing.Poll) ct
                        | Ok StepOutcome.Inactive ->
                            progress.Set()
                            do! wait woke timing.Poll ct
                        | Error Cancelled when ct.IsCancellationRequested -> ()
                        | Error e ->
                            FableLog.runnerFailed ctx.Log pm.Name runnerId e backoff
                            do! drop ()
                            do! wait never backoff ct
                            backoff <- grow backoff maxBackoff
                with
                | :? OperationCanceledException when ct.IsCancellationRequested -> ()
                | e ->
                    FableLog.runnerFailed ctx.Log pm.Name runnerId (PgErrors.ofExn None ct e) backoff
                    do! drop ()
                    do! wait never backoff ct
                    backoff <- grow backoff maxBackoff
            // Stopped: a batch in flight has committed whole or rolled back; hand the lock over.
            do! drop ()
        }
