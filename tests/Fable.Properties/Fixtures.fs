// The interpreter fixtures the suite runs against. The in-memory one needs no setup: it enforces the declared tables.
module Fable.Tests.Fixtures

open System.Threading.Tasks
open Fable.FSharp.InMemory
open Fable.Tests.Fixture

/// A fresh in-memory store per instance.
let inMemory: Fixture =
    { Name = "in-memory"
      Cases = id
      Create =
        fun rt tables ->
            let store = InMemoryStore.Create(declare tables rt)
            Task.FromResult
                { Interpreter = store.Interpreter
                  ProcessManagers = store.ProcessManagers
                  ReadTable = fun table -> Task.FromResult(store.Rows table)
                  Settle = fun () -> Task.CompletedTask
                  Dispose = fun () -> store.ProcessManagers.Stop() } }
