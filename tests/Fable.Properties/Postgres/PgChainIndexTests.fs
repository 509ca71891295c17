// The events table's indexes: one unique chain index (aggregate_table, aggregate_key, prev_event_id) forbids forks and
// serves an aggregate's log; a schema migrated before it gets it and keeps its events; a fork still fails whole.
module Fable.Tests.PgChainIndexTests

open System
open Expecto
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.PgDomain

let private indexesOf (env: PgEnv.Env) (schema: string) =
    task {
        let! v =
            env.Scalar(
                sprintf "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = '%s' AND tablename = 'events'"
                    schema)
        return string v
    }

/// Records a first event and one after it for `key` by hand, as a schema's own SQL would.
let private insertChain (env: PgEnv.Env) (schema: string) (key: string) =
    env.Exec(
        sprintf
            """INSERT INTO %s.events (prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, data, tx)
               VALUES (NULL, 'accounts', '%s', 'text', 'deposited', 1, '{"Amount":1}', 1);
               INSERT INTO %s.events (prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, data, tx)
               SELECT id, 'accounts', '%s', 'text', 'deposited', 1, '{"Amount":2}', 1 FROM %s.events WHERE aggregate_key = '%s'"""
            (PgEnv.q schema) key (PgEnv.q schema) key (PgEnv.q schema) key)

let private expectUniqueViolation (constraintName: string) (work: Threading.Tasks.Task) =
    task {
        try
            do! work
            failtest "the fork was stored"
        with e ->
            match e.GetBaseException() with
            | :? PostgresException as p ->
                Expect.equal p.SqlState "23505" "a unique violation"
                Expect.equal p.ConstraintName constraintName "the chain index refuses it"
            | other -> failtestf "expected a unique violation, got %O" other
    }

let tests =
    testList "chain index" [
        testTask "the events table keeps four indexes: primary key, first event, follower order and the chain" {
            do! PgEnv.using runtime tables (fun env -> task {
                let! names = indexesOf env env.FableSchema
                Expect.equal names "events_chain,events_first_event,events_follow,events_pkey" "one index per guarantee or read path"
            })
        }

        testTask "a schema at version 2 migrates to the chain index, keeps its events and still refuses a fork" {
            do! PgEnv.using runtime tables (fun env -> task {
                let schema = "fable_" + Guid.NewGuid().ToString "N"
                try
                    let! v2 = Migrations.run env.DataSource schema (List.take 2 Migrations.all) Threading.CancellationToken.None
                    Expect.equal (ok "migrate to 2" v2) 2 "the schema is at version 2"
                    do! insertChain env schema "a"
                    let! store = PostgresStore.Create(env.DataSource, runtime, { Schema = schema; Notify = false })
                    ok "migrate to the last version" store |> ignore
                    let! names = indexesOf env schema
                    Expect.equal names "events_chain,events_first_event,events_follow,events_pkey" "the old no-fork and log indexes are replaced"
                    let! count = env.Scalar(sprintf "SELECT count(*) FROM %s.events" (PgEnv.q schema))
                    Expect.equal (Convert.ToInt64 count) 2L "the events survive"
                    do! expectUniqueViolation "events_chain"
                            (env.Exec(
                                sprintf
                                    """INSERT INTO %s.events (prev_event_id, aggregate_table, aggregate_key, key_kind, type_name, type_version, data, tx)
                                       SELECT id, 'accounts', 'a', 'text', 'deposited', 1, '{"Amount":3}', 1 FROM %s.events WHERE prev_event_id IS NULL"""
                                    (PgEnv.q schema) (PgEnv.q schema)))
                finally
                    env.Exec(sprintf "DROP SCHEMA IF EXISTS %s CASCADE" (PgEnv.q schema)).Wait()
            })
        }

        testTask "an emit on a row set back to an earlier event is a conflict that is not retryable and records nothing" {
            do! PgEnv.using runtime tables (fun env -> task {
                let key = Guid.NewGuid()
                for amount in [ 1L; 2L ] do
                    let! r = emit env.Interpreter accounts (AggregateKey.Uuid key) Expected.Any (deposit [ amount ])
                    ok "emit" r |> ignore
                let! before = env.EventIds()
                do! env.Exec(sprintf "UPDATE %s.accounts SET last_event_id = %d WHERE id = '%O'" (PgEnv.q env.AppSchema) before.Head key)
                let! r = emit env.Interpreter accounts (AggregateKey.Uuid key) Expected.Any (deposit [ 3L ])
                match r with
                | Error(Conflict(_, _, _, false, m)) -> Expect.stringContains m "events_chain" "the message names the index that refused the fork"
                | other -> failtestf "expected a conflict that is not retryable, got %A" other
                let! after = env.EventIds()
                Expect.equal after before "nothing is recorded"
            })
        }
    ]
