// Runs the pure-core properties once, the interpreter properties for every fixture and the Postgres-specific
// tests, then prints the closing line `N passed, N failed` (errored tests count as failed; ignored ones are not
// passed). With `--pm-child` it is instead a process-manager runner for the multi-process tests.
module Program

open System
open Expecto
open Expecto.Impl
open Fable.Tests

/// The interpreters under test (add a fixture here to run the whole suite against it, and its agreement with
/// the in-memory interpreter).
let fixtures = [ Fixtures.inMemory; PgFixture.postgres ]

/// The properties every interpreter must satisfy.
let interpreterTests (fixture: Fixture.Fixture) =
    testList fixture.Name
        [ testList "chain and serial" (Concurrency.tests fixture)
          testList "atomicity" (Atomic.tests fixture)
          testList "replay" (Replay.tests fixture)
          testList "units of work" (UnitsOfWork.tests fixture)
          testList "tables" (Tables.tests fixture)
          testList "global log" (GlobalLog.tests fixture)
          testList "metadata" (Metadata.tests fixture)
          testList "process managers" (ProcessManagers.tests fixture @ ProcessManagerControl.tests fixture @ BatchSizes.tests fixture)
          testList "partitions" (Partitions.tests fixture)
          testList "telemetry" (Observability.tests fixture)
          testList "typed" (Typed.tests fixture)
          if fixture.Name <> Fixtures.inMemory.Name then
              testList "agreement" (Agreement.tests Fixtures.inMemory fixture)
              testList "process-manager agreement" (AgreementProcessManagers.tests Fixtures.inMemory fixture)
              testList "table agreement" (AgreementTables.tests Fixtures.inMemory fixture)
              testList "agreement on rows" (AgreementRows.tests Fixtures.inMemory fixture)
              testList "agreement on strings" (AgreementStrings.tests Fixtures.inMemory fixture) ]

let allTests =
    testList "fable" [
        Pure.tests
        BatchSizes.rule
        JsonbTextTests.tests
        Typed.reflection
        Typed.registration
        testList "partitions" [ Partitions.hashVectors ]
        InMemoryOnly.tests
        testList "observability" [ Observability.logTests "in-memory" Observability.inMemoryHost; Observability.silentTests "in-memory" Observability.inMemoryHost ]
        yield! fixtures |> List.map interpreterTests
        PostgresTests.all
        ProcessManagerTests.all
        PgObservabilityTests.tests
    ]

let private runTests (argv: string[]) =
    let mutable counts = None
    let summarise (summary: TestRunSummary) =
        counts <- Some(summary.passed.Length, summary.failed.Length + summary.errored.Length)
    let code = runTestsWithCLIArgs [ CLIArguments.No_Spinner; CLIArguments.Colours 0; CLIArguments.Append_Summary_Handler(SummaryHandler summarise) ] argv allTests
    let passed, failed = defaultArg counts (0, 1)
    // Expecto leaves its colouring writer on Console.Out (it pads lines and may end without a newline after a
    // colour reset): flush it, then write the closing line alone on a line of the raw stream.
    Console.Out.Flush()
    use raw = new IO.StreamWriter(Console.OpenStandardOutput())
    raw.Write(sprintf "\n%d passed, %d failed\n" passed failed)
    raw.Flush()
    if failed > 0 || code <> 0 then 1 else 0

[<EntryPoint>]
let main argv =
    // A process-manager runner relaunched by the multi-process tests (runs until killed or its parent ends).
    if argv.Length > 0 && argv[0] = ProcessManagerProcessTests.ChildFlag then
        ProcessManagerProcessTests.runChild argv[1..]
    elif argv.Length > 0 && argv[0] = PartitionTests.ChildFlag then
        PartitionTests.runChild argv[1..]
    else
        try runTests argv
        finally PgServer.stop ()
