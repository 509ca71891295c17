// Runs work in one in-memory unit of work: commits on Ok, discards on Error, exception or cancellation,
// and always releases the aggregate locks it took.
namespace Fable.FSharp.InMemory

open System
open System.Threading
open System.Threading.Tasks
open Fable.FSharp

/// Runs units of work.
module internal Transaction =
    /// The outcome of a unit of work whose work returned `r`: committed when Ok and `ct` is not cancelled; `withTx`
    /// gives the value the commit's Tx.
    let private finish (uow: UnitOfWork) (ct: CancellationToken) (withTx: 'T -> int64 -> 'T) (r: Result<'T, FableError>) =
        match r with
        | Ok _ when ct.IsCancellationRequested -> Error Cancelled
        | Ok v ->
            match uow.Commit() with
            | Ok tx -> Ok(withTx v tx)
            | Error e -> Error e
        | Error e -> Error e

    /// An emit's result with the commit's Tx in its events' positions (as followers will read them).
    let private committedAt (e: Emitted<'S>) (tx: int64) =
        if tx = 0L then e
        else { e with Events = e.Events |> List.map (fun r -> { r with Position = { Tx = tx; Id = r.Id } }) }

    /// An exception that escaped the work: the caller's own code threw (as on Postgres, and as a throwing
    /// handler or decide is reported), or the work was cancelled.
    let private failure (e: exn) : Result<'T, FableError> =
        match e with
        | :? OperationCanceledException -> Error Cancelled
        | e -> Error(HandlerFailed("transaction", "work", e.Message, Some e))

    /// Awaits the work `started` on `uow`, commits when it returned Ok (and `ct` is not cancelled), and always ends
    /// the unit of work, releasing its locks.
    let private complete (uow: UnitOfWork) (ct: CancellationToken) (withTx: 'T -> int64 -> 'T) (started: Task<Result<'T, FableError>>) =
        task {
            try
                try
                    let! r = started
                    return finish uow ct withTx r
                with e ->
                    return failure e
            finally
                uow.End()
        }

    /// Runs `work` in a new unit of work and commits it when it returns Ok (and `ct` is not cancelled).
    let run (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (work: UnitOfWork -> Task<Result<'T, FableError>>)
            (ct: CancellationToken) : Task<Result<'T, FableError>> =
        if ct.IsCancellationRequested then Task.FromResult(Error Cancelled)
        else
            let uow = UnitOfWork(engine, rt, lockTimeout)
            // A work that throws before returning its task fails the same way as one whose task fails.
            let started = try work uow with e -> Task.FromException<_> e
            complete uow ct (fun v _ -> v) started

    let private emitUntraced (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (def: AggregateDef<'S>) (key: AggregateKey) (expected: Expected)
                             (decide: Decide<'S>) (ct: CancellationToken) : Task<Result<Emitted<'S>, FableError>> =
        if ct.IsCancellationRequested then Task.FromResult(Error Cancelled)
        else
            let uow = UnitOfWork(engine, rt, lockTimeout)
            let mutable started = Unchecked.defaultof<ValueTask<Result<Emitted<'S>, FableError>>>
            let mutable now = ValueNone
            try
                try
                    started <- uow.EmitUntraced(def, key, expected, decide, ct)
                    // A synchronous emit (pure decision, synchronous handlers, free lock) commits here: one task.
                    if started.IsCompleted then now <- ValueSome(finish uow ct committedAt (started.GetAwaiter().GetResult()))
                with e ->
                    now <- ValueSome(failure e)
            finally
                if now.IsSome then uow.End()
            match now with
            | ValueSome r -> Task.FromResult r
            | ValueNone -> complete uow ct committedAt (started.AsTask())

    /// `run` for a unit of work that is one emit (IInterpreter.Emit), without a work closure; its events get the
    /// commit's Tx.
    let emit (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (def: AggregateDef<'S>) (key: AggregateKey) (expected: Expected)
             (decide: Decide<'S>) (ct: CancellationToken) : Task<Result<Emitted<'S>, FableError>> =
        if Telemetry.emitObserved () then
            Telemetry.traceEmit null def.Table def.KeyKind (fun () -> emitUntraced engine rt lockTimeout def key expected decide ct)
        else emitUntraced engine rt lockTimeout def key expected decide ct
