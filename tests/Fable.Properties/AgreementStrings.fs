// Strings PostgreSQL cannot store, and the text of Data/Meta, case by case on two interpreters side by side: a NUL
// character or a lone surrogate where it cannot be stored is the same typed error on both, decided before anything is
// recorded, and payloads and metadata come back in jsonb's normal text form on both.
module Fable.Tests.AgreementStrings

open System
open System.Collections.Generic
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// An event whose payload holds a dictionary (its keys are property names in the JSON).
type Tagged = { Tags: Dictionary<string, int> }

/// Half of a UTF-16 pair, alone.
let private lone = string (char 0xD800)

/// The domain with `Tagged` registered and routed.
let private taggedRuntime =
    match Runtime.build { definition [] with
                            Events = events |> EventRegistry.add (EventType.create<Tagged> "account.tagged")
                            Router = router |> Router.route<Tagged> [] } with
    | Ok rt -> rt
    | Error e -> failwithf "the tagged domain is invalid: %O" e

/// What one case gave on one interpreter: the texts of the events recorded (emit result, log, followers), or the
/// error's code and message; and the whole global log afterwards (type, payload and metadata texts).
type Seen =
    { Outcome: Result<(string * string) list * (string * string) list * (string * string) list, int * string>
      Log: (string * string * string) list }

let private texts (events: StoredEvent list) = [ for e in events -> e.Data, e.Meta ]

/// Runs `emit` on a fresh instance for `rt`: what it returned, then what the log and followers show.
let private attempt (fixture: Fixture) (rt: Runtime) (emit: IInterpreter -> Threading.Tasks.Task<Result<StoredEvent list * AggregateId, FableError>>) =
    withInstance fixture rt (fun inst ->
        let i = inst.Interpreter
        let outcome =
            match run (emit i) with
            | Ok(events, agg) ->
                let log = run (Store.log i agg ct) |> ok "Log"
                let followers = readAll inst |> List.filter (fun e -> e.Aggregate = agg)
                Ok(texts events, texts log, texts followers)
            | Error e -> Error(e.Code, e.Message)
        { Outcome = outcome; Log = [ for e in readAll inst -> e.TypeName, e.Data, e.Meta ] })

/// An emit on `def`/`key` recording `events`, as `attempt` wants it.
let private emitting (def: AggregateDef<'S>) (key: AggregateKey) (events: obj list) (i: IInterpreter) =
    task {
        let! r = Store.append i def key events ct
        return r |> Result.map (fun e -> e.Events, e.Aggregate.Id)
    }

/// Runs a case on both interpreters: each must give the same outcome, and `expect` must hold for each.
let private both (reference: Fixture) (other: Fixture) (name: string) (rt: Runtime) emit (expect: string -> Seen -> unit) =
    testCase name <| fun () ->
        let a = attempt reference rt emit
        let b = attempt other rt emit
        expect reference.Name a
        expect other.Name b
        Expect.equal b a (sprintf "%s and %s agree" other.Name reference.Name)

/// The case fails with `code` naming `mentions`, and nothing was recorded.
let private refused (code: int) (mentions: string) (on: string) (seen: Seen) =
    match seen.Outcome with
    | Error(c, message) ->
        Expect.equal c code (sprintf "%s: the error code (%s)" on message)
        Expect.stringContains message mentions (sprintf "%s: the message says what" on)
    | Ok r -> failtestf "%s: should have failed with %d, but recorded %A" on code r
    Expect.isEmpty seen.Log (sprintf "%s: nothing was recorded" on)

/// The case records events whose payload and metadata texts are exactly `expected`, in the emit's result, the log
/// and for followers.
let private recordedAs (expected: (string * string) list) (on: string) (seen: Seen) =
    match seen.Outcome with
    | Ok(emitted, log, followers) ->
        Expect.equal emitted expected (sprintf "%s: the emit's result" on)
        Expect.equal log expected (sprintf "%s: the log" on)
        Expect.equal followers expected (sprintf "%s: followers" on)
    | Error(code, message) -> failtestf "%s: failed with %d: %s" on code message

/// A runtime whose codec writes the given payload text for an `Opened` with that owner (others as usual).
let private writing (payloads: (string * string) list) =
    taggedRuntime
    |> withEncoding (fun evt ->
        match evt with
        | :? Opened as o ->
            payloads |> List.tryFind (fun (owner, _) -> owner = o.Owner)
            |> Option.map (fun (_, data) -> { TypeName = "account.opened"; TypeVersion = 1; Data = data })
        | _ -> None)

let tests (reference: Fixture) (other: Fixture) =
    let newAccount () = accountKey (Guid.NewGuid())
    [ both reference other "a lone surrogate in aggregate state (a ToRow value) is Unstorable on both"
          (writing [ "ada" + lone, "{\"owner\": \"ada\"}" ])
          (fun i -> emitting accounts (newAccount ()) [ box { Owner = "ada" + lone } ] i)
          (refused ErrorCodes.Unstorable "accounts.owner")

      for name, key in [ "a NUL character", "a\000b"; "a lone surrogate", "k" + lone ] do
          both reference other (sprintf "%s in a text key is Unstorable on both, for emits, loads, logs and replays" name) taggedRuntime
              (fun i ->
                  task {
                      let key = AggregateKey.Text key
                      let! load = Store.load i counters key ct
                      let! log = Store.log i (AggregateDef.idOf counters key) ct
                      let! replay = Store.replay i counters key ct
                      match load, log, replay with
                      | Error(Unstorable _), Error(Unstorable _), Error(Unstorable _) ->
                          return! emitting counters key [ box { Seen = 0L } ] i
                      | other -> return failwithf "load, log and replay should be Unstorable: %A" other
                  })
              (refused ErrorCodes.Unstorable "key")

      both reference other "a lone surrogate in a payload string is refused by the default codec on both" taggedRuntime
          (fun i -> emitting accounts (newAccount ()) [ box { Text = "note " + lone; Fault = "" } ] i)
          (refused ErrorCodes.UndecodablePayload "lone surrogate")

      both reference other "a lone surrogate in a payload's dictionary key is refused by the default codec on both" taggedRuntime
          (fun i ->
              let tags = Dictionary<string, int>()
              tags["tag" + lone] <- 1
              emitting accounts (newAccount ()) [ box { Tags = tags } ] i)
          (refused ErrorCodes.UndecodablePayload "lone surrogate")

      both reference other "a lone surrogate in metadata pairs (value or name) is refused on both" taggedRuntime
          (fun i ->
              emitting accounts (newAccount ())
                  [ Meta.attachPairs [ "by", box ("ada" + lone) ] (box { Amount = 1L; BalanceBefore = 0L }) ] i)
          (refused ErrorCodes.UndecodablePayload "metadata")

      both reference other "a lone surrogate in a metadata pair's name is refused on both" taggedRuntime
          (fun i ->
              emitting accounts (newAccount ())
                  [ Meta.attachPairs [ "by" + lone, box "ada" ] (box { Amount = 1L; BalanceBefore = 0L }) ] i)
          (refused ErrorCodes.UndecodablePayload "metadata")

      both reference other "a lone surrogate in metadata text is refused on both" taggedRuntime
          (fun i ->
              emitting accounts (newAccount ())
                  [ Meta.attach ("{\"by\": \"" + lone + "\"}") (box { Amount = 1L; BalanceBefore = 0L }) ] i)
          (refused ErrorCodes.UndecodablePayload "metadata")

      both reference other "payloads and metadata come back in jsonb's normal text form on both"
          (writing [ "raw", "{ \"owner\":\"raw\" , \"b\" : 1.0, \"a\": 1e2, \"aa\": [1E+2, -0, 1.50, 1e-3, -0.0e1, \"\\u00e9\\/\\t\\u001f\"], \"a\": {\"z\": null, \"y\": true} }" ])
          (fun i ->
              emitting accounts (newAccount ())
                  [ box { Owner = "raw" }
                    Meta.attach "{\"z\":1,  \"a\":{\"y\":2,\"x\":1}, \"z\": 2}" (box { Amount = 5L; BalanceBefore = 0L })
                    Meta.attachPairs [ "by", box "ada"; "n", box 1 ] (box { Text = "é \"q\" \\ 😀"; Fault = "" }) ] i)
          (recordedAs
              [ "{\"a\": {\"y\": true, \"z\": null}, \"b\": 1.0, \"aa\": [100, 0, 1.50, 0.001, 0, \"é/\\t\\u001f\"], \"owner\": \"raw\"}", "{}"
                "{\"amount\": 5, \"balanceBefore\": 0}", "{\"a\": {\"x\": 1, \"y\": 2}, \"z\": 2}"
                "{\"text\": \"é \\\"q\\\" \\\\ 😀\", \"fault\": \"\"}", "{\"n\": 1, \"by\": \"ada\"}" ]) ]
