// The aggregate row's lifecycle, scenario by scenario on the in-memory interpreter and on another one: definition
// faults (Initial/OfRow/ToRow), the row written before an event's handlers (immediate FK, a handler reading it),
// handlers writing the aggregate's own row or emitting on it, and forks (a deleted row, then an emit or a Replay).
module Fable.Tests.AgreementRows

open System
open System.Threading.Tasks
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Support

type Started = { Name: string }
type Renamed = { Name: string }
/// Its handler writes the trip's own row through the table API: "insert", "upsert" or "delete".
type Touched = { Mode: string }
/// Its handler emits a Renamed on the trip itself.
type Echoed = { Name: string }

type Trip = { Name: string; Events: int64 }

let tripsTable = "trips"
let grantsTable = "trip_grants"

let private tables: TableSpec list =
    [ TableDecl.aggregate tripsTable KeyType.Uuid [ TableDecl.column "name" ColumnType.Text; TableDecl.column "events" ColumnType.BigInt ]
      TableDecl.table grantsTable KeyType.Text [ TableDecl.column "trip" ColumnType.Uuid; TableDecl.nullable "seen_name" ColumnType.Text ] ]

let private keyOf (args: HandlerArgs) = args.Aggregate.Key.Value

/// The trips aggregate with some of its parts replaced.
let private tripsWith (f: AggregateDef<Trip> -> AggregateDef<Trip>) : AggregateDef<Trip> =
    f { Table = tripsTable
        KeyKind = KeyType.Uuid
        Initial = fun _ -> { Name = ""; Events = 0L }
        Evolve =
          fun s e ->
              match e with
              | :? Started as x -> { Name = x.Name; Events = s.Events + 1L }
              | :? Renamed as x -> { Name = x.Name; Events = s.Events + 1L }
              | _ -> { s with Events = s.Events + 1L }
        ToRow = fun s -> Row.ofSeq [ "name", box s.Name; "events", box s.Events ]
        OfRow = fun r -> { Name = string r["name"]; Events = Convert.ToInt64 r["events"] } }

let private trips = tripsWith id

/// Started's handler reads the trip's row and inserts a grant that references it (immediate FK).
let private grant =
    Router.handler<Started> "grant" (fun args _ ->
        task {
            match! args.Uow.Tables.Get(tripsTable, keyOf args, args.CancellationToken) with
            | Error e -> return Error e
            | Ok row ->
                let seen = row |> Option.bind (Row.tryGet "name") |> Option.toObj
                return!
                    args.Uow.Tables.Insert(
                        grantsTable,
                        Row.ofSeq [ "id", box (string args.Aggregate.Key + ":" + string args.Recorded.TypeName)
                                    "trip", keyOf args; "seen_name", seen ],
                        args.CancellationToken)
        })

let private touch =
    Router.handler<Touched> "touch" (fun args e ->
        let row = Row.ofSeq [ "id", keyOf args; "name", box "by hand"; "events", box 0L ]
        let t = args.Uow.Tables
        match e.Mode with
        | "insert" -> t.Insert(tripsTable, row, args.CancellationToken)
        | "upsert" -> t.Upsert(tripsTable, row, args.CancellationToken)
        | _ ->
            task {
                let! r = t.Delete(tripsTable, keyOf args, args.CancellationToken)
                return Result.map ignore r
            })

let private echo =
    Router.handler<Echoed> "echo" (fun args e ->
        task {
            let! r = args.Uow.Emit(trips, args.Aggregate.Key, Expected.Any, Pure(fun _ -> Ok [ box ({ Name = e.Name }: Renamed) ]), args.CancellationToken)
            return Result.map ignore r
        })

let private runtime =
    let events =
        EventRegistry.empty
        |> EventRegistry.add (EventType.create<Started> "trip.started")
        |> EventRegistry.add (EventType.create<Renamed> "trip.renamed")
        |> EventRegistry.add (EventType.create<Touched> "trip.touched")
        |> EventRegistry.add (EventType.create<Echoed> "trip.echoed")
    let router =
        Router.empty
        |> Router.route<Started> [ grant ]
        |> Router.route<Renamed> []
        |> Router.route<Touched> [ touch ]
        |> Router.route<Echoed> [ echo ]
    match Runtime.build { Events = events; Router = router; ProcessManagers = []; Tables = [] } with
    | Ok rt -> rt
    | Error e -> failwithf "the trips runtime is invalid: %O" e

/// What one step gave: Ok, or the error's code, retryable flag and (for HandlerFailed) the handler's name.
type Seen =
    | Done
    | Failed of code: int * retryable: bool * handler: string option

let private seen (r: Result<'T, FableError>) =
    match r with
    | Ok _ -> Done
    | Error e -> Failed(e.Code, FableError.isRetryable e, (match e with HandlerFailed(_, h, _, _) -> Some h | _ -> None))

/// Everything observable after a scenario: its steps, the rows of both tables (last_event_id as the index of the
/// event in the trip's chain), and each trip's log as type names (checked to be one chain).
type Picture =
    { Steps: Seen list
      Trips: (string * string) list list
      Grants: (string * string) list list
      Logs: string list list }

/// One scenario's context: the instance, the trips' keys, and the errors its steps returned (for their texts).
type Scene(inst: Instance, keys: Guid[]) =
    let steps = Collections.Generic.List<Seen>()
    let errors = Collections.Generic.List<FableError>()
    member _.I = inst.Interpreter
    member _.Inst = inst
    member _.Key n = AggregateKey.Uuid keys[n]
    member _.Note(r: Result<'T, FableError>) =
        steps.Add(seen r)
        match r with
        | Error e -> errors.Add e
        | Ok _ -> ()
    member _.Steps = List.ofSeq steps
    member _.Errors = List.ofSeq errors

    /// Emits `events` on trip `n` with `def` in a transaction of its own.
    member this.Emit(def: AggregateDef<Trip>, n: int, events: obj list) =
        this.Note(run (Store.emit this.I def (this.Key n) Expected.Any (Pure(fun _ -> Ok events)) ct))

    /// Deletes trip `n`'s row through the table API, outside any emit.
    member this.DeleteRow(n: int) =
        this.Note(run (Store.transact this.I (fun uow -> uow.Tables.Delete(tripsTable, box keys[n], ct)) ct))

let private picture (scene: Scene) (keys: Guid[]) =
    let inst = scene.Inst
    let logs =
        [ for k in keys ->
              let log = run (Store.log inst.Interpreter (AggregateId.uuid tripsTable k) ct) |> ok "Log"
              Checks.chain (string k) log
              k, log ]
    let place (v: obj) =
        let id = Convert.ToInt64 v
        logs |> List.tryPick (fun (_, log) -> log |> List.tryFindIndex (fun e -> e.Id = id)) |> sprintf "event %A"
    let canonRow (r: Row) =
        [ for kv in r do
              if not (isNull kv.Value || kv.Value :? DBNull) then
                  yield kv.Key, (if kv.Key = "last_event_id" then place kv.Value else string kv.Value) ]
        |> List.sort
    { Steps = scene.Steps
      Trips = rows inst tripsTable |> List.map canonRow |> List.sort
      Grants = rows inst grantsTable |> List.map canonRow |> List.sort
      Logs = [ for (_, log) in logs -> log |> List.map (fun e -> e.TypeName) ] }

/// Runs `scenario` on a fresh instance of `fixture`; its picture and the errors its steps returned.
let private runOn (fixture: Fixture) (keys: Guid[]) (scenario: Scene -> unit) =
    let inst = run (fixture.Create runtime tables)
    try
        let scene = Scene(inst, keys)
        scenario scene
        picture scene keys, scene.Errors
    finally
        wait (inst.Dispose())

/// The same scenario on `reference` and `other` gives the same picture, whose steps are `expected`; `texts` checks
/// the errors' texts on both.
let private same (reference: Fixture) (other: Fixture) (name: string) (expected: Seen list) (texts: FableError list -> unit) (scenario: Scene -> unit) =
    testCase name (fun () ->
        let keys = Array.init 2 (fun _ -> Guid.NewGuid())
        let expectedPicture, expectedErrors = runOn reference keys scenario
        let actual, actualErrors = runOn other keys scenario
        Expect.equal actual.Steps expectedPicture.Steps (sprintf "%s and %s give the same step outcomes" other.Name reference.Name)
        Expect.equal expectedPicture.Steps expected (sprintf "the steps give the expected outcomes on %s" reference.Name)
        Expect.equal actual.Logs expectedPicture.Logs "the same logs"
        Expect.equal actual.Trips expectedPicture.Trips "the same trip rows"
        Expect.equal actual.Grants expectedPicture.Grants "the same grant rows"
        texts expectedErrors
        texts actualErrors)

let private failedIn (handler: string) = Failed(ErrorCodes.HandlerFailed, false, Some handler)
let private invalid = Failed(ErrorCodes.InvalidDefinition, false, None)
let private noTexts (_: FableError list) = ()

/// Every error text contains each of `words` (once at most for the first one: no prefix twice).
let private saying (words: string list) (errors: FableError list) =
    for e in errors do
        for w in words do
            Expect.stringContains e.Message w (sprintf "the error says %s: %s" w e.Message)
        match words with
        | first :: _ ->
            let count = e.Message.Split(first).Length - 1
            Expect.equal count 1 (sprintf "the error names %s once: %s" first e.Message)
        | [] -> ()

let private started name = box ({ Name = name }: Started)
let private renamed name = box ({ Name = name }: Renamed)

/// The scenarios, each run on `reference` and on `other`.
let tests (reference: Fixture) (other: Fixture) =
    // An immediate (not deferrable) foreign key to the aggregate's row, as in the seed. Constraints beyond a
    // declaration are PostgreSQL's alone (the in-memory interpreter does not enforce them): the Postgres fixture adds it.
    postgresOnlyDdl[grantsTable] <- [ sprintf "ALTER TABLE %s ADD FOREIGN KEY (trip) REFERENCES %s (id)" grantsTable tripsTable ]
    let same = same reference other
    [ same "Initial throwing fails the emit with HandlerFailed named Initial" [ failedIn "Initial" ] (saying [ "Initial"; "no initial" ]) (fun s ->
          s.Emit(tripsWith (fun d -> { d with Initial = fun _ -> failwith "no initial" }), 0, [ renamed "a" ]))

      same "OfRow throwing fails the emit and the load with HandlerFailed named OfRow" [ Done; failedIn "OfRow"; failedIn "OfRow" ]
          (saying [ "OfRow"; "no row" ]) (fun s ->
          let broken = tripsWith (fun d -> { d with OfRow = fun _ -> failwith "no row" })
          s.Emit(trips, 0, [ renamed "a" ])
          s.Emit(broken, 0, [ renamed "b" ])
          s.Note(run (Store.load s.I broken (s.Key 0) ct)))

      same "ToRow throwing fails the emit with HandlerFailed named ToRow and writes nothing" [ failedIn "ToRow"; Done; failedIn "ToRow" ]
          (saying [ "ToRow"; "no row for you" ]) (fun s ->
          let broken = tripsWith (fun d -> { d with ToRow = fun _ -> failwith "no row for you" })
          s.Emit(broken, 0, [ renamed "a" ])
          s.Emit(trips, 1, [ renamed "a" ])
          s.Emit(broken, 1, [ started "b" ]))

      same "ToRow writing id or last_event_id is InvalidDefinition, on a new and on an existing row" [ invalid; Done; invalid ]
          (saying [ "Fable owns" ]) (fun s ->
          let writes column = tripsWith (fun d -> { d with ToRow = fun t -> Row.ofSeq [ "name", box t.Name; "events", box t.Events; column, box 7L ] })
          s.Emit(writes "last_event_id", 0, [ renamed "a" ])
          s.Emit(trips, 1, [ renamed "a" ])
          s.Emit(writes "id", 1, [ renamed "b" ]))

      same "ToRow returning null is InvalidDefinition" [ invalid; Done; invalid ] (saying [ "ToRow"; "null" ]) (fun s ->
          let nothing = tripsWith (fun d -> { d with ToRow = fun _ -> null })
          s.Emit(nothing, 0, [ started "a" ])
          s.Emit(trips, 1, [ renamed "a" ])
          s.Emit(nothing, 1, [ renamed "b" ]))

      same "a handler inserts a row referencing the new aggregate by an immediate foreign key and reads its row"
          [ Done; Done ] noTexts (fun s ->
          s.Emit(trips, 0, [ started "first" ])
          s.Emit(trips, 1, [ renamed "before"; started "second"; renamed "after" ]))

      same "a handler that inserts, upserts or deletes the aggregate's own row gets a non-retryable HandlerFailed"
          [ failedIn "touch"; failedIn "touch"; Done; failedIn "touch"; failedIn "touch" ] (saying [ "ToRow" ]) (fun s ->
          s.Emit(trips, 0, [ box { Mode = "insert" } ])
          s.Emit(trips, 0, [ box { Mode = "upsert" } ])
          s.Emit(trips, 1, [ renamed "a" ])
          s.Emit(trips, 1, [ box { Mode = "delete" } ])
          s.Emit(trips, 1, [ box { Mode = "insert" } ]))

      same "emitting on an aggregate whose row was deleted is a non-retryable Conflict saying to Replay"
          [ Done; Done; Failed(ErrorCodes.Conflict, false, None); Failed(ErrorCodes.Conflict, false, None) ]
          (saying [ "Replay" ]) (fun s ->
          s.Emit(trips, 0, [ renamed "a" ])
          s.DeleteRow 0
          s.Emit(trips, 0, [ renamed "b" ])
          s.Note(run (Store.emit s.I trips (s.Key 0) (Expected.At None) (Pure(fun _ -> Ok [ renamed "c" ])) ct)))

      same "Replay restores a deleted row; emits work again afterwards" [ Done; Done; Done; Done; Done ] noTexts (fun s ->
          s.Emit(trips, 0, [ started "a"; renamed "b" ])
          s.Emit(trips, 1, [ renamed "x" ])
          s.DeleteRow 1
          s.Note(run (Store.replay s.I trips (s.Key 1) ct))
          s.Emit(trips, 1, [ renamed "y" ]))

      same "a handler that emits on its own aggregate gets a non-retryable HandlerFailed" [ failedIn "echo"; Done; failedIn "echo" ]
          (saying [ "its own emit" ]) (fun s ->
          s.Emit(trips, 0, [ box ({ Name = "again" }: Echoed) ])
          s.Emit(trips, 1, [ renamed "a" ])
          s.Emit(trips, 1, [ box ({ Name = "again" }: Echoed) ])) ]
