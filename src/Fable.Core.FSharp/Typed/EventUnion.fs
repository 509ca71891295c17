// An F# union of events as Fable stores it: each case carries one record, stored under the case's stable name and
// version exactly as the record alone would be (the case is not stored), so C# and F# apps share one log.
// The cases are read once, with compiled readers and constructors: no reflection per event.
namespace Fable.FSharp

open System
open System.Collections.Generic
open System.Linq.Expressions
open System.Text.Json.Nodes
open Microsoft.FSharp.Reflection

/// The stable name and version a union case's event is stored under: `| [<Event("trip_started", 1)>] Started of TripStarted`.
[<AttributeUsage(AttributeTargets.Property ||| AttributeTargets.Method ||| AttributeTargets.Class, AllowMultiple = false)>]
[<Sealed>]
type EventAttribute(name: string, version: int) =
    inherit Attribute()
    /// The stable name stored in the log.
    member _.Name = name
    /// The current version (1 or more).
    member _.Version = version
    /// Version 1.
    new(name: string) = EventAttribute(name, 1)

/// One case of an event union: its CLR names, the record it carries and how it is stored.
type internal UnionCase =
    { Case: string
      Tag: int
      Record: Type
      Name: string option
      Version: int
      Upcasters: Map<int, JsonNode -> JsonNode> }

/// The event union `'E` with each case's stable name, version and upcasters. Build with `EventUnion.create`.
[<Sealed>]
type EventUnion<'E> internal (cases: UnionCase list, problems: string list) =
    let union = typeof<'E>
    let arr = List.toArray cases
    let tagOf: Func<'E, int> =
        if problems.IsEmpty then
            let p = Expression.Parameter(union)
            Expression.Lambda<Func<'E, int>>(Expression.Property(p, "Tag"), p).Compile()
        else Func<'E, int>(fun _ -> invalidOp "the event union is invalid")
    let readers: Func<'E, obj>[] =
        if not problems.IsEmpty then [||]
        else
            [| for c in FSharpType.GetUnionCases(union, true) do
                   let field = (c.GetFields()[0])
                   let p = Expression.Parameter(union)
                   let read = Expression.Property(Expression.Convert(p, field.DeclaringType), field)
                   yield Expression.Lambda<Func<'E, obj>>(Expression.Convert(read, typeof<obj>), p).Compile() |]
    let makers = Dictionary<Type, Func<obj, 'E>>()
    do
        if problems.IsEmpty then
            for c in FSharpType.GetUnionCases(union, true) do
                let field = (c.GetFields()[0])
                let ctor = FSharpValue.PreComputeUnionConstructorInfo(c, true)
                let p = Expression.Parameter(typeof<obj>)
                let make = Expression.Call(ctor, Expression.Convert(p, field.PropertyType))
                makers[field.PropertyType] <- Expression.Lambda<Func<obj, 'E>>(make, p).Compile()

    // Computed once: the union is immutable (`EventUnion.name` makes a new one).
    let allProblems =
        problems
        @ [ for c in cases do
                match c.Name with
                | None ->
                    yield sprintf "event union %s: case %s has no stable name: add [<Event(\"name\", version)>] to it or name it with EventUnion.name" union.Name c.Case
                | Some _ -> () ]

    member internal _.Cases = cases
    /// The problems of the union's shape (found by `create`).
    member internal _.Structural = problems
    /// Every problem of the union (reported as InvalidDefinition when it is registered).
    member internal _.Problems = allProblems
    /// The record a union value carries (what is stored).
    member internal _.ToRecord(e: 'E) : obj = readers[tagOf.Invoke e].Invoke e
    /// The union value of a stored record, or None when the record is not one of the union's.
    member internal _.TryOfRecord(o: obj) : 'E voption =
        if isNull o then ValueNone
        else
            match makers.TryGetValue(o.GetType()) with
            | true, make -> ValueSome(make.Invoke o)
            | _ -> ValueNone
    /// The union value of a stored record; an exception naming the union when the record is not one of its cases.
    member internal this.OfRecord(o: obj) : 'E =
        match this.TryOfRecord o with
        | ValueSome e -> e
        | ValueNone -> invalidOp (sprintf "an event of type %s is not a case of the event union %s" (if isNull o then "null" else o.GetType().FullName) union.Name)
    /// The union's record types.
    member internal _.RecordTypes = [ for c in arr -> c.Record ]
    /// The event types to register: one per case.
    member internal this.EventTypes =
        [ for c in cases do
              match c.Name with
              | Some n -> yield { ClrType = c.Record; Name = n; Version = c.Version; Upcasters = c.Upcasters }
              | None -> () ]

/// Builds event unions and registers them.
module EventUnion =
    /// The union `'E` with each case's name and version read from its `[<Event>]` attribute. A case without one must be
    /// named with `name` before it is registered. Every case must carry exactly one field, of a type no other case carries.
    let create<'E> () : EventUnion<'E> =
        let t = typeof<'E>
        if not (FSharpType.IsUnion(t, true)) then
            EventUnion<'E>([], [ sprintf "%s is not an F# union: an event union has one case per event, each carrying its record" t.FullName ])
        else
            let cases =
                [ for c in FSharpType.GetUnionCases(t, true) do
                      let fields = c.GetFields()
                      let attr =
                          c.GetCustomAttributes(typeof<EventAttribute>) |> Array.tryHead |> Option.map (fun a -> a :?> EventAttribute)
                      yield
                          { Case = c.Name
                            Tag = c.Tag
                            Record = (if fields.Length = 1 then fields[0].PropertyType else null)
                            Name = attr |> Option.map (fun a -> a.Name)
                            Version = attr |> Option.map (fun a -> a.Version) |> Option.defaultValue 1
                            Upcasters = Map.empty },
                      fields.Length ]
            let problems =
                [ for (c, n) in cases do
                      if n <> 1 then
                          yield sprintf "event union %s: case %s carries %d fields (it must carry exactly one record)" t.Name c.Case n
                  for (r, cs) in cases |> List.filter (fun (_, n) -> n = 1) |> List.groupBy (fun (c, _) -> c.Record) do
                      if cs.Length > 1 then
                          yield sprintf "event union %s: cases %s carry the same type %s (each case needs its own record)" t.Name (cs |> List.map (fun (c, _) -> c.Case) |> String.concat ", ") r.Name ]
            EventUnion<'E>(List.map fst cases, problems)

    let private update (case: string) (f: UnionCase -> UnionCase) (u: EventUnion<'E>) =
        if u.Cases |> List.exists (fun c -> c.Case = case) then
            EventUnion<'E>(u.Cases |> List.map (fun c -> if c.Case = case then f c else c), u.Structural)
        else
            EventUnion<'E>(u.Cases, u.Structural @ [ sprintf "event union %s has no case %s" typeof<'E>.Name case ])

    /// Stores case `case` as `name` at `version` (replacing its attribute's name and version, if any).
    let name (case: string) (name: string) (version: int) (u: EventUnion<'E>) =
        update case (fun c -> { c with Name = Some name; Version = version }) u

    /// Adds an upcaster to case `case`: it reads payloads of version `fromVersion` and returns version `fromVersion + 1`.
    let upcaster (case: string) (fromVersion: int) (f: JsonNode -> JsonNode) (u: EventUnion<'E>) =
        update case (fun c -> { c with Upcasters = Map.add fromVersion f c.Upcasters }) u

    /// Registers every case's record type under its stable name and version: InvalidDefinition listing every
    /// problem of the union (a case without a stable name, a case not carrying exactly one record, two cases with one record type).
    let register (u: EventUnion<'E>) (r: EventRegistry) : Result<EventRegistry, FableError> =
        match u.Problems with
        | [] -> Ok(List.fold (fun acc t -> EventRegistry.add t acc) r u.EventTypes)
        | ps -> Error(InvalidDefinition ps)
