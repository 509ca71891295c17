// Every Postgres-specific test as one list (run against the test server; see PgServer), plus a smoke test
// of the Postgres fixture the parametrised suite uses.
module Fable.Tests.PostgresTests

open System
open System.Threading
open Expecto
open Fable.FSharp
open Fable.Tests.PgDomain

let private fixtureSmoke =
    testTask "the postgres fixture creates the tables and reads committed rows" {
        let create = PgFixture.postgres.Create
        let! (instance: Fixture.Instance) = create runtime tables
        try
            let key = AggregateKey.Uuid(Guid.NewGuid())
            let! r = emit instance.Interpreter accounts key Expected.Any (always [ box { Amount = 4L }; box { Note = "n" } ])
            ok "emit" r |> ignore
            let! (rows: Row list) = instance.ReadTable "accounts"
            Expect.equal [ for r in rows -> r["id"], r["balance"] ] [ key.Value, box 4L ] "the committed aggregate row"
            let! (notes: Row list) = instance.ReadTable "notes"
            Expect.equal notes.Length 1 "the handler's row"
            let! caught = instance.ProcessManagers.CatchUp CancellationToken.None
            ok "catch up without process managers" caught
        finally
            instance.Dispose().Wait()
    }

/// All Postgres tests.
[<Tests>]
let all =
    testList "postgres" [
        PgSchemaTests.tests
        PgChainIndexTests.tests
        PgEmitTests.tests
        PgFailureTests.tests
        PgCommitTests.tests
        PgConcurrencyTests.tests
        PgFollowerTests.tests
        PgRoundTripTests.tests
        PgFirstEmitTests.tests
        PgWakeTests.tests
        PgKeptConnectionTests.tests
        PgIdTests.tests
        PgJsonbTests.tests
        fixtureSmoke
    ]
