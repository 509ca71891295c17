// A validated configuration shared by interpreters: the codec, the router and the process managers.
// Building it reports every registration problem at once.
namespace Fable

open System

/// What an application registers with Fable.
type Definition =
    { Events: EventRegistry
      Router: Router
      ProcessManagers: ProcessManagerDef list }

/// A validated definition, ready for an interpreter.
type Runtime =
    { Codec: IEventCodec
      Router: Router
      ProcessManagers: ProcessManagerDef list }

    /// The stable name of an event's CLR type, or its CLR name when unregistered.
    member this.NameOf(t: Type) =
        match this.Codec.TryNameOf t with
        | Some n -> n
        | None -> t.FullName

/// Builds definitions and runtimes.
module Runtime =
    /// An empty definition.
    let empty = { Events = EventRegistry.empty; Router = Router.empty; ProcessManagers = [] }

    /// Validates a definition: every routed type must be registered, no duplicates, valid process managers.
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
        match eventProblems @ unregistered @ routeProblems @ pmProblems with
        | [] ->
            EventRegistry.codec d.Events
            |> Result.map (fun codec -> { Codec = codec; Router = d.Router; ProcessManagers = d.ProcessManagers })
        | [ _ ] when List.length (Router.validate d.Router) = 1 && eventProblems.IsEmpty && unregistered.IsEmpty && pmProblems.IsEmpty ->
            Error(List.head (Router.validate d.Router))
        | problems -> Error(InvalidDefinition problems)
