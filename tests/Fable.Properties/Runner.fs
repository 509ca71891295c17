// Runs interleavings: each thread's jobs in order on its own Task.Run worker, all released together by one gate.
// Returns every outcome so properties can compare what was acknowledged with what was recorded.
module Fable.Tests.Runner

open System
open System.Threading.Tasks
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Gens
open Fable.Tests.Support

/// What one job returned: the events it recorded when it committed, or its error.
type Outcome =
    { Job: Job
      Result: Result<StoredEvent list, FableError> }

let private emitStep (uow: IUnitOfWork) (keys: Guid[]) (s: Step) =
    uow.Emit(accounts, accountKey keys[s.Account], Expected.Any, Pure(Commands.decide s.Command), ct)

/// Runs one job in its own unit of work. Steps of a `Together` job lock their accounts in key order (no deadlock).
let runJob (i: IInterpreter) (keys: Guid[]) (job: Job) : Task<Outcome> =
    task {
        match job with
        | Single s ->
            let! r = i.Transact((fun uow -> emitStep uow keys s), ct)
            return { Job = job; Result = r |> Result.map (fun e -> e.Events) }
        | Together(steps, allOrNothing) ->
            let ordered = steps |> List.sortBy (fun s -> keys[s.Account])
            let work (uow: IUnitOfWork) =
                task {
                    let mutable recorded = []
                    let mutable failure = None
                    for s in ordered do
                        if failure.IsNone then
                            match! emitStep uow keys s with
                            | Ok e -> recorded <- recorded @ e.Events
                            | Error e when allOrNothing -> failure <- Some e
                            | Error _ -> ()
                    return (match failure with Some e -> Error e | None -> Ok recorded)
                }
            let! r = i.Transact(work, ct)
            return { Job = job; Result = r }
    }

/// Runs every thread's jobs concurrently on real worker threads; returns all outcomes.
let runConcurrently (i: IInterpreter) (keys: Guid[]) (threads: Job list list) : Outcome list =
    let gate = TaskCompletionSource()
    let workers =
        [ for jobs in threads ->
              Task.Run<Outcome list>(Func<Task<Outcome list>>(fun () ->
                  task {
                      do! gate.Task
                      let mutable outcomes = []
                      for j in jobs do
                          let! o = runJob i keys j
                          outcomes <- o :: outcomes
                      return List.rev outcomes
                  })) ]
    gate.SetResult()
    workers |> List.collect run

/// The ids of every event the outcomes acknowledged as committed.
let committedIds (outcomes: Outcome list) =
    outcomes |> List.collect (fun o -> match o.Result with Ok es -> es | Error _ -> []) |> List.map (fun e -> e.Id) |> Set.ofList
