// The router: event CLR type → ordered handlers. Routers merge (handlers of one type concatenate in order);
// duplicates are collected as problems and reported by `validate`, never silently replaced.
namespace Fable.FSharp

open System
open System.Threading.Tasks

/// An event type's handlers in registration order, plus the problems found while building.
/// Opaque to F# users: build it with `Decider.routes` and `Router.merge`.
type Router =
    internal
        { Routes: Map<string, Type * Handler list>
          Problems: FableError list }

/// Builds, merges and queries routers.
module Router =
    // Route keys by type, computed once per type (the assembly-qualified name is built anew on each access).
    let private keys = Collections.Concurrent.ConcurrentDictionary<Type, string>()

    let private keyOf (t: Type) =
        match keys.TryGetValue t with
        | true, k -> k
        | _ -> keys.GetOrAdd(t, t.AssemblyQualifiedName)

    /// A router with no routes.
    let empty = { Routes = Map.empty; Problems = [] }

    /// Declares a route for `eventType` with `handlers` (an empty list declares "no extra work").
    /// Handlers already routed for the type keep their place; a handler name seen twice is a DuplicateRoute.
    let internal routeType (eventType: Type) (handlers: Handler list) (r: Router) =
        let key = keyOf eventType
        let existing =
            match Map.tryFind key r.Routes with
            | Some(_, hs) -> hs
            | None -> []
        let seen = Collections.Generic.HashSet<string>(existing |> List.map (fun h -> h.Name), StringComparer.Ordinal)
        let dups =
            [ for h in handlers do
                  if not (seen.Add h.Name) then
                      yield DuplicateRoute(eventType.Name, h.Name) ]
        let blank =
            [ for h in handlers do
                  if String.IsNullOrWhiteSpace h.Name then
                      yield InvalidDefinition [ sprintf "a handler for %s has a blank name" eventType.Name ] ]
        { Routes = Map.add key (eventType, existing @ handlers) r.Routes
          Problems = r.Problems @ dups @ blank }

    /// Declares a route for `'E`.
    let internal route<'E> handlers r = routeType typeof<'E> handlers r

    /// A handler named `name` for events of type `'E`.
    let internal handler<'E> (name: string) (run: HandlerArgs -> 'E -> Task<Result<unit, FableError>>) : Handler =
        { Name = name; Run = fun args -> run args (args.Event :?> 'E) }

    /// Merges routers: routes of one type concatenate left then right; problems are kept; duplicates reported.
    let merge (a: Router) (b: Router) =
        b.Routes
        |> Map.fold (fun acc _ (t, hs) -> routeType t hs acc) { a with Problems = a.Problems @ b.Problems }

    /// Merges many routers in order.
    let mergeAll (routers: Router seq) = Seq.fold merge empty routers

    /// The handlers of `evt`'s type, or ValueNone when the type has no route.
    let internal tryHandlers (evt: obj) (r: Router) =
        match Map.tryFind (keyOf (evt.GetType())) r.Routes with
        | Some(_, hs) -> ValueSome hs
        | None -> ValueNone

    /// The handlers of an event's type in order; NoRoute (with the stable name when known) if none is declared.
    let internal handlersFor (nameOf: Type -> string) (evt: obj) (r: Router) =
        match tryHandlers evt r with
        | ValueSome hs -> Ok hs
        | ValueNone -> Error(NoRoute(nameOf (evt.GetType())))

    /// Every problem found while building (duplicates, blank names); empty when the router is valid.
    let validate (r: Router) = r.Problems

    /// The CLR event types that have a route.
    let routedTypes (r: Router) = r.Routes |> Map.toList |> List.map (fun (_, (t, _)) -> t)
