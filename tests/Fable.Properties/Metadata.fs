// Event metadata on every interpreter: what a decision attaches is recorded with the event and read back by the
// emit's result, the aggregate's log and followers; evolve sees the bare event; metadata that is not a JSON
// object jsonb can store fails the emit as UndecodablePayload and records nothing.
module Fable.Tests.Metadata

open System
open System.Text.Json.Nodes
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Two metadata texts hold the same JSON (PostgreSQL keeps jsonb's normal form, not the text given).
let private sameJson (a: string) (b: string) = JsonNode.DeepEquals(JsonNode.Parse a, JsonNode.Parse b)

/// Deposits of 1, some with metadata naming who made them and their place in the decision.
let private depositsWith (who: string option list) : obj list =
    [ for k, w in List.indexed who ->
          let e = box { Amount = 1L; BalanceBefore = 0L }
          match w with
          | Some by -> Meta.attachPairs [ "by", box by; "n", box k; "tags", box [| "a"; by |] ] e
          | None -> e ]

let private expectedMeta (who: string option list) =
    [ for k, w in List.indexed who ->
          match w with
          | Some by -> JsonObject([ Collections.Generic.KeyValuePair("by", JsonValue.Create by :> JsonNode)
                                    Collections.Generic.KeyValuePair("n", JsonValue.Create k :> JsonNode)
                                    Collections.Generic.KeyValuePair("tags", JsonArray(JsonValue.Create "a", JsonValue.Create by) :> JsonNode) ]).ToJsonString()
          | None -> Meta.Empty ]

let recorded (fixture: Fixture) =
    propertyOn fixture "metadata attached in a decision is recorded with its event and read back by the emit, the log and followers" 60
        (Gen.listOf (Gen.optionOf Gens.text) |> Gen.filter (fun l -> not l.IsEmpty))
        (fun who ->
            withInstance fixture runtime (fun inst ->
                let i = inst.Interpreter
                let key = Guid.NewGuid()
                let e = run (Store.emitPure i accounts (accountKey key) (fun _ -> Ok(depositsWith who)) ct) |> ok "emit"
                Expect.equal e.Aggregate.State.Balance (int64 who.Length) "evolve saw the bare events"
                let expected = expectedMeta who
                let check what (events: StoredEvent list) =
                    Expect.equal events.Length expected.Length (what + ": every event")
                    for (r, m) in List.zip events expected do
                        Expect.isTrue (sameJson r.Meta m) (sprintf "%s: event %d has metadata %s, expected %s" what r.Id r.Meta m)
                check "the emit's result" e.Events
                check "the log" (run (Store.log i (accountId key) ct) |> ok "Log")
                check "followers" (readAll inst |> List.filter (fun r -> r.Aggregate = accountId key))))

let refused (fixture: Fixture) =
    testCase "metadata that is not a JSON object jsonb can store fails the emit as UndecodablePayload and records nothing" <| fun () ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            run (Store.emitPure i accounts (accountKey key) (fun _ -> Ok(depositsWith [ Some "seed" ])) ct) |> ok "seed" |> ignore
            let before = readAll inst |> List.map (fun r -> r.Id)
            for bad in [ "not json"; "[1]"; "\"text\""; "7"; "null"; "{\"a\": \"\\u0000\"}"; "{} {}"; null ] do
                let events = [ box { Amount = 1L; BalanceBefore = 0L }; Meta.attach bad (box { Amount = 2L; BalanceBefore = 1L }) ]
                match run (Store.emitPure i accounts (accountKey key) (fun _ -> Ok events) ct) with
                | Error(UndecodablePayload("account.deposited", 1, why)) -> Expect.stringContains why "metadata" (sprintf "%A: the reason" bad)
                | other -> failtestf "metadata %A should be refused, got %A" bad (other |> Result.map ignore)
            Expect.equal (readAll inst |> List.map (fun r -> r.Id)) before "nothing of the refused emits was recorded")

let tests (fixture: Fixture) = [ recorded fixture; refused fixture ]
