// Every Postgres process-manager test as one list, run against the test server (see PgServer).
module Fable.Tests.ProcessManagerTests

open Expecto

/// All Postgres process-manager tests.
[<Tests>]
let all =
    testList "postgres process managers" [
        ProcessManagerPolicyTests.tests
        ProcessManagerControlTests.tests
        ProcessManagerProcessTests.tests
        ProcessManagerScheduleTests.tests
        PartitionTests.tests
    ]
