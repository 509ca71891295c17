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
      Dispose: unit -> Task }

/// Creates isolated instances of one interpreter.
type Fixture =
    { Name: string
      Create: Runtime -> TableSpec list -> Task<Instance> }
