// Process managers agree: one generated plan of emits and control operations (enable, disable, reset, rebuild,
// catch-up) with a handle that fails at generated events under a generated policy, run one step after another on a
// fresh in-memory instance and on a fresh instance of another interpreter, gives the same handler invocations, rows,
// state, checkpoint (by place in the log: ids differ) and Status after every step.
module Fable.Tests.AgreementProcessManagers

open System
open System.Collections.Concurrent
open System.Text.RegularExpressions
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Where a reset moves the checkpoint.
type ResetTo =
    | ToOrigin
    | ToHead
    /// After the event at this place in the log (modulo its length; the origin when the log is empty).
    | ToPlace of int

/// One step of a plan.
type Step =
    | Emit of count: int
    | Enable
    | Disable
    | Reset of ResetTo
    | Rebuild
    | CatchUp

/// The error policy, with a short retry interval.
type Policy =
    | StopAtOnce
    | RetryUpTo of maxAttempts: int option

/// How an injected failure shows.
type FailureMode =
    | ReturnsError
    | Throws

type Plan =
    { Policy: Policy
      BatchSize: int
      /// Event number → (how many first invocations fail, how).
      Failures: Map<int, int * FailureMode>
      Steps: Step list }

let private name = "agreeing"

let private plan =
    gen {
        let! policy = Gen.elements [ StopAtOnce; RetryUpTo None; RetryUpTo(Some 1); RetryUpTo(Some 2); RetryUpTo(Some 3) ]
        let! batchSize = Gen.choose (1, 4)
        let! failures =
            Gen.listOf (Gen.zip3 (Gen.choose (0, 11)) (Gen.choose (1, 3)) (Gen.elements [ ReturnsError; Throws ]))
            |> Gen.map (List.map (fun (e, n, m) -> e, (n, m)) >> Map.ofList)
        let step =
            Gen.frequency
                [ 6, Gen.choose (1, 4) |> Gen.map Emit
                  6, Gen.constant CatchUp
                  2, Gen.constant Enable
                  2, Gen.constant Disable
                  1, Gen.constant (Reset ToOrigin)
                  1, Gen.constant (Reset ToHead)
                  2, Gen.choose (0, 11) |> Gen.map (ToPlace >> Reset)
                  2, Gen.constant Rebuild ]
        let! n = Gen.sized (fun size -> Gen.choose (1, max 1 (min 16 (size + 1))))
        let! steps = Gen.listOfLength n step
        return { Policy = policy; BatchSize = batchSize; Failures = failures; Steps = steps @ [ CatchUp ] }
    }

/// The process manager's state: how many events it handled and the number of the last one.
type Seen = { Count: int64; Last: int64 }

/// What one instance recorded: every handler invocation (event numbers, failed ones included).
type private Recorder() =
    member val Invocations = ConcurrentQueue<int64>()
    member val Attempts = ConcurrentDictionary<int64, int>()

let private definition (p: Plan) (recorder: Recorder) =
    let handle (uow: IUnitOfWork) (s: Seen) (inc: Incoming) ct : Task<Result<Seen, FableError>> =
        task {
            let number = match inc.Event with | Some(:? Noted as n) -> int64 n.Text | _ -> -1L
            recorder.Invocations.Enqueue number
            let attempt = recorder.Attempts.AddOrUpdate(number, 1, fun _ a -> a + 1)
            let id = sprintf "%s:%d" name number
            match! uow.Tables.Get(seenTable, box id, ct) with
            | Error e -> return Error e
            | Ok existing ->
                let times = existing |> Option.bind (Row.tryGet "times") |> Option.map Convert.ToInt64 |> Option.defaultValue 0L
                let row = Row.ofSeq [ "id", box id; "pm", box name; "event", box number; "times", box (times + 1L) ]
                match! uow.Tables.Upsert(seenTable, row, ct) with
                | Error e -> return Error e
                | Ok() ->
                    match p.Failures.TryFind(int number) with
                    | Some(failing, ReturnsError) when attempt <= failing -> return Error(FableError.reject "failure injected")
                    | Some(failing, Throws) when attempt <= failing -> return failwith "exception injected"
                    | _ -> return Ok { Count = s.Count + 1L; Last = number }
        }
    let policy =
        match p.Policy with
        | StopAtOnce -> OnFailure.Stop
        | RetryUpTo max -> OnFailure.Retry(TimeSpan.FromMilliseconds 1.0, max)
    let created = ProcessManager.create name { Count = 0L; Last = -1L } (fun s _ -> Ok s) |> ProcessManager.withHandleIn handle
    { created with ErrorPolicy = policy; BatchSize = p.BatchSize } |> ProcessManager.erase

/// Status as both interpreters must show it: the checkpoint as a place in the log (-1: the origin), the error as
/// its code (its text names event ids, which differ).
type StatusView =
    { Place: int
      Lag: int64
      Active: bool
      Error: string option
      Attempts: int
      State: string }

let private code (text: string) =
    let m = Regex.Match(text, @"fable\.[a-z_]+")
    if m.Success then m.Value else text

/// What a step returned: Ok or the error's code.
let private outcome (r: Result<unit, FableError>) =
    match r with
    | Ok() -> "ok"
    | Error e -> code (string e)

let private view (inst: Instance) =
    let all = readAll inst
    let st = run (inst.ProcessManagers.Status(name, ct)) |> ok "Status"
    let place =
        if st.Position = LogPosition.Origin then -1
        else
            match List.tryFindIndex (fun (e: StoredEvent) -> e.Position = st.Position) all with
            | Some i -> i
            | None -> failtestf "the checkpoint %O is no event's position" st.Position
    { Place = place; Lag = st.Lag; Active = st.Active; Error = st.LastError |> Option.map code; Attempts = st.Attempts; State = st.State }

/// Runs one step; returns its outcome.
let private runStep (inst: Instance) (key: Guid) (emitted: int ref) (step: Step) =
    let host = inst.ProcessManagers
    match step with
    | Emit n ->
        for _ in 1..n do
            let note = box { Text = string emitted.Value; Fault = "" }
            emitted.Value <- emitted.Value + 1
            run (Store.append inst.Interpreter accounts (accountKey key) [ note ] ct) |> ok "append" |> ignore
        settle inst
        "ok"
    | Enable -> run (host.Enable(name, ct)) |> outcome
    | Disable -> run (host.Disable(name, ct)) |> outcome
    | Reset ToOrigin -> run (host.Reset(name, StartAt.Origin, ct)) |> outcome
    | Reset ToHead -> run (host.Reset(name, StartAt.Head, ct)) |> outcome
    | Reset(ToPlace n) ->
        let start =
            match readAll inst with
            | [] -> StartAt.Origin
            | all -> StartAt.After all[n % all.Length].Position
        run (host.Reset(name, start, ct)) |> outcome
    | Rebuild -> run (host.Rebuild(name, guard ())) |> outcome
    | CatchUp -> run (host.CatchUp(guard ())) |> outcome

type private Picture =
    { Steps: (string * StatusView) list
      Invocations: int64 list
      Rows: (int64 * int64) list }

let private runPlan (fixture: Fixture) (p: Plan) =
    let recorder = Recorder()
    withInstance fixture (runtimeWith [ definition p recorder ]) (fun inst ->
        let key = Guid.NewGuid()
        let emitted = ref 0
        let steps = [ for s in p.Steps -> let o = runStep inst key emitted s in o, view inst ]
        { Steps = steps
          Invocations = List.ofSeq recorder.Invocations
          Rows =
            rows inst seenTable
            |> List.filter (fun r -> Row.tryGet "pm" r = Some(box name))
            |> List.map (fun r -> Convert.ToInt64 r["event"], Convert.ToInt64 r["times"])
            |> List.sort })

/// `p` run on `reference` and on `other` gives the same picture after every step.
let private compare (reference: Fixture) (other: Fixture) (p: Plan) =
    let expected = runPlan reference p
    let actual = runPlan other p
    for (n, (step, (a, e))) in List.indexed (List.zip p.Steps (List.zip actual.Steps expected.Steps)) do
        Expect.equal a e (sprintf "step %d (%A) gives the same outcome and status" n step)
    Expect.equal actual.Invocations expected.Invocations "the handle ran for the same events in the same order"
    Expect.equal actual.Rows expected.Rows "the handle's committed writes are the same"

/// Generated plans.
let agree (reference: Fixture) (other: Fixture) =
    propertyOn other
        (sprintf "process managers driven by the same emits and control calls, failing at the same events, agree with %s step by step" reference.Name)
        80 plan (compare reference other)

/// The places the interpreters once disagreed, and where batches grow, always run.
let scripted (reference: Fixture) (other: Fixture) =
    let failFirst = Map.ofList [ 2, (1, ReturnsError) ]
    [ testCase (sprintf "a batch failing at its third event runs the first two again, as on %s" reference.Name) <| fun () ->
          compare reference other { Policy = RetryUpTo(Some 3); BatchSize = 4; Failures = failFirst; Steps = [ Emit 4; CatchUp ] }
      testCase (sprintf "Reset clears the error and the attempts, as on %s" reference.Name) <| fun () ->
          compare reference other { Policy = StopAtOnce; BatchSize = 1; Failures = failFirst; Steps = [ Emit 3; CatchUp; Reset ToOrigin ] }
      testCase (sprintf "Rebuild enables a stopped process manager, as on %s" reference.Name) <| fun () ->
          compare reference other { Policy = StopAtOnce; BatchSize = 2; Failures = failFirst; Steps = [ Emit 3; CatchUp; Rebuild ] }
      testCase (sprintf "batches grow while behind (1, 2, 4 events); one failing at its third event commits two, then reads 1 again, as on %s" reference.Name) <| fun () ->
          compare reference other { Policy = RetryUpTo None; BatchSize = 1; Failures = Map.ofList [ 5, (1, ReturnsError) ]; Steps = [ Emit 12; CatchUp; Emit 4; Reset(ToPlace 2); CatchUp ] } ]

/// The process-manager agreement properties of `other` against `reference`.
let tests (reference: Fixture) (other: Fixture) = agree reference other :: scripted reference other
