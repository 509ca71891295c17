// Reading ahead: while a batch is decoded, handled and committed, the batch after its last event is read on another
// of the store's connections, so a catch-up overlaps reading with the rest. A read ahead is only a read below the
// horizon after a position; a step uses it only when the locked row's checkpoint is that position. It also keeps the
// runner's batch sizing (Core's BatchSizing rule): a read ahead is started only after a full batch, with the grown size.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Fable.FSharp

/// The next batch of one process manager, read ahead. Used by one runner (or catch-up) at a time.
type internal PmAhead(store: PostgresStore) =
    let events = Events.context store.Runtime store.Options
    let mutable pending: (LogPosition * Task<Result<StoredEvent[], FableError>>) option = None
    let mutable sizing = BatchSizing.Declared

    /// Up to `max` events after `after` below the horizon, in (tx, id) order; never throws.
    let read (after: LogPosition) (max: int) (ct: CancellationToken) : Task<Result<StoredEvent[], FableError>> =
        store.Read((fun conn -> Events.readAllOn events conn after max ct), ct)

    /// Starts reading the batch after `after` (replacing a read not taken).
    member _.Start(after: LogPosition, max: int, ct: CancellationToken) = pending <- Some(after, read after max ct)

    /// The position the read in progress starts after, if one was started (it may still be running).
    member _.After = pending |> Option.map fst

    /// How the next batch is sized: set by the step after each batch; the declared size again after Clear and
    /// Drain (a failure, a lost connection, a lease given up).
    member _.Sizing
        with get () = sizing
        and set v = sizing <- v

    /// Forgets the read in progress (it completes on its own and returns its connection), and sizes the next
    /// batch at the declared size.
    member _.Clear() =
        pending <- None
        sizing <- BatchSizing.Declared

    /// Waits for a read in progress and forgets it: nothing is left running on the way out of a runner or a
    /// catch-up (the next one starts at the declared size).
    member this.Drain() : Task =
        task {
            let! _ = this.Take()
            sizing <- BatchSizing.Declared
        }

    /// Takes the read started: its position and events (empty when it found none or failed: the step then reads
    /// on its own connection, which reports a failure). None when no read was started.
    member _.Take() : Task<(LogPosition * StoredEvent[]) option> =
        task {
            match pending with
            | None -> return None
            | Some(after, t) ->
                pending <- None
                match! t with
                | Ok es -> return Some(after, es)
                | Error _ -> return Some(after, [||])
        }
