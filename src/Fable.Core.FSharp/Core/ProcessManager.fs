// Process-manager definitions (the pure part): name, initial state, handle, error policy, start position,
// batch size and how state is stored. Runners live in the interpreters.
namespace Fable.FSharp

open System
open System.Text.Json
open System.Threading
open System.Threading.Tasks

/// What to do when handling an event fails.
[<RequireQualifiedAccess>]
type OnFailure =
    /// Retry the same event after `Interval`; after `MaxAttempts` failures (when set) stop as `Stop` does.
    | Retry of interval: TimeSpan * maxAttempts: int option
    /// Disable the process manager and keep the error until it is enabled again.
    | Stop

/// One event delivered to a process manager.
type Incoming =
    internal
        { Recorded: StoredEvent
          /// The decoded event; None when its type is not registered in this codec (the handler decides).
          Event: obj option }

/// A process manager: a named durable follower of the global log with its own state.
type internal ProcessManager<'S> =
    {
        Name: string
        Initial: 'S
        /// State + event → next state. Runs in the transaction that stores the state and checkpoint;
        /// it may write through the unit of work (and emit to other aggregates).
        Handle: IUnitOfWork -> 'S -> Incoming -> CancellationToken -> Task<Result<'S, FableError>>
        ErrorPolicy: OnFailure
        StartAt: StartAt
        /// Events read per batch when live, in the first batch of a runner or catch-up and after a failure; a
        /// process manager that is behind doubles full batches up to 16× this (Core/BatchSizing.fs).
        BatchSize: int
        /// State → JSON text.
        Save: 'S -> string
        /// JSON text → state.
        Load: string -> 'S
        /// One runner for every event, or N partitions by aggregate (`Partitioning.partitionOf`).
        Partitioning: PmPartitioning
    }

/// A process manager with its state type erased, as runners hold it (opaque to F# users: see `Follower.definition`).
type ProcessManagerDef =
    internal
        { Name: string
          Initial: obj
          Handle: IUnitOfWork -> obj -> Incoming -> CancellationToken -> Task<Result<obj, FableError>>
          ErrorPolicy: OnFailure
          StartAt: StartAt
          BatchSize: int
          Save: obj -> string
          Load: string -> obj
          Partitioning: PmPartitioning }

/// Builds process managers.
module internal ProcessManager =
    let private opts = JsonSerializerOptions(JsonSerializerDefaults.Web)

    /// A process manager with a pure handle, JSON state (System.Text.Json), retry every second, from the origin.
    let create<'S> (name: string) (initial: 'S) (handle: 'S -> Incoming -> Result<'S, FableError>) : ProcessManager<'S> =
        { Name = name
          Initial = initial
          Handle = fun _ s e _ -> Task.FromResult(handle s e)
          ErrorPolicy = OnFailure.Retry(TimeSpan.FromSeconds 1.0, None)
          StartAt = StartAt.Origin
          BatchSize = 500
          Save = fun s -> JsonSerializer.Serialize<'S>(s, opts)
          Load = fun j -> JsonSerializer.Deserialize<'S>(j, opts)
          Partitioning = PmPartitioning.Single }

    /// Replaces the handle with one that writes in the checkpoint's transaction.
    let withHandleIn handle (pm: ProcessManager<'S>) = { pm with Handle = handle }

    /// Every problem of a definition.
    let validate (pm: ProcessManagerDef) =
        [ if String.IsNullOrWhiteSpace pm.Name then yield "a process manager has a blank name"
          if pm.BatchSize < 1 then yield sprintf "process manager %s has batch size %d (must be 1 or more)" pm.Name pm.BatchSize
          match pm.ErrorPolicy with
          | OnFailure.Retry(i, _) when i < TimeSpan.Zero -> yield sprintf "process manager %s has a negative retry interval" pm.Name
          | OnFailure.Retry(_, Some n) when n < 1 -> yield sprintf "process manager %s allows %d attempts (must be 1 or more)" pm.Name n
          | _ -> ()
          match pm.StartAt with
          | StartAt.After p when p.Tx < 0L || p.Id < 0L -> yield sprintf "process manager %s starts after position %O (positions are not negative)" pm.Name p
          | _ -> ()
          // Both interpreters store the initial state at registration and on every reset.
          match (try Ok(pm.Save pm.Initial) with e -> Error e.Message) with
          | Ok null -> yield sprintf "process manager %s: Save of the initial state returned null" pm.Name
          | Error m -> yield sprintf "process manager %s: the initial state cannot be saved: %s" pm.Name m
          | Ok _ -> ()
          match pm.Partitioning with
          | PmPartitioning.Declared n when n < 1 || n > Partitioning.MaxPartitions ->
              yield sprintf "process manager %s declares %d partitions (must be 1 to %d)" pm.Name n Partitioning.MaxPartitions
          | PmPartitioning.Declared n when n > 1 && pm.Name.Contains "#" ->
              yield sprintf "process manager %s is partitioned and its name contains '#' (partitions are stored as name#index/count): rename it" pm.Name
          | _ -> () ]

    /// `pm` declared with `count` partitions (1: unpartitioned, stored under its name as before).
    let withPartitions (count: int) (pm: ProcessManagerDef) =
        { pm with Partitioning = (if count = 1 then PmPartitioning.Single else PmPartitioning.Declared count) }

    /// The process managers runners run: a declaration with N partitions becomes N definitions named
    /// `name#i/N` (`PartitionSlot`), each following only its aggregates; others are kept as they are.
    let expand (pms: ProcessManagerDef list) : ProcessManagerDef list =
        [ for pm in pms do
              match pm.Partitioning with
              | PmPartitioning.Declared n when n > 1 ->
                  for s in Partitioning.slots pm.Name n -> { pm with Name = string s; Partitioning = PmPartitioning.Slot s }
              | PmPartitioning.Declared _ -> yield { pm with Partitioning = PmPartitioning.Single }
              | _ -> yield pm ]

    /// The error for a name no runner runs among `pms`: a partitioned declaration's name lists its partitions.
    let unknownName (pms: ProcessManagerDef list) (name: string) : FableError =
        let partitions =
            [ for pm in pms do
                  match pm.Partitioning with
                  | PmPartitioning.Slot s when s.Group = name -> yield pm.Name
                  | _ -> () ]
        match partitions with
        | [] -> InvalidDefinition [ sprintf "no process manager named %s is registered" name ]
        | ps ->
            InvalidDefinition
                [ sprintf "process manager %s is partitioned: it runs as %s, each with its own status and controls; use those names" name (String.Join(", ", ps)) ]

    /// Erases the state type.
    let erase (pm: ProcessManager<'S>) : ProcessManagerDef =
        { Name = pm.Name
          Initial = box pm.Initial
          Handle =
            fun uow s e ct ->
                let t = pm.Handle uow (unbox<'S> s) e ct
                // A handle that completed at once (a pure one) needs no state machine.
                if t.IsCompletedSuccessfully then Task.FromResult(Result.map box t.Result)
                else
                    task {
                        let! r = t
                        return Result.map box r
                    }
          ErrorPolicy = pm.ErrorPolicy
          StartAt = pm.StartAt
          BatchSize = pm.BatchSize
          Save = fun s -> pm.Save(unbox<'S> s)
          Load = fun j -> box (pm.Load j)
          Partitioning = pm.Partitioning }

    /// Validates many definitions together (duplicate names included).
    let validateAll (pms: ProcessManagerDef list) =
        [ for pm in pms do yield! validate pm
          for (n, xs) in expand pms |> List.groupBy (fun p -> p.Name) do
              if List.length xs > 1 then yield sprintf "process manager %s is registered %d times" n (List.length xs) ]
