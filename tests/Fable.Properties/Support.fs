// Test plumbing: running tasks, fixture instances, typed-result assertions, reading the whole log, FsCheck sizes.
module Fable.Tests.Support

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture

let ct = CancellationToken.None

/// A token that cancels after a minute: a guard that turns a hang into a failed test (never a timed assertion).
let guard () = (new CancellationTokenSource(TimeSpan.FromMinutes 1.0)).Token

/// Waits for a task (properties are synchronous).
let run (t: Task<'T>) = t.GetAwaiter().GetResult()

/// Waits for a task without a result.
let wait (t: Task) = t.GetAwaiter().GetResult()

/// The value of an Ok result; fails the test with the error otherwise.
let ok (what: string) (r: Result<'T, FableError>) =
    match r with
    | Ok v -> v
    | Error e -> failtestf "%s failed: %O" what e

/// The error of an Error result; fails the test when it succeeded.
let err (what: string) (r: Result<'T, FableError>) =
    match r with
    | Ok v -> failtestf "%s should have failed but returned %A" what v
    | Error e -> e

/// `rt` with a codec that encodes an event as `special` gives (when Some) and as `rt`'s codec otherwise; decoding
/// is `rt`'s. For payloads the domain's codec would never write.
let withEncoding (special: obj -> EncodedEvent option) (rt: Runtime) =
    let inner = rt.Codec
    let codec =
        { new IEventCodec with
            member _.Encode evt =
                match special evt with
                | Some enc -> Ok enc
                | None -> inner.Encode evt
            member _.Decode(name, version, data) = inner.Decode(name, version, data)
            member _.TryNameOf t = inner.TryNameOf t }
    { rt with Codec = codec }

/// Runs `f` on a fresh instance of the fixture for `rt`, disposing it afterwards.
let withInstance (fixture: Fixture) (rt: Runtime) (f: Instance -> 'T) =
    let inst = run (fixture.Create rt Domain.tables)
    try
        f inst
    finally
        wait (inst.Dispose())

/// Every event a follower can read right now, in (Tx, Id) order, page by page (on Postgres an event committed
/// while an older transaction is still open is not readable yet: use `readAll` to see every committed event).
let readAllNow (i: IInterpreter) =
    let rec go after acc =
        match run (i.ReadAll(after, 200, ct)) |> ok "ReadAll" with
        | [] -> List.rev acc
        | page -> go (List.last page).Position (List.rev page @ acc)
    go LogPosition.Origin []

/// Waits until every event committed so far is readable (see `Instance.Settle`). Not inside a unit of work.
let settle (inst: Instance) = wait (inst.Settle())

/// Every committed event in (Tx, Id) order: settles, then reads the whole log. Not inside a unit of work.
let readAll (inst: Instance) =
    settle inst
    readAllNow inst.Interpreter

/// The committed rows of a table.
let rows (inst: Instance) table = run (inst.ReadTable table)

/// The committed row of `table` with `id`, if any.
let rowOf (inst: Instance) table (id: obj) =
    rows inst table |> List.tryFind (fun r -> (r["id"]).Equals id)

/// A row as a sorted list of (column, value text) for equality checks across interpreters.
let canon (r: Row) = r |> Seq.map (fun kv -> kv.Key, string kv.Value) |> Seq.sort |> List.ofSeq

/// An FsCheck configuration with `n` cases.
let cases n = { FsCheckConfig.defaultConfig with maxTest = n }

/// A property test over one generator.
let property name n (gen: FsCheck.Gen<'a>) (body: 'a -> unit) =
    testPropertyWithConfig (cases n) name (FsCheck.FSharp.Prop.forAll (FsCheck.FSharp.Arb.fromGen gen) body)

/// A property test of an interpreter: `n` cases in memory, the fixture's share of them elsewhere.
let propertyOn (fixture: Fixture) name n (gen: FsCheck.Gen<'a>) (body: 'a -> unit) = property name (fixture.Cases n) gen body

/// The key of an account.
let accountKey (g: Guid) = AggregateKey.Uuid g

/// The id of an account aggregate.
let accountId (g: Guid) = AggregateId.uuid Domain.accountsTable g
