// A validated configuration shared by interpreters: the codec, the router, the process managers and the declared tables.
// Building it reports every registration problem at once.
namespace Fable.FSharp

open System

/// What an application registers with Fable.
type Definition =
    { Events: EventRegistry
      Router: Router
      ProcessManagers: ProcessManagerDef list
      /// The tables handlers and decisions touch through the table API, and the aggregate tables.
      Tables: TableDecl list }

/// A validated definition, ready for an interpreter.
type Runtime =
    { Codec: IEventCodec
      Router: Router
      /// The process managers to run, a partitioned declaration expanded into its partitions (`ProcessManager.expand`).
      ProcessManagers: ProcessManagerDef list
      /// The declared tables, by name.
      Tables: TableSchemas }

    /// The stable name of an event's CLR type, or its CLR name when unregistered.
    member this.NameOf(t: Type) =
        match this.Codec.TryNameOf t with
        | Some n -> n
        | None -> t.FullName

/// Builds definitions and runtimes.
module Runtime =
    /// An empty definition.
    let empty = { Events = EventRegistry.empty; Router = Router.empty; ProcessManagers = []; Tables = [] }

    /// Validates a definition: every routed type must be registered, no duplicates, valid process managers and tables.
    /// All problems are reported together in one InvalidDefinition (duplicate routes are listed by message).
    let build (d: Definition) : Result<Runtime, FableError> =
        let eventProblems = EventRegistry.validate d.Events
        let registered = Collections.Generic.HashSet<Type>(d.Events.Types |> List.map (fun t -> t.ClrType))
        let unregistered =
            [ for (t: Type) in Router.routedTypes d.Router do
                  if not (registered.Contains t) then
                      yield sprintf "event type %s is routed but not registered" t.FullName ]
        let routeProblems = Router.validate d.Router |> List.map (fun e -> e.Message)
        let pmProblems = ProcessManager.validateAll d.ProcessManagers
        let tables = if isNull (box d.Tables) then [] else d.Tables
        let tableProblems = TableDecl.validate tables
        match eventProblems @ unregistered @ routeProblems @ pmProblems @ tableProblems with
        | [] ->
            EventRegistry.codec d.Events
            |> Result.map (fun codec ->
                { Codec = codec; Router = d.Router; ProcessManagers = ProcessManager.expand d.ProcessManagers; Tables = TableSchemas tables })
        | [ _ ] when List.length (Router.validate d.Router) = 1 && eventProblems.IsEmpty && unregistered.IsEmpty && pmProblems.IsEmpty && tableProblems.IsEmpty ->
            Error(List.head (Router.validate d.Router))
        | problems -> Error(InvalidDefinition problems)

    /// `rt` with the tables `decls` declared besides its own (a declaration of the same name is replaced);
    /// InvalidDefinition listing every problem of the result.
    let declare (decls: TableDecl list) (rt: Runtime) : Result<Runtime, FableError> =
        let names = set [ for d in decls do if not (isNull (box d)) then yield d.Name ]
        let all = [ for d in rt.Tables.Decls do if not (names.Contains d.Name) then yield d ] @ decls
        match TableDecl.validate all with
        | [] -> Ok { rt with Tables = TableSchemas all }
        | ps -> Error(InvalidDefinition ps)
