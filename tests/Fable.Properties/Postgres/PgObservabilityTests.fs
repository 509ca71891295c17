// The process-manager log events on PostgreSQL (the same test as in memory, through a capturing ILoggerFactory),
// and Npgsql's own spans nesting under Fable's emit span.
module Fable.Tests.PgObservabilityTests

open System
open System.Diagnostics
open System.Threading
open System.Threading.Tasks
open Expecto
open Microsoft.Extensions.Logging
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.Domain
open Fable.Tests.Support
open Fable.Tests.Observability

/// A PostgreSQL host (own schemas) logging through `loggers`.
let private pgHost (rt: Runtime) (loggers: ILoggerFactory) =
    task {
        let! env = PgEnv.create rt Domain.tables
        match! PostgresProcessManagers.Create(env.Store, runnerId = "obs", pollInterval = TimeSpan.FromMilliseconds 50.0, loggerFactory = loggers) with
        | Error e -> return failwithf "host: %O" e
        | Ok host ->
            let host = host :> IProcessManagerHost
            let stop () : Task =
                task {
                    do! host.Stop()
                    do! (env :> IAsyncDisposable).DisposeAsync()
                }
            let settle () : Task =
                task {
                    use guard = new CancellationTokenSource(TimeSpan.FromMinutes 1.0)
                    let! _ = env.Store.WaitUntilReadable guard.Token
                    ()
                }
            return env.Interpreter, host, stop, settle
    }

let tests =
    testList "observability" [
        logTests "postgres" pgHost
        silentTests "postgres" pgHost
        testTask "Npgsql's command spans are children of the fable.emit span" {
            use spans = new Spans()
            do! PgEnv.using runtime Domain.tables (fun env ->
                task {
                    use root = spans.Root()
                    let! r = Store.emitPure env.Interpreter accounts (accountKey (Guid.NewGuid())) (fun _ -> Ok [ box { Opened.Owner = "ada" } ]) ct
                    ok "open" r |> ignore
                    root.Stop()
                    let emit = spans.Named(root, TelemetryNames.EmitSpan) |> List.exactlyOne
                    let npgsql = spans.From(root, "Npgsql")
                    Expect.isNonEmpty npgsql "Npgsql traced the emit's commands"
                    Expect.isTrue (npgsql |> List.forall (fun a -> a.ParentSpanId = emit.SpanId)) "each under the emit span"
                })
        }
    ]
