// The Postgres fixture of the parametrised suite: each instance gets its own schemas on the test server,
// the TableSpec tables, a migrated PostgresStore, its process managers (PostgresProcessManagers, not started),
// and ReadTable over committed rows.
module Fable.Tests.PgFixture

open System
open Fable.Postgres
open Fable.Tests.Fixture

/// Isolated Postgres instances on the test server (FABLE_PG_CONNECTION or a throwaway cluster).
let postgres: Fixture =
    { Name = "postgres"
      Create =
        fun rt specs ->
            task {
                let! env = PgEnv.create rt specs
                match! PostgresProcessManagers.Create(env.Store, runnerId = "fixture", pollInterval = TimeSpan.FromMilliseconds 50.0, log = ignore) with
                | Error e ->
                    do! (env :> IAsyncDisposable).DisposeAsync()
                    return failwithf "the process-manager host could not be created: %O" e
                | Ok host ->
                    let host = host :> Fable.IProcessManagerHost
                    return
                        { Interpreter = env.Interpreter
                          ProcessManagers = host
                          ReadTable = env.Rows
                          Dispose =
                            fun () ->
                                task {
                                    do! host.Stop()
                                    do! (env :> IAsyncDisposable).DisposeAsync()
                                } }
            } }
