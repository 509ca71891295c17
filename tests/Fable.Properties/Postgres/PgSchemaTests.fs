// The schema: the migration is idempotent and safe when many tasks run it at once; CheckAggregate names
// what an aggregate table lacks (table, last_event_id, key type, a column ToRow writes).
module Fable.Tests.PgSchemaTests

open System
open System.Threading.Tasks
open Expecto
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.PgDomain

let private versions (env: PgEnv.Env) (schema: string) =
    task {
        let! v = env.Scalar(sprintf "SELECT string_agg(version::text, ',' ORDER BY version) FROM %s.schema_version" (PgEnv.q schema))
        return string v
    }

let private expectedVersions = String.Join(",", [ for m in Migrations.all -> string m.Version ])

let private problemsOf (r: Result<unit, FableError>) =
    match r with
    | Error(InvalidDefinition ps) -> ps
    | r -> failtestf "expected InvalidDefinition, got %A" r

let private expectProblem (fragments: string list) (r: Result<unit, FableError>) =
    let ps = problemsOf r
    Expect.isTrue
        (ps |> List.exists (fun p -> fragments |> List.forall (fun f -> p.Contains(f, StringComparison.Ordinal))))
        (sprintf "a problem mentioning %A in %A" fragments ps)

let tests =
    testList "schema" [
        testTask "the migration is idempotent and keeps what is stored" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = emit env.Interpreter accounts (AggregateKey.Uuid(Guid.NewGuid())) Expected.Any (deposit [ 1L ])
                ok "emit" r |> ignore
                for _ in 1..2 do
                    let! again = PostgresStore.Create(env.DataSource, runtime, { Schema = env.FableSchema; Notify = true })
                    ok "migrate again" again |> ignore
                let! v = versions env env.FableSchema
                Expect.equal v expectedVersions "each version is recorded once"
                let! ids = env.EventIds()
                Expect.equal ids.Length 1 "the event survives"
            })
        }

        testTask "many tasks migrating a fresh schema at once all succeed and apply each version once" {
            do! PgEnv.using runtime tables (fun env -> task {
                let schema = "fable_" + Guid.NewGuid().ToString "N"
                try
                    let gate = TaskCompletionSource()
                    let racers =
                        [ for _ in 1..8 ->
                              background (fun () -> task {
                                  do! gate.Task
                                  return! PostgresStore.Create(env.DataSource, runtime, { Schema = schema; Notify = false }) }) ]
                    gate.SetResult()
                    let! results = Task.WhenAll racers
                    for r in results do
                        ok "concurrent migration" r |> ignore
                    let! v = versions env schema
                    Expect.equal v expectedVersions "each version applied once"
                finally
                    env.Exec(sprintf "DROP SCHEMA IF EXISTS %s CASCADE" (PgEnv.q schema)).Wait()
            })
        }

        testTask "a store with bad options is refused with the reason" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = PostgresStore.Create(env.DataSource, runtime, { Schema = " "; Notify = true })
                Expect.isTrue (match r with Error(InvalidDefinition _) -> true | _ -> false) "a blank schema is an invalid definition"
            })
        }

        testTask "CheckAggregate accepts a fitting table" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = env.Store.CheckAggregate accounts
                ok "check" r
            })
        }

        testTask "CheckAggregate names a missing table" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = env.Store.CheckAggregate(accountsIn "wallets" KeyType.Uuid)
                expectProblem [ "wallets"; "does not exist" ] r
            })
        }

        testTask "CheckAggregate names a missing last_event_id and how to add it" {
            do! PgEnv.using runtime tables (fun env -> task {
                do! env.Exec "CREATE TABLE legacy (id uuid PRIMARY KEY, balance bigint, events bigint, notes bigint)"
                let! r = env.Store.CheckAggregate(accountsIn "legacy" KeyType.Uuid)
                expectProblem [ "last_event_id"; "ALTER TABLE" ] r
            })
        }

        testTask "CheckAggregate names a key of the wrong type" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! r = env.Store.CheckAggregate(accountsIn "accounts" KeyType.Int)
                expectProblem [ "accounts.id"; "uuid"; "bigint" ] r
            })
        }

        testTask "CheckAggregate names a column ToRow writes that the table lacks" {
            do! PgEnv.using runtime tables (fun env -> task {
                let def = { accounts with ToRow = fun s -> Row.ofSeq [ "balance", box s.Balance; "colour", box "red" ] }
                let! r = env.Store.CheckAggregate def
                expectProblem [ "colour"; "ToRow" ] r
            })
        }

        testTask "CheckAggregate lists every problem of a table at once" {
            do! PgEnv.using runtime tables (fun env -> task {
                do! env.Exec "CREATE TABLE odd (id integer, balance bigint)"
                let! r = env.Store.CheckAggregate(accountsIn "odd" KeyType.Int)
                let ps = problemsOf r
                for fragment in [ "primary key"; "integer"; "last_event_id"; "events" ] do
                    Expect.isTrue (ps |> List.exists (fun p -> p.Contains fragment)) (sprintf "%s is named in %A" fragment ps)
            })
        }
    ]
