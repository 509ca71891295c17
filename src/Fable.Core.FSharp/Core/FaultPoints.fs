// A fault-injection point for the test suite (internal, seen by the tests through InternalsVisibleTo): both
// interpreters pass it between a process-manager batch's handler writes and its checkpoint write.
namespace Fable.FSharp

open System.Runtime.CompilerServices
open System.Threading

/// Faults armed per process-manager definition (by reference); passing costs one volatile read when none is armed.
module internal FaultPoints =
    let private beforeCheckpoint = ConditionalWeakTable<ProcessManagerDef, (LogPosition -> unit)>()
    let mutable private armed = 0

    /// Runs `fault` (which may throw) each time a batch of `def` has run its handlers and is about to write its
    /// checkpoint `LogPosition` in the same transaction.
    let armBeforeCheckpoint (def: ProcessManagerDef) (fault: LogPosition -> unit) =
        let fresh, _ = beforeCheckpoint.TryGetValue def
        beforeCheckpoint.AddOrUpdate(def, fault)
        if not fresh then Interlocked.Increment &armed |> ignore

    /// Removes the fault of `def`.
    let disarm (def: ProcessManagerDef) =
        if beforeCheckpoint.Remove def then Interlocked.Decrement &armed |> ignore

    /// The point itself: called by the interpreters with the checkpoint the batch is about to write.
    let reachBeforeCheckpoint (def: ProcessManagerDef) (checkpoint: LogPosition) =
        if Volatile.Read &armed > 0 then
            match beforeCheckpoint.TryGetValue def with
            | true, fault -> fault checkpoint
            | _ -> ()
