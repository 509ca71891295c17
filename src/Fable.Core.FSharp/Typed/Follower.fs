// Typed process managers: a named durable follower of the global log with state 'S, handling the events of a union 'E
// (events of other types arrive as `Followed.Other`, still typed). Compiles to the untyped process-manager definition.
namespace Fable.FSharp

open System.Threading
open System.Threading.Tasks

/// An event of the global log as a typed process manager sees it.
[<RequireQualifiedAccess>]
type Followed<'E> =
    /// An event of the union, decoded.
    | Event of 'E
    /// An event of another type: another union's, a C# event class, or a type this app does not register.
    | Other

/// A typed process manager. Build with `Follower.create`; register with `Follower.definition`.
type Follower<'S, 'E> =
    {
        /// The stable name (state and checkpoint are stored under it).
        Name: string
        /// The state before the first event.
        Initial: 'S
        /// State + event → next state, in the transaction that stores the state and checkpoint: it may write through
        /// the unit of work and emit to other aggregates (`Decider.emitIn`).
        Handle: IUnitOfWork -> 'S -> StoredEvent -> Followed<'E> -> CancellationToken -> Task<Result<'S, FableError>>
        /// What to do when handling an event fails.
        OnFailure: OnFailure
        /// Where it starts when registered or reset.
        StartAt: StartAt
        /// Events read per batch.
        BatchSize: int
        /// State → JSON text.
        Save: 'S -> string
        /// JSON text → state.
        Load: string -> 'S
        /// Partitions (1: one runner follows every event). With N > 1 each partition `Name#i/N` follows only the
        /// aggregates `Partitioning.partitionOf N` gives it, with its own checkpoint, state and runner.
        Partitions: int
    }

/// Builds typed process managers.
module Follower =
    /// A process manager with a pure handle and the untyped definition's defaults (`ProcessManager.create`: JSON
    /// state through System.Text.Json, retry every second, from the origin, batches of 500).
    let create (name: string) (initial: 'S) (handle: 'S -> StoredEvent -> Followed<'E> -> Result<'S, FableError>) : Follower<'S, 'E> =
        let defaults = ProcessManager.create<'S> name initial (fun s _ -> Ok s)
        { Name = name
          Initial = initial
          Handle = fun _ s r e _ -> Task.FromResult(handle s r e)
          OnFailure = defaults.ErrorPolicy
          StartAt = defaults.StartAt
          BatchSize = defaults.BatchSize
          Save = defaults.Save
          Load = defaults.Load
          Partitions = 1 }

    /// Replaces the handle with one that writes in the checkpoint's transaction.
    let withHandleIn handle (f: Follower<'S, 'E>) = { f with Handle = handle }

    /// `f` with `count` partitions (1: unpartitioned). Changing the count of a stored process manager is an explicit
    /// operation (`PostgresProcessManagers.Repartition`); see docs/scaling.md.
    let withPartitions (count: int) (f: Follower<'S, 'E>) = { f with Partitions = count }

    /// The definition interpreters run (put it in `Definition.ProcessManagers`): events of `events`' cases arrive as
    /// `Followed.Event`, every other event as `Followed.Other`.
    let definition (events: EventUnion<'E>) (f: Follower<'S, 'E>) : ProcessManagerDef =
        let pm: ProcessManager<'S> =
            { Name = f.Name
              Initial = f.Initial
              Handle =
                fun uow s incoming ct ->
                    let e =
                        match incoming.Event with
                        | Some o ->
                            match events.TryOfRecord o with
                            | ValueSome e -> Followed.Event e
                            | ValueNone -> Followed.Other
                        | None -> Followed.Other
                    f.Handle uow s incoming.Recorded e ct
              ErrorPolicy = f.OnFailure
              StartAt = f.StartAt
              BatchSize = f.BatchSize
              Save = f.Save
              Load = f.Load
              Partitioning = PmPartitioning.Single }
        ProcessManager.erase pm |> ProcessManager.withPartitions f.Partitions
