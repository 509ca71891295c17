// Properties of the pure core, independent of interpreters: decider laws, the codec (round trip, upcasting,
// typed errors), router merging and duplicate reporting, Runtime.build reporting every problem at once, and
// which payloads can be stored.
module Fable.Tests.Pure

open System
open System.Text.Json.Nodes
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Domain
open Fable.Tests.Support

let private someEvent =
    Gen.oneof
        [ Gens.text |> Gen.map (fun o -> box { Owner = o })
          Gen.map2 (fun a b -> box { Amount = a; BalanceBefore = b }) Gens.amount Gens.amount
          Gen.map2 (fun a b -> box ({ Taken = a; BalanceBefore = b }: Withdrawn)) Gens.amount Gens.amount
          Gens.text |> Gen.map (fun t -> box { Text = t; Fault = "" })
          Gens.text |> Gen.map (fun r -> box { Reason = r }) ]

let private eventsOf = Gen.listOf someEvent

let deciderLaws =
    testList "decider" [
        property "folding a log split anywhere equals folding it whole" 500 (Gen.zip eventsOf (Gen.choose (0, 100))) (fun (events, at) ->
            let at = min at events.Length
            let s0 = accounts.Initial(AggregateKey.Uuid Guid.Empty)
            let whole = UntypedDecider.fold accounts.Evolve s0 events
            let left, right = List.splitAt at events
            Expect.equal (UntypedDecider.fold accounts.Evolve (UntypedDecider.fold accounts.Evolve s0 left) right) whole "fold is a left fold over the log")
        property "running a decision gives its events and the fold of them" 500 (Gen.zip Gens.history Gens.command) (fun (history, cmd) ->
            let key = AggregateKey.Uuid Guid.Empty
            let s, _ = Commands.model key history
            match Commands.decide cmd s, UntypedDecider.run accounts.Evolve (Commands.decide cmd) s with
            | Ok events, Ok(s', events') ->
                Expect.equal events' events "run returns the decision's events"
                Expect.equal s' (UntypedDecider.fold accounts.Evolve s events) "run returns the folded state"
            | Error a, Error b -> Expect.equal a.Code b.Code "run returns the decision's error"
            | a, b -> failtestf "decide and run disagree: %A / %A" a b)
    ]

/// Version 3 of a renamed event: v1 had `amt`, v2 renamed it to `amount`, v3 added `currency`.
type Payment = { Amount: int64; Currency: string }

let private paymentType =
    EventType.create<Payment> "payment"
    |> EventType.version 3
    |> EventType.upcaster 1 (fun n ->
        let o = n.AsObject()
        let v = o["amt"].DeepClone()
        o.Remove "amt" |> ignore
        o["amount"] <- v
        o :> JsonNode)
    |> EventType.upcaster 2 (fun n ->
        n.AsObject()["currency"] <- JsonValue.Create "EUR"
        n)

let private codecOf registry = EventRegistry.codec registry |> ok "the codec"

let codec =
    let c = codecOf (events |> EventRegistry.add paymentType)
    testList "codec" [
        property "every registered event survives encode then decode" 500 someEvent (fun evt ->
            let enc = c.Encode evt |> ok "Encode"
            Expect.equal (c.Decode(enc.TypeName, enc.TypeVersion, enc.Data) |> ok "Decode") evt "the event round-trips")
        property "older payload versions are upcast to the current version" 300 (Gen.zip Gens.amount (Gen.elements [ 1; 2 ])) (fun (amount, version) ->
            let json =
                if version = 1 then sprintf """{"amt":%d}""" amount
                else sprintf """{"amount":%d}""" amount
            let decoded = c.Decode("payment", version, json) |> ok "Decode"
            Expect.equal decoded (box { Amount = amount; Currency = "EUR" }) (sprintf "a v%d payload reads as v3" version))
        property "unknown names and versions are UnknownEventType" 300 (Gen.zip Gens.text (Gen.choose (-3, 9))) (fun (name, version) ->
            let known = name = "payment" && version >= 1 && version <= 3
            if not known then
                match c.Decode(name, version, "{}") with
                | Error(UnknownEventType(n, v)) -> Expect.equal (n, v) (name, version) "the error names the type"
                | other -> failtestf "expected UnknownEventType, got %A" other)
        property "unreadable payloads are UndecodablePayload" 300 (Gen.elements [ ""; "{"; "null"; "[1,2]"; "\"text\""; """{"amount":"many"}"""; """{"amount":[1]}""" ]) (fun bad ->
            for version in [ 1; 2; 3 ] do
                match c.Decode("payment", version, bad) with
                | Error(UndecodablePayload(n, v, _)) -> Expect.equal (n, v) ("payment", version) "the error names the type"
                | other -> failtestf "v%d %s: expected UndecodablePayload, got %A" version bad other)
        testCase "the codec refuses a lone surrogate in a string, a char or a dictionary key; key policies still apply" <| fun () ->
            let opts = System.Text.Json.JsonSerializerOptions(DictionaryKeyPolicy = System.Text.Json.JsonNamingPolicy.CamelCase)
            let registry = { EventRegistry.empty with Options = opts } |> EventRegistry.add (EventType.create<Collections.Generic.Dictionary<string, char>> "tags")
            let c = codecOf registry
            let tags (pairs: (string * char) list) =
                let d = Collections.Generic.Dictionary<string, char>()
                for k, v in pairs do d[k] <- v
                box d
            Expect.equal (c.Encode(tags [ "FirstTag", 'x' ]) |> ok "Encode").Data "{\"firstTag\":\"x\"}" "the key policy applies"
            for bad in [ tags [ "a" + string (char 0xD800), 'x' ]; tags [ "a", char 0xDC00 ] ] do
                match c.Encode bad with
                | Error(UndecodablePayload(_, _, why)) -> Expect.stringContains why "lone surrogate" "says why"
                | other -> failtestf "expected UndecodablePayload, got %A" other
        testCase "an unregistered event cannot be encoded" <| fun () ->
            match c.Encode(box ({ Value = 1 }: Unregistered)) with
            | Error(UnknownEventType _) -> ()
            | other -> failtestf "expected UnknownEventType, got %A" other
    ]

let private handlerNamed name : Handler = { Name = name; Run = fun _ -> Task.FromResult(Ok()) }

let router =
    testList "router" [
        property "merged routers run a type's handlers in router order" 300 (Gen.listOf (Gen.choose (0, 4))) (fun sizes ->
            let mutable n = 0
            let routers =
                [ for size in sizes ->
                      let names = [ for _ in 1..size -> n <- n + 1; sprintf "h%d" n ]
                      names, Router.empty |> Router.route<Deposited> (names |> List.map handlerNamed) ]
            let merged = Router.mergeAll (routers |> List.map snd)
            Expect.isEmpty (Router.validate merged) "distinct names merge without problems"
            match Router.handlersFor string (box { Amount = 1L; BalanceBefore = 0L }) merged with
            | Ok hs -> Expect.equal (hs |> List.map (fun h -> h.Name)) (routers |> List.collect fst) "handlers concatenate in router order"
            | Error(NoRoute _) -> Expect.isEmpty routers "only no router at all leaves the type unrouted"
            | Error e -> failtestf "unexpected %O" e)
        property "a handler registered twice for one type is reported once per duplicate" 300 (Gen.zip (Gen.choose (1, 5)) (Gen.choose (1, 5))) (fun (k, dups) ->
            let names = [ for i in 1..k -> sprintf "h%d" i ]
            let again = names |> List.truncate dups
            let merged = Router.merge (Router.empty |> Router.route<Deposited> (names |> List.map handlerNamed)) (Router.empty |> Router.route<Deposited> (again |> List.map handlerNamed))
            let reported = Router.validate merged |> List.choose (function DuplicateRoute(_, h) -> Some h | _ -> None)
            Expect.equal reported again "each duplicate handler is reported")
        testCase "an event type without a route is NoRoute" <| fun () ->
            match Router.handlersFor (fun _ -> "unrouted") (box ({ Value = 1 }: Unrouted)) Domain.router with
            | Error(NoRoute "unrouted") -> ()
            | other -> failtestf "expected NoRoute, got %A" other
    ]

type private P1 = { X: int }
type private P2 = { X: int }
type private P3 = { X: int }
type private P4 = { X: int }
type private P5 = { X: int }
type private P6 = { X: int }
type private P7 = { X: int }

/// One kind of registration problem, each producing exactly one reported problem.
type Problem =
    | DuplicateEventName
    | DuplicateClrType
    | BadVersion
    | BadUpcaster
    | BlankEventName
    | RoutedButUnregistered
    | DuplicateHandler
    | BlankHandlerName
    | ZeroBatchSize
    | NegativeRetryInterval
    | ZeroAttempts
    | DuplicateProcessManager

let private allProblems =
    [ DuplicateEventName; DuplicateClrType; BadVersion; BadUpcaster; BlankEventName; RoutedButUnregistered
      DuplicateHandler; BlankHandlerName; ZeroBatchSize; NegativeRetryInterval; ZeroAttempts; DuplicateProcessManager ]

let private pm name = ProcessManager.create name 0 (fun s _ -> Ok s) |> ProcessManager.erase

let private withProblem (d: Definition) (p: Problem) =
    let addEvent t (d: Definition) = { d with Events = EventRegistry.add t d.Events }
    let addRoute f (d: Definition) = { d with Router = f d.Router }
    let addPm x (d: Definition) = { d with ProcessManagers = d.ProcessManagers @ [ x ] }
    match p with
    | DuplicateEventName -> d |> addEvent (EventType.create<P1> "same") |> addEvent (EventType.create<P2> "same")
    | DuplicateClrType -> d |> addEvent (EventType.create<P3> "p3.a") |> addEvent (EventType.create<P3> "p3.b")
    | BadVersion -> d |> addEvent (EventType.create<P4> "p4" |> EventType.version 0)
    | BadUpcaster -> d |> addEvent (EventType.create<P5> "p5" |> EventType.version 2 |> EventType.upcaster 7 id)
    | BlankEventName -> d |> addEvent (EventType.create<P6> " ")
    | RoutedButUnregistered -> d |> addRoute (Router.route<P7> [])
    | DuplicateHandler -> d |> addRoute (Router.route<Opened> [ handlerNamed "twice"; handlerNamed "twice" ])
    | BlankHandlerName -> d |> addRoute (Router.route<Closed> [ handlerNamed "" ])
    | ZeroBatchSize -> d |> addPm { pm "batch" with BatchSize = 0 }
    | NegativeRetryInterval -> d |> addPm { pm "interval" with ErrorPolicy = OnFailure.Retry(TimeSpan.FromSeconds -1.0, None) }
    | ZeroAttempts -> d |> addPm { pm "attempts" with ErrorPolicy = OnFailure.Retry(TimeSpan.Zero, Some 0) }
    | DuplicateProcessManager -> d |> addPm (pm "dup") |> addPm (pm "dup")

let runtimeBuild =
    testList "runtime" [
        property "Runtime.build reports every registration problem at once" 300 (Gen.subListOf allProblems) (fun problems ->
            let d = problems |> List.fold withProblem (definition [])
            match Runtime.build d, problems with
            | Ok _, [] -> ()
            | Error(DuplicateRoute(_, "twice")), [ DuplicateHandler ] -> ()
            | Error(InvalidDefinition reported), _ ->
                Expect.equal reported.Length problems.Length (sprintf "one reported problem per injected one: %A" reported)
            | r, _ -> failtestf "for %A got %A" problems (r |> Result.map ignore))
    ]

/// Rows as a Dictionary built the same way would hold them: column → value, compared as sorted pairs.
let private asPairs (row: Row) = [ for kv in row -> kv.Key, kv.Value ] |> List.sortBy fst

let rows =
    let pairs = Gen.listOf (Gen.zip (Gen.elements [ "id"; "a"; "b"; "B"; "last_event_id" ]) (Gen.choose (0, 9) |> Gen.map box))
    testList "rows" [
        property "a row from pairs holds what a dictionary filled in the same order holds" 500 pairs (fun ps ->
            let row = Row.ofSeq ps
            let d = Collections.Generic.Dictionary<string, obj>(StringComparer.Ordinal)
            for (k, v) in ps do
                d[k] <- v
            Expect.equal (asPairs row) (asPairs d) "same columns and values, each once"
            Expect.equal row.Count d.Count "same count"
            for k in [ "id"; "a"; "b"; "B"; "last_event_id"; "missing" ] do
                Expect.equal (Row.tryGet k row) (match d.TryGetValue k with | true, v -> Some v | _ -> None) (sprintf "lookup of %s (ordinal)" k)
                Expect.equal (row.ContainsKey k) (d.ContainsKey k) (sprintf "contains %s" k))
        testCase "a null column name is refused" (fun () ->
            Expect.throws (fun () -> Row.ofSeq [ null, box 1 ] |> ignore) "a column needs a name")
    ]

/// A JSON object holding `text` as a property name and as a string value (serialized as Fable's codec does).
let private jsonWith (text: string) =
    let s = System.Text.Json.JsonSerializer.Serialize text
    sprintf "{%s: [%s, 1.5e3, true, null, {}]}" s s

let payload =
    testList "payload" [
        property "any JSON value whose strings hold neither NUL nor a lone surrogate can be stored" 500 Gens.text (fun text ->
            Expect.isNone (Payload.problem (jsonWith text)) "a storable payload")

        property "a NUL character escaped in a string or a property name is refused" 300
            (Gen.zip Gens.text (Gen.elements [ "\\u0000"; "\\u0000\\u0000"; "a\\u0000" ])) (fun (text, nul) ->
                let s = System.Text.Json.JsonSerializer.Serialize text
                let inner = s.Substring(1, s.Length - 2)
                let inValue = sprintf "{\"k\": \"%s%s\"}" inner nul
                let inName = sprintf "{\"%s%s\": 1}" nul inner
                for bad in [ inValue; inName ] do
                    Expect.stringContains (defaultArg (Payload.problem bad) "") "NUL" (sprintf "%s is refused for its NUL" bad))

        property "an escaped backslash before u0000 is not a NUL" 100 Gens.text (fun text ->
            Expect.isNone (Payload.problem (jsonWith (text + "\\u0000"))) "the text \\u0000 is six characters")

        testCase "a lone surrogate, escaped or raw, is refused" <| fun () ->
            for bad in [ "{\"k\": \"\\ud800\"}"; "{\"k\": \"x\\udc00y\"}"; "{\"k\": \"" + string (char 0xD800) + "\"}" ] do
                Expect.isSome (Payload.problem bad) (sprintf "%s is refused" bad)
            Expect.isNone (Payload.problem "{\"k\": \"\\ud83d\\ude00\"}") "an escaped surrogate pair is a character"

        property "text that is not exactly one JSON value is refused" 100
            (Gen.elements [ ""; " "; "{"; "not json"; "{} {}"; "[1,]"; "{\"a\":1,}"; "/* c */ {}"; "{'a': 1}"; "01"; "nul" ]) (fun bad ->
                Expect.stringContains (defaultArg (Payload.problem bad) "") "not one JSON value" (sprintf "%A is refused" bad))

        testCase "a codec's blank type name, version below 1 or null payload is UndecodablePayload" <| fun () ->
            for enc in [ { TypeName = " "; TypeVersion = 1; Data = "{}" }; { TypeName = "t"; TypeVersion = 0; Data = "{}" }
                         { TypeName = "t"; TypeVersion = 1; Data = null } ] do
                match Payload.check enc with
                | Error(UndecodablePayload _) -> ()
                | other -> failtestf "%A gave %A" enc other
            Expect.equal (Payload.check { TypeName = "t"; TypeVersion = 2; Data = "[]" }) (Ok { TypeName = "t"; TypeVersion = 2; Data = "[]" }) "a good one passes"
    ]

let tests = testList "pure core" [ deciderLaws; codec; router; runtimeBuild; rows; payload ]
