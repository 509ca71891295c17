// The interpreter fixture every property is parametrised by: the same suite runs on InMemory and Postgres.
module Fable.Tests.Fixture

open System.Threading.Tasks
open Fable

/// A table the test domain needs, described portably (Postgres fixtures create it; in-memory ignores it).
type TableSpec =
    { Name: string
      KeyKind: KeyKind
      /// Columns besides `id` (and `last_event_id` when `IsAggregate`), as (name, SQL type).
      Columns: (string * string) list
      IsAggregate: bool }

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
      Create: Runtime -> TableSpec list -> Task<Instance> }
