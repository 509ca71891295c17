// A wake-up signal for runners and waiters: a task that completes at the next Set after it was taken.
// Take `Next` before checking a condition, then wait on it: a Set in between is never missed.
namespace Fable.FSharp.Postgres

open System.Threading.Tasks

/// Wakes every task waiting on the current `Next`.
type internal PmSignal() =
    let gate = obj ()
    let mutable source = TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)

    /// Completes at the next `Set`.
    member _.Next : Task = lock gate (fun () -> source.Task)

    /// Wakes the waiters of the current `Next`.
    member _.Set() =
        let old =
            lock gate (fun () ->
                let s = source
                source <- TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)
                s)
        old.TrySetResult() |> ignore
