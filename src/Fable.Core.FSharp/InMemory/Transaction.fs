// Runs work in one in-memory unit of work: commits on Ok, discards on Error, exception or cancellation,
// and always releases the aggregate locks it took.
namespace Fable.InMemory

open System
open System.Threading
open System.Threading.Tasks
open Fable

/// Runs units of work.
module internal Transaction =
    /// Runs `work` in a new unit of work and commits it when it returns Ok (and `ct` is not cancelled).
    let run (engine: Engine) (rt: Runtime) (lockTimeout: TimeSpan) (work: UnitOfWork -> Task<Result<'T, FableError>>)
            (ct: CancellationToken) : Task<Result<'T, FableError>> =
        if ct.IsCancellationRequested then Task.FromResult(Error Cancelled)
        else
            let uow = UnitOfWork(engine, rt, lockTimeout)
            task {
                try
                    try
                        let! r = work uow
                        match r with
                        | Ok _ when ct.IsCancellationRequested -> return Error Cancelled
                        | Ok v ->
                            match uow.Commit() with
                            | Ok() -> return Ok v
                            | Error e -> return Error e
                        | Error e -> return Error e
                    with
                    | :? OperationCanceledException -> return Error Cancelled
                    // The caller's own code threw (as on Postgres, and as a throwing handler or decide is reported).
                    | e -> return Error(HandlerFailed("transaction", "work", e.Message, Some e))
                finally
                    uow.End()
            }
