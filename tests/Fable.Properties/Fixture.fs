// The interpreter fixture every property is parametrised by: the same suite runs on InMemory and Postgres.
module Fable.Tests.Fixture

open System.Threading.Tasks
open Fable.FSharp

/// A table the test domain needs: Core's declaration. Fixtures declare it in the runtime (both interpreters enforce
/// it) and the Postgres fixture creates it from the same declaration.
type TableSpec = TableDecl

/// PostgreSQL-only DDL the Postgres fixture runs after creating a table of that name (a foreign key, a CHECK):
/// constraints beyond a declaration are PostgreSQL's alone, so tests that need one add it here.
let postgresOnlyDdl = System.Collections.Concurrent.ConcurrentDictionary<string, string list>()

/// One isolated interpreter instance (own schema/database on Postgres).
type Instance =
    { Interpreter: IInterpreter
      ProcessManagers: IProcessManagerHost
      /// Every committed row of a table, ordered by id, read outside any unit of work.
      ReadTable: string -> Task<Row list>
      /// Returns once every event committed before the call is visible to `ReadAll` and `Head` (Postgres only
      /// shows events below the oldest open transaction; in memory they are visible at commit). Never call it
      /// inside a unit of work of this instance: it would wait for that unit of work to end.
      Settle: unit -> Task
      Dispose: unit -> Task }

/// Creates isolated instances of one interpreter.
type Fixture =
    { Name: string
      /// The number of cases a property runs on this interpreter, given its case count in memory (a real
      /// server is slower per case; it still runs tens of cases on real threads).
      Cases: int -> int
      /// An instance for the runtime with these tables declared (besides the runtime's own).
      Create: Runtime -> TableSpec list -> Task<Instance> }

/// `rt` with `tables` declared (fails the test when the declarations are invalid).
let declare (tables: TableSpec list) (rt: Runtime) =
    match Runtime.declare tables rt with
    | Ok rt -> rt
    | Error e -> failwithf "the test tables are invalid: %O" e
