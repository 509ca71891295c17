// The Postgres fixture of the parametrised suite: each instance gets its own schemas on the test server,
// the TableSpec tables, a migrated PostgresStore, its process managers (PostgresProcessManagers, not started),
// ReadTable over committed rows and Settle through WaitUntilReadable.
module Fable.Tests.PgFixture

open System
open System.Threading
open Fable.FSharp.Postgres
open Fable.Tests.Fixture

/// A quarter of the in-memory case count, at least 10: each case creates schemas and runs real transactions.
let cases (inMemory: int) = max 10 (inMemory / 4)

/// Isolated Postgres instances on the test server (FABLE_PG_CONNECTION or a throwaway cluster).
let postgres: Fixture =
    { Name = "postgres"
      Cases = cases
      Create =
        fun rt specs ->
            task {
                let! env = PgEnv.create rt specs
                match! PostgresProcessManagers.Create(env.Store, runnerId = "fixture", pollInterval = TimeSpan.FromMilliseconds 50.0) with
                | Error e ->
                    do! (env :> IAsyncDisposable).DisposeAsync()
                    return failwithf "the process-manager host could not be created: %O" e
                | Ok host ->
                    let host = host :> Fable.FSharp.IProcessManagerHost
                    return
                        { Interpreter = env.Interpreter
                          ProcessManagers = host
                          ReadTable = env.Rows
                          Settle =
                            fun () ->
                                task {
                                    // The token only turns a hang into a failure; settling waits on other tests'
                                    // open transactions too, which end on their own.
                                    use guard = new CancellationTokenSource(TimeSpan.FromMinutes 1.0)
                                    match! env.Store.WaitUntilReadable guard.Token with
                                    | Ok() -> ()
                                    | Error e -> failwithf "settling failed: %O" e
                                }
                          Dispose =
                            fun () ->
                                task {
                                    do! host.Stop()
                                    do! (env :> IAsyncDisposable).DisposeAsync()
                                } }
            } }
