// The typed F# API: event unions (stable names, never the CLR name by accident), deciders with the caller's own
// error type, reactions and followers over the union on every interpreter, and no `obj` in the signatures F# users write against.
module Fable.Tests.Typed

open System
open System.Reflection
open System.Text.Json.Nodes
open System.Threading
open System.Threading.Tasks
open Expecto
open Microsoft.FSharp.Reflection
open Fable.FSharp
open Fable.Tests.Domain
open Fable.Tests.Fixture

type Named = { N: int }
type Other = { O: int }
type Renamed = { Label: string }

type Unnamed =
    | [<Event("typed.named")>] Named of Named
    | Nameless of Other

type TwoFields =
    | [<Event("typed.two")>] Two of Named * Other

type SameRecord =
    | [<Event("typed.a")>] A of Named
    | [<Event("typed.b")>] B of Named

type Versioned = | [<Event("typed.renamed", 2)>] Renamed of Renamed

/// A refusal of the caller's own type.
type AccountRefusal =
    | NotOpen
    | Insufficient of balance: int64

let private problems (r: Result<EventRegistry, FableError>) =
    match r with
    | Error(InvalidDefinition ps) -> ps
    | other -> failwithf "expected InvalidDefinition, got %A" other

// ---- no obj in the public signatures F# users write against ----

/// Every place a type's public surface mentions System.Object (fields, properties, method signatures, union case
/// fields), looking inside generic arguments (functions, lists, tasks, results). A `Row` (column name → value) is
/// the one place values are untyped: its columns have the types of the table, not of an event.
let objectsIn (t: Type) : string list =
    let rec parts (x: Type) : Type list =
        if x.IsGenericParameter || x = typeof<Row> then []
        else x :: (if x.HasElementType then parts (x.GetElementType()) else []) @ (if x.IsGenericType then x.GetGenericArguments() |> Array.toList |> List.collect parts else [])
    let flags = BindingFlags.Public ||| BindingFlags.Instance ||| BindingFlags.Static ||| BindingFlags.DeclaredOnly
    let mentions =
        [ for p in t.GetProperties flags do yield sprintf "%s.%s" t.Name p.Name, p.PropertyType
          for f in t.GetFields flags do yield sprintf "%s.%s" t.Name f.Name, f.FieldType
          for m in t.GetMethods flags do
              // Equality, comparison and printing come from the compiler, not from the API.
              if not (m.IsSpecialName || m.Name = "Equals" || m.Name = "CompareTo" || m.Name = "GetHashCode" || m.Name = "ToString") then
                  yield sprintf "%s.%s return" t.Name m.Name, m.ReturnType
                  for p in m.GetParameters() do yield sprintf "%s.%s(%s)" t.Name m.Name p.Name, p.ParameterType
          for c in t.GetConstructors() do
              for p in c.GetParameters() do yield sprintf "%s..ctor(%s)" t.Name p.Name, p.ParameterType
          // A union with internal cases (an opaque one) shows no case fields.
          let publicCases = FSharpType.IsUnion(t, true) && (try FSharpType.GetUnionCases t |> ignore; true with :? ArgumentException -> false)
          if publicCases then
              for c in FSharpType.GetUnionCases t do
                  for f in c.GetFields() do yield sprintf "%s.%s.%s" t.Name c.Name f.Name, f.PropertyType ]
    [ for where, ty in mentions do
          if parts ty |> List.exists (fun p -> p = typeof<obj>) then yield sprintf "%s: %O" where ty ]

/// The public types of the typed API (and the modules that build them).
let typedApi =
    let core = typeof<AggregateId>.Assembly
    [ typedefof<Decider<_, _, _>>; typedefof<Decision<_, _, _>>; typedefof<EmitError<_>>; typedefof<EventContext<_, _>>
      typedefof<Reaction<_, _, _>>; typedefof<Follower<_, _>>; typedefof<Followed<_>>; typedefof<EventUnion<_>>; typeof<EventAttribute>
      yield! core.GetExportedTypes() |> Array.filter (fun t -> t.IsAbstract && t.IsSealed && List.contains (t.Name.Replace("Module", "")) [ "Decider"; "Reaction"; "Follower"; "EventUnion" ]) ]

/// Every public mention of obj in the whole F# package (every exported type, not only the typed API), as
/// "Type.Member: signature" by type full name. A union's case classes repeat the union's case fields: skipped.
let objectsInCore () : (string * string) list =
    typeof<AggregateId>.Assembly.GetExportedTypes()
    |> Array.toList
    |> List.filter (fun t -> isNull t.DeclaringType || not (FSharpType.IsUnion(t.DeclaringType, true)))
    |> List.collect (fun t -> objectsIn t |> List.map (fun m -> t.FullName, m))

/// The public mentions of obj the F# package keeps on purpose (member → why). Anything else is a finding; an entry
/// that no longer matches a mention fails too, so the list stays exact.
let allowedObj: (string * string) list =
    [ "ITables.Get", "a table id is a column value (uuid, bigint, text...), untyped as a Row's values are"
      "ITables.Find", "the value compared with a column: a column value, untyped as a Row's values are"
      "ITables.Delete", "a table id is a column value, untyped as a Row's values are"
      "FableError.Rejected", "the error union is shared with the C# face, whose decisions reject with any reason object; a typed decision's refusal comes back as EmitError.Refused 'Err"
      "FableError.NewRejected", "the constructor of that case (same reason)"
      "IEventCodec.Encode", "the codec serializes any registered record: every union's case records and the C# face's event classes; typed code decodes through EventUnion and Decider.log"
      "IEventCodec.Decode", "the codec's decoded record (same reason)"
      "FableErrorModule.reject", "builds FableError.Rejected (same reason as that case)"
      "RowModule.ofSeq", "builds a Row from column values"
      "RowModule.tryGet", "reads a Row's column value"
      "AggregateKeyModule.tryOfObj", "a key from an id column's value (as a Row holds it)" ]

/// `prefix` names the member of `mention` (the whole member, not a longer name starting alike).
let private covers (prefix: string) (mention: string) =
    mention.StartsWith prefix && (mention.Length = prefix.Length || ":( .".Contains mention[prefix.Length])

let private allowedMention (m: string) = allowedObj |> List.exists (fun (prefix, _) -> covers prefix m)

let reflection =
    testList "typed API signatures"
        [ test "no public signature of the F# package mentions obj, the listed exceptions aside" {
              let found = objectsInCore ()
              let unexpected = found |> List.filter (fun (_, m) -> not (allowedMention m))
              if not unexpected.IsEmpty then
                  failtestf "obj in %d public signatures of Fable.Core.FSharp: %s" unexpected.Length (unexpected |> List.map snd |> String.concat "; ")
              let stale = allowedObj |> List.filter (fun (prefix, _) -> not (found |> List.exists (fun (_, m) -> covers prefix m)))
              Expect.isEmpty stale "every listed exception is still a public mention (remove the stale ones)" }
          test "no public signature of the typed API mentions obj" {
              Expect.equal (typedApi |> List.filter (fun t -> t.IsAbstract && t.IsSealed) |> List.length) 4 "the four modules are checked"
              let found = typedApi |> List.collect objectsIn
              if not found.IsEmpty then failtestf "obj in the typed API: %s" (String.concat "; " found) }
          test "the detector finds obj where it is (the internal fields of the untyped path, the table API)" {
              let internals = BindingFlags.NonPublic ||| BindingFlags.Instance
              Expect.isTrue (typeof<HandlerArgs>.GetProperties internals |> Array.exists (fun p -> p.PropertyType = typeof<obj>)) "HandlerArgs.Event is obj (internally)"
              Expect.isNonEmpty (objectsIn typeof<ITables>) "ITables.Get takes an obj id" }
          test "the untyped path is internal or opaque (public name, internal fields and cases)" {
              let opaque = [ typedefof<AggregateDef<_>>; typedefof<Decide<_>>; typeof<Handler>; typeof<HandlerArgs>; typeof<Router>; typeof<ProcessManagerDef>; typeof<Incoming> ]
              for t in opaque do
                  Expect.isEmpty (objectsIn t) (sprintf "%s shows nothing untyped" t.Name)
              for t in opaque |> List.filter (fun t -> FSharpType.IsRecord(t, true)) do
                  Expect.isEmpty (t.GetProperties(BindingFlags.Public ||| BindingFlags.Instance)) (sprintf "%s has no public fields" t.Name)
              let store = typeof<AggregateId>.Assembly.GetTypes() |> Array.filter (fun t -> t.FullName = "Fable.FSharp.Store" || t.FullName = "Fable.FSharp.StoreModule")
              Expect.isNonEmpty store "the Store module exists"
              for t in store do Expect.isFalse t.IsPublic "the untyped Store module is internal" } ]

// ---- registration ----

let registration =
    testList "event unions"
        [ test "a case without a stable name is an InvalidDefinition naming it, never its CLR name" {
              let ps = problems (EventUnion.register (EventUnion.create<Unnamed> ()) EventRegistry.empty)
              Expect.exists ps (fun p -> p.Contains "Nameless" && p.Contains "no stable name") "the unnamed case is named" }
          test "an explicit name registers the case under it" {
              let u = EventUnion.create<Unnamed> () |> EventUnion.name "Nameless" "typed.nameless" 1
              match EventUnion.register u EventRegistry.empty |> Result.bind EventRegistry.codec with
              | Ok codec -> Expect.equal (codec.TryNameOf typeof<Other>) (Some "typed.nameless") "stored under its explicit name"
              | Error e -> failtestf "refused: %O" e }
          test "a case carrying two fields, two cases of one record and an unknown case name are InvalidDefinitions" {
              Expect.exists (problems (EventUnion.register (EventUnion.create<TwoFields> ()) EventRegistry.empty)) (fun p -> p.Contains "2 fields") "two fields"
              Expect.exists (problems (EventUnion.register (EventUnion.create<SameRecord> ()) EventRegistry.empty)) (fun p -> p.Contains "same type") "one record twice"
              let u = EventUnion.create<Versioned> () |> EventUnion.name "Missing" "x" 1
              Expect.exists (problems (EventUnion.register u EventRegistry.empty)) (fun p -> p.Contains "no case Missing") "unknown case" }
          test "a key type other than Guid, int64 or string is an InvalidDefinition at registration and on emit" {
              let d: Decider<int, Versioned, DateTime> =
                  Decider.create "bad" (EventUnion.create<Versioned> ()) (fun _ -> 0) (fun s _ -> s) (fun _ -> Row.ofSeq []) (fun _ -> 0)
              Expect.exists (problems (Decider.register d EventRegistry.empty)) (fun p -> p.Contains "Guid, int64 or string") "key type" }
          test "an upcaster per case reads an older version into the current record" {
              let u =
                  EventUnion.create<Versioned> ()
                  |> EventUnion.upcaster "Renamed" 1 (fun n -> JsonObject(dict [ "label", JsonValue.Create(string n["name"]) :> JsonNode ]) :> JsonNode)
              match EventUnion.register u EventRegistry.empty |> Result.bind EventRegistry.codec with
              | Ok codec ->
                  Expect.equal (codec.Decode("typed.renamed", 1, """{"name":"old"}""")) (Ok(box { Label = "old" })) "upcast v1"
                  Expect.equal (codec.Encode(box { Label = "new" }) |> Result.map (fun e -> e.TypeName, e.TypeVersion, e.Data)) (Ok("typed.renamed", 2, """{"label":"new"}""")) "stored as the record alone"
              | Error e -> failtestf "refused: %O" e } ]

// ---- typed decisions, reactions and followers on an interpreter ----

let private deposit amount : Decision<Account, AccountEvent, AccountRefusal> =
    Decide(fun s -> if s.EventCount = 0L then Error NotOpen else Ok [ Deposited { Amount = amount; BalanceBefore = s.Balance } ])

let private withdraw amount : Decision<Account, AccountEvent, AccountRefusal> =
    DecideReading(fun _ s _ ->
        Task.FromResult(if amount > s.Balance then Error(Insufficient s.Balance) else Ok [ Withdrawn { Taken = amount; BalanceBefore = s.Balance } ]))

/// What the counting follower saw.
type Seen = { Mine: int; Others: int }

/// Counts the account events it sees, and the others (counter events) as Other.
let private counting: Follower<Seen, AccountEvent> =
    Follower.create "typed-counting" { Mine = 0; Others = 0 } (fun s _ e ->
        match e with
        | Followed.Event(Opened _ | Deposited _ | Withdrawn _ | Noted _ | Closed _) -> Ok { s with Mine = s.Mine + 1 }
        | Followed.Other -> Ok { s with Others = s.Others + 1 })

let tests (fixture: Fixture) =
    [ testTask "a union aggregate emits, refuses with the caller's own error, logs, replays and reacts on this interpreter" {
          let rt = runtimeWith [ Follower.definition accountEvents counting ]
          let! inst = fixture.Create rt Domain.tables
          try
              let i = inst.Interpreter
              let ct = CancellationToken.None
              let id = Guid.NewGuid()
              let! refused = Decider.emit i accountsDecider id (deposit 5L) ct
              Expect.equal (refused |> Result.map ignore) (Error(EmitError.Refused NotOpen)) "the caller's refusal comes back typed"
              let! opened = Decider.append i accountsDecider id [ Opened { Owner = "ada" } ] ct
              Expect.isOk opened "opened"
              let! deposited = Decider.emit i accountsDecider id (deposit 100L) ct
              match deposited with
              | Ok(e: Emitted<Account>) -> Expect.equal e.Aggregate.State.Balance 100L "evolved through the union"
              | Error e -> failtestf "deposit failed: %A" e
              let! tooMuch = Decider.emit i accountsDecider id (withdraw 500L) ct
              Expect.equal (tooMuch |> Result.map ignore) (Error(EmitError.Refused(Insufficient 100L))) "a reading decision's refusal comes back typed"
              let! _ = Decider.append i countersDecider "c1" [ Incremented { Seen = 0L } ] ct
              let! log = Decider.log i accountsDecider id ct
              match log with
              | Ok events ->
                  Expect.equal (events |> List.map snd) [ Opened { Owner = "ada" }; Deposited { Amount = 100L; BalanceBefore = 0L } ] "the log decodes into the union"
                  Expect.equal (events |> List.map (fun (r, _) -> r.TypeName)) [ "account.opened"; "account.deposited" ] "stored under the stable names"
              | Error e -> failtestf "log failed: %O" e
              let! ledger = inst.ReadTable ledgerTable
              Expect.equal (ledger |> List.map (fun (r: Row) -> Convert.ToInt64 r["amount"])) [ 100L ] "the ledger reaction wrote its row for the deposit only"
              let! replayed = Decider.replay i accountsDecider id ct
              Expect.equal (replayed |> Result.map (fun a -> a.State.Balance)) (Ok 100L) "replay through the union"
              let! loaded = Decider.load i accountsDecider id ct
              Expect.equal (loaded |> Result.map (Option.map (fun a -> a.State.Owner))) (Ok(Some "ada")) "load"
              do! inst.Settle()
              let! caught = inst.ProcessManagers.CatchUp ct
              Expect.isOk caught "caught up"
              let! status = inst.ProcessManagers.Status("typed-counting", ct)
              match status with
              | Ok(s: ProcessManagerInfo) -> Expect.equal (counting.Load s.State) { Mine = 2; Others = 1 } "two account events as the union, the counter event as Other"
              | Error e -> failtestf "status failed: %O" e
          finally
              inst.Dispose().Wait()
      }
      testTask "a typed decision records its metadata, and invalid metadata fails the emit with nothing recorded" {
          let! inst = fixture.Create (runtimeWith []) Domain.tables
          try
              let i = inst.Interpreter
              let ct = CancellationToken.None
              let id = Guid.NewGuid()
              let! _ = Decider.append i accountsDecider id [ Opened { Owner = "ada" } ] ct
              let tagged = deposit 7L |> Decision.withMeta (EventMeta.Of {| by = "ada"; correlation = "c-1" |})
              let! ok = Decider.emit i accountsDecider id (Decision.withMeta (EventMeta.Json "{\"by\": \"outer\"}") tagged) ct
              Expect.isOk (ok |> Result.map ignore) "emitted with metadata"
              let! reading = Decider.emit i accountsDecider id (withdraw 2L |> Decision.withMeta (EventMeta.Json "{\"z\": 1,  \"a\": 2}")) ct
              Expect.isOk (reading |> Result.map ignore) "a reading decision with metadata"
              let! bad = Decider.emit i accountsDecider id (deposit 1L |> Decision.withMeta (EventMeta.Json "[1, 2]")) ct
              match bad with
              | Error(EmitError.Failed(UndecodablePayload(name, _, why))) ->
                  Expect.equal name "account.deposited" "names the event"
                  Expect.stringContains why "not a JSON object" "says why"
              | other -> failtestf "expected UndecodablePayload for metadata that is not an object, got %A" other
              let! lone = Decider.emit i accountsDecider id (deposit 1L |> Decision.withMeta (EventMeta.Of {| by = "a" + string (char 0xD800) |})) ct
              Expect.isError (lone |> Result.map ignore) "a lone surrogate in metadata fails the emit"
              match! Decider.log i accountsDecider id ct with
              | Ok events ->
                  Expect.equal (events |> List.map (fun (r, _) -> r.Meta)) [ "{}"; """{"by": "ada", "correlation": "c-1"}"""; """{"a": 2, "z": 1}""" ] "metadata in jsonb's normal form, the inner one winning; the failed emits recorded nothing"
              | Error e -> failtestf "log failed: %O" e
          finally
              inst.Dispose().Wait()
      } ]
