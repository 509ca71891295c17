// The interpreter contract: a unit of work (one transaction) that emits, loads, logs and replays,
// the portable table API handlers use, and the decision/handler signatures. Implemented by InMemory and Postgres.
namespace Fable.FSharp

open System
open System.Data.Common
open System.Threading
open System.Threading.Tasks

/// Rows of ordinary tables inside the current unit of work. Each table has a primary key column `id`.
/// Writes are part of the unit of work: they commit or roll back with it.
type ITables =
    /// The row of `table` whose `id` is `id`, if any.
    abstract Get: table: string * id: obj * ct: CancellationToken -> Task<Result<Row option, FableError>>
    /// The rows of `table` whose `column` equals `value`, ordered by `id`.
    abstract Find: table: string * column: string * value: obj * ct: CancellationToken -> Task<Result<Row list, FableError>>
    /// Inserts `row` (which must hold `id`); a row with that id already present is a Conflict.
    abstract Insert: table: string * row: Row * ct: CancellationToken -> Task<Result<unit, FableError>>
    /// Inserts `row`, or updates the columns it lists when a row with its `id` exists.
    abstract Upsert: table: string * row: Row * ct: CancellationToken -> Task<Result<unit, FableError>>
    /// Deletes the row with `id`; true when a row was deleted.
    abstract Delete: table: string * id: obj * ct: CancellationToken -> Task<Result<bool, FableError>>

/// The result of one emit: the aggregate after its events, and the events as recorded.
type Emitted<'S> =
    { Aggregate: AggregateState<'S>
      Events: StoredEvent list }

/// A decision: pure over the state, or reading inside the transaction through the unit of work.
/// Opaque to F# users: a typed decider's `Decision` compiles to it; the C# face builds it.
type Decide<'S> =
    internal
    /// State → events to record, or an error.
    | Pure of ('S -> Result<obj list, FableError>)
    /// May read (tables, other aggregates, the connection) inside the emit's transaction.
    | InTransaction of (IUnitOfWork -> 'S -> CancellationToken -> Task<Result<obj list, FableError>>)

/// One transaction. Emits inside it are serial per aggregate (the aggregate stays locked until the unit
/// of work ends) and all of its effects commit together or not at all.
and IUnitOfWork =
    /// Locks the aggregate, decides, and per event records it, evolves, writes the row (before the event's
    /// handlers, when it has some) and runs the handlers; each row write is guarded by the row's last_event_id.
    /// A failed emit leaves no trace in the unit of work (the rest of it survives). An emit on an aggregate whose
    /// row is missing although it has events, or from inside its own emit, is a non-retryable Conflict.
    abstract Emit<'S> : def: AggregateDef<'S> * key: AggregateKey * expected: Expected * decide: Decide<'S> * ct: CancellationToken -> Task<Result<Emitted<'S>, FableError>>
    /// Reads the aggregate (without locking); None when it has no row.
    abstract Load<'S> : def: AggregateDef<'S> * key: AggregateKey * ct: CancellationToken -> Task<Result<AggregateState<'S> option, FableError>>
    /// The aggregate's events in chain order.
    abstract Log: id: AggregateId * ct: CancellationToken -> Task<Result<StoredEvent list, FableError>>
    /// Rebuilds the aggregate row from its log through evolve and the handlers (with Replaying = true); inserts
    /// the row when it is missing (the way to restore a deleted row).
    abstract Replay<'S> : def: AggregateDef<'S> * key: AggregateKey * ct: CancellationToken -> Task<Result<AggregateState<'S>, FableError>>
    /// Ordinary rows in this unit of work.
    abstract Tables: ITables
    /// The open connection on the Postgres interpreter (None in memory): run your own SQL on it.
    abstract Connection: DbConnection option
    /// The transaction on the Postgres interpreter (None in memory).
    abstract Transaction: DbTransaction option
    /// The codec of this interpreter.
    abstract Codec: IEventCodec

/// What a handler receives for one event (untyped: the C# face's and the typed reactions' common ground).
type HandlerArgs =
    internal
        {
            /// The unit of work of the emit: write associated rows through it.
            Uow: IUnitOfWork
            /// The aggregate the event belongs to.
            Aggregate: AggregateId
            /// The aggregate state after this event was evolved.
            State: obj
            /// The event object.
            Event: obj
            /// The event as recorded (id, prev id, type, payload).
            Recorded: StoredEvent
            /// True when the handler runs inside a Replay (avoid effects that must happen once).
            Replaying: bool
            /// Cancellation of the emit.
            CancellationToken: CancellationToken
        }

/// Extra work for one event type inside the emit's transaction (opaque to F# users: see `Reaction`).
type Handler =
    internal
        { Name: string
          Run: HandlerArgs -> Task<Result<unit, FableError>> }

/// Where a process manager starts reading when it is first registered or reset.
[<RequireQualifiedAccess>]
type StartAt =
    /// From the first event ever recorded.
    | Origin
    /// After the last event committed when it is registered.
    | Head
    /// After the given position.
    | After of LogPosition

/// The state of a process manager as the store keeps it.
type ProcessManagerInfo =
    { Name: string
      /// The last position handled.
      Position: LogPosition
      /// Committed events after LogPosition (visible to followers).
      Lag: int64
      Active: bool
      LastError: string option
      Attempts: int
      /// Who runs it now (runner id), if anyone.
      Holder: string option
      /// The state as JSON.
      State: string }

/// Reads the global log as followers see it and opens units of work: the whole interpreter.
type IInterpreter =
    /// Runs `work` in one transaction: commits when it returns Ok, rolls back on Error, exception or cancellation.
    abstract Transact<'T> : work: (IUnitOfWork -> Task<Result<'T, FableError>>) * ct: CancellationToken -> Task<Result<'T, FableError>>
    /// Emits in a transaction of its own: the same outcome as `Transact` around one `IUnitOfWork.Emit`, which an
    /// interpreter may run with fewer round trips (Postgres sends COMMIT with the emit's last batch).
    abstract Emit<'S> : def: AggregateDef<'S> * key: AggregateKey * expected: Expected * decide: Decide<'S> * ct: CancellationToken -> Task<Result<Emitted<'S>, FableError>>
    /// Up to `max` committed events after `after`, in (Tx, Id) order; never returns an event before one that
    /// may still commit (the no-skip rule). InvalidDefinition when `max` is below 1.
    abstract ReadAll: after: LogPosition * max: int * ct: CancellationToken -> Task<Result<StoredEvent list, FableError>>
    /// The position of the last event visible to followers (Origin when none).
    abstract Head: ct: CancellationToken -> Task<Result<LogPosition, FableError>>
    /// The codec of this interpreter.
    abstract Codec: IEventCodec

/// Runs the registered process managers of one interpreter and controls them at runtime.
type IProcessManagerHost =
    /// Starts background runners for every registered process manager (idempotent).
    abstract Start: ct: CancellationToken -> Task
    /// Stops the runners gracefully: a batch in flight either commits whole or not at all.
    abstract Stop: unit -> Task
    /// Returns once every active process manager has handled every event committed before the call
    /// (in memory: deterministically, on the caller's thread when runners are not started).
    abstract CatchUp: ct: CancellationToken -> Task<Result<unit, FableError>>
    /// The stored status of one process manager; NotFound-like InvalidDefinition when the name is unknown.
    abstract Status: name: string * ct: CancellationToken -> Task<Result<ProcessManagerInfo, FableError>>
    /// The stored status of every process manager in the store, registered by this app or not (a read only: it
    /// runs nothing), by name. The state of one this app does not register is the stored JSON as is.
    abstract ListStored: ct: CancellationToken -> Task<Result<ProcessManagerInfo list, FableError>>
    /// Enables a process manager (clears its error and attempts).
    abstract Enable: name: string * ct: CancellationToken -> Task<Result<unit, FableError>>
    /// Disables a process manager; its runner stops handling after the current batch.
    abstract Disable: name: string * ct: CancellationToken -> Task<Result<unit, FableError>>
    /// Moves the checkpoint to `start` and resets the state to the initial state.
    abstract Reset: name: string * start: StartAt * ct: CancellationToken -> Task<Result<unit, FableError>>
    /// Resets to the origin with the initial state and handles the whole log again.
    abstract Rebuild: name: string * ct: CancellationToken -> Task<Result<unit, FableError>>
