// The in-memory interpreter's public face: the reference semantics of the contract (per-aggregate locks,
// chains, all-or-nothing units of work, the no-skip global log) plus its process-manager host.
namespace Fable.FSharp.InMemory

open System
open System.Threading
open System.Threading.Tasks
open Microsoft.Extensions.Logging
open Fable.FSharp

/// An in-memory store implementing `IInterpreter`: thread-safe, fast, and with the same semantics as Postgres.
[<Sealed>]
type InMemoryStore private (engine: Engine, rt: Runtime, lockTimeout: TimeSpan, log: ILogger) =
    let host = ProcessManagerHost(engine, rt, lockTimeout, log)

    /// A new empty store for `rt`. `clock` stamps recorded events (default: UtcNow); a unit of work waiting longer
    /// than `lockTimeout` (default 10 s) for an aggregate gets a retryable Conflict, as a deadlock would on Postgres.
    /// `loggerFactory` gives the process managers' "Fable.ProcessManagers" logger (nothing is logged without one).
    static member Create(rt: Runtime, ?clock: unit -> DateTimeOffset, ?lockTimeout: TimeSpan, ?loggerFactory: ILoggerFactory) =
        let clock = defaultArg clock (fun () -> DateTimeOffset.UtcNow)
        InMemoryStore(Engine(clock), rt, defaultArg lockTimeout (TimeSpan.FromSeconds 10.0), FableLog.processManagers (Option.toObj loggerFactory))

    /// The store as an interpreter.
    member this.Interpreter = this :> IInterpreter

    /// The process managers of the runtime, run against this store.
    member _.ProcessManagers = host :> IProcessManagerHost

    /// Checks the definition of an aggregate as PostgresStore.CheckAggregate does, without its catalog part: Initial
    /// on a sample key and ToRow on that state must not throw, return null or write `id`/`last_event_id`.
    /// InvalidDefinition lists every problem found (the same texts as on PostgreSQL).
    member _.CheckAggregate(def: AggregateDef<'S>, ?ct: CancellationToken) : Task<Result<unit, FableError>> =
        ignore ct
        Task.FromResult(AggregateRow.checkDefinition def)

    /// The committed rows of `table` ordered by id (aggregate rows include `id` and `last_event_id`).
    member _.Rows(table: string) : Row list =
        engine.Scan(table, None) |> Seq.sortWith (fun a b -> Coerce.compareIds a["id"] b["id"]) |> List.ofSeq

    interface IInterpreter with
        member _.Transact(work, ct) =
            Transaction.run engine rt lockTimeout (fun uow -> work (uow :> IUnitOfWork)) ct

        member _.Emit(def, key, expected, decide, ct) =
            Transaction.emit engine rt lockTimeout def key expected decide ct

        member _.ReadAll(after, max, _ct) =
            match Following.checkPage max with
            | Error e -> Task.FromResult(Error e)
            | Ok() -> Task.FromResult(Ok(engine.ReadAll(after, max)))

        member _.Head(_ct) = Task.FromResult(Ok(engine.Head()))
        member _.Codec = rt.Codec
