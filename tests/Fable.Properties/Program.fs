module Program
open Expecto
[<EntryPoint>]
let main argv =
    try runTestsInAssemblyWithCLIArgs [] argv
    finally Fable.Tests.PgServer.stop ()
