module Program
open Expecto
[<EntryPoint>]
let main argv =
    // A process-manager runner relaunched by the multi-process tests (runs until killed).
    if argv.Length > 0 && argv[0] = Fable.Tests.ProcessManagerProcessTests.ChildFlag then
        Fable.Tests.ProcessManagerProcessTests.runChild argv[1..]
    else
        try runTestsInAssemblyWithCLIArgs [] argv
        finally Fable.Tests.PgServer.stop ()
