// The process-manager tests' domain: counters (a bigint-keyed aggregate), mirrors (which a process manager
// emits to), a `pm_seen` table where recorders write every event they handle in their own transaction, and
// helpers to create hosts, write events and check "each committed event handled once, in chain order".
module Fable.Tests.PmDomain

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.Fixture

type Bumped = { By: int64 }
type Mirrored = { Source: int64; By: int64 }
/// Registered by writers only: readers receive it with Event = None.
type Stranger = { Note: string }
/// The readers' view of "garbled".
type Garbled = { Count: int }
/// The writers' view of "garbled": a payload the readers cannot decode.
type GarbledText = { Count: string }

let private total (table: string) : AggregateDef<int64> =
    { Table = table
      KeyKind = KeyType.Int
      Initial = fun _ -> 0L
      Evolve =
        fun s e ->
            match e with
            | :? Bumped as b -> s + b.By
            | :? Mirrored as m -> s + m.By
            | _ -> s
      ToRow = fun s -> Row.ofSeq [ "total", box s ]
      OfRow = fun r -> r["total"] :?> int64 }

/// Counters: what writers emit to.
let counters = total "counters"
/// Mirrors: what the mirror process manager emits to.
let mirrors = total "mirrors"

let private aggregateSpec name = TableDecl.aggregate name KeyType.Int [ TableDecl.column "total" ColumnType.BigInt ]

/// Counters, mirrors and the mirror's statistics row.
let tables =
    [ aggregateSpec "counters"
      aggregateSpec "mirrors"
      TableDecl.table "pm_stats" KeyType.Text [ TableDecl.column "handled" ColumnType.BigInt ] ]

/// Every handling a recorder committed, in handling order (no unique key: a double handling would show).
let seenDdl = "CREATE TABLE pm_seen (seq bigserial PRIMARY KEY, pm text NOT NULL, event_id bigint NOT NULL, runner text NOT NULL, decoded boolean NOT NULL)"

let private routes (types: Type list) = types |> List.fold (fun r t -> Router.routeType t [] r) Router.empty

let private readers =
    EventRegistry.empty
    |> EventRegistry.add (EventType.create<Bumped> "bumped")
    |> EventRegistry.add (EventType.create<Mirrored> "mirrored")
    |> EventRegistry.add (EventType.create<Garbled> "garbled")

let private writers =
    EventRegistry.empty
    |> EventRegistry.add (EventType.create<Bumped> "bumped")
    |> EventRegistry.add (EventType.create<Mirrored> "mirrored")
    |> EventRegistry.add (EventType.create<Stranger> "stranger")
    |> EventRegistry.add (EventType.create<GarbledText> "garbled")

let private build (d: Definition) =
    match Runtime.build d with
    | Ok rt -> rt
    | Error e -> failwithf "test runtime: %O" e

/// The readers' runtime with process managers `pms`.
let runtimeOf (pms: ProcessManagerDef list) =
    build { Events = readers; Router = routes [ typeof<Bumped>; typeof<Mirrored>; typeof<Garbled> ]; ProcessManagers = pms; Tables = tables }

/// The writers' runtime (no process managers).
let writerRuntime =
    build { Events = writers; Router = routes [ typeof<Bumped>; typeof<Mirrored>; typeof<Stranger>; typeof<GarbledText> ]; ProcessManagers = []; Tables = tables }

/// A store for `rt` on the environment's Fable schema.
let storeFor (ds: NpgsqlDataSource) (schema: string) (rt: Runtime) =
    task {
        match! PostgresStore.Create(ds, rt, { Schema = schema; Notify = true }) with
        | Ok s -> return s
        | Error e -> return failwithf "store: %O" e
    }

/// A host for `pms` named `runner` on the environment (poll every 50 ms), logging through `loggers` when given.
let private hostWith (ds: NpgsqlDataSource) (schema: string) (runner: string) (pms: ProcessManagerDef list)
                     (loggers: Microsoft.Extensions.Logging.ILoggerFactory option) =
    task {
        let! store = storeFor ds schema (runtimeOf pms)
        match! PostgresProcessManagers.Create(store, runnerId = runner, pollInterval = TimeSpan.FromMilliseconds 50.0, ?loggerFactory = loggers) with
        | Ok h -> return h
        | Error e -> return failwithf "host: %O" e
    }

/// A host for `pms` named `runner` on the environment (poll every 50 ms).
let hostOn ds schema runner pms = hostWith ds schema runner pms None

/// A host in a test environment.
let host (env: PgEnv.Env) runner pms = hostOn env.DataSource env.FableSchema runner pms

/// A host in a test environment logging through `loggers`.
let hostLogged (env: PgEnv.Env) runner pms loggers = hostWith env.DataSource env.FableSchema runner pms (Some loggers)

/// The writers' store in a test environment.
let writer (env: PgEnv.Env) = storeFor env.DataSource env.FableSchema writerRuntime

/// Writes one row of `pm_seen` on the unit of work's own connection and transaction (raw SQL).
let record (uow: IUnitOfWork) (pm: string) (runner: string) (inc: Incoming) (ct: CancellationToken) =
    task {
        let conn = uow.Connection.Value :?> NpgsqlConnection
        let tx = uow.Transaction.Value :?> NpgsqlTransaction
        use cmd = new NpgsqlCommand("INSERT INTO pm_seen (pm, event_id, runner, decoded) VALUES ($1, $2, $3, $4)", conn, tx)
        cmd.Parameters.AddWithValue(pm) |> ignore
        cmd.Parameters.AddWithValue(inc.Recorded.Id) |> ignore
        cmd.Parameters.AddWithValue(runner) |> ignore
        cmd.Parameters.AddWithValue(inc.Event.IsSome) |> ignore
        let! _ = cmd.ExecuteNonQueryAsync ct
        ()
    }

/// A recorder: runs `before` (which may fail the event), records the event in `pm_seen` and counts it in its state.
let recorderWith (name: string) (runner: string) (batch: int) (policy: OnFailure) (start: StartAt)
                 (before: IUnitOfWork -> Incoming -> CancellationToken -> Task<Result<unit, FableError>>) : ProcessManagerDef =
    ProcessManager.create<int64> name 0L (fun s _ -> Ok s)
    |> ProcessManager.withHandleIn (fun uow s inc ct ->
        task {
            match! before uow inc ct with
            | Error e -> return Error e
            | Ok() ->
                do! record uow name runner inc ct
                return Ok(s + 1L)
        })
    |> fun pm -> { pm with BatchSize = batch; ErrorPolicy = policy; StartAt = start }
    |> ProcessManager.erase

/// A recorder that never fails, retrying every 10 ms, from the origin.
let recorder name runner batch =
    recorderWith name runner batch (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin (fun _ _ _ -> Task.FromResult(Ok()))

/// The mirror: for each Bumped of a counter, emits Mirrored to the mirror of the same key and counts in
/// `pm_stats`, all in its checkpoint's transaction.
let mirror (batch: int) : ProcessManagerDef =
    ProcessManager.create<int64> "mirror" 0L (fun s _ -> Ok s)
    |> ProcessManager.withHandleIn (fun uow s inc ct ->
        task {
            match inc.Event with
            | Some(:? Bumped as b) when inc.Recorded.Aggregate.Table = "counters" ->
                let decide = Pure(fun _ -> Ok [ box { Source = inc.Recorded.Id; By = b.By } ])
                match! uow.Emit(mirrors, inc.Recorded.Aggregate.Key, Expected.Any, decide, ct) with
                | Error e -> return Error e
                | Ok _ ->
                    match! uow.Tables.Upsert("pm_stats", Row.ofSeq [ "id", box "mirror"; "handled", box (s + 1L) ], ct) with
                    | Error e -> return Error e
                    | Ok() -> return Ok(s + 1L)
            | _ -> return Ok s
        })
    |> fun pm -> { pm with BatchSize = batch; ErrorPolicy = OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None) }
    |> ProcessManager.erase

/// Emits `events` to counter `key` in its own transaction.
let emitTo (store: PostgresStore) (key: int64) (events: obj list) =
    task {
        let! r = Store.emit store counters (AggregateKey.Int key) Expected.Any (Pure(fun _ -> Ok events)) CancellationToken.None
        return (PgDomain.ok "emit" r).Events
    }

/// Emits `n` Bumped events (By = 1..n) to counter `key`.
let bump (store: PostgresStore) (key: int64) (n: int) = emitTo store key [ for i in 1..n -> box { By = int64 i } ]

/// A committed event as the checks see it.
type Logged = { Id: int64; Prev: int64 option; Aggregate: string; TypeName: string }

/// Every committed event, by id.
let committed (env: PgEnv.Env) : Task<Map<int64, Logged>> =
    task {
        use! conn = env.DataSource.OpenConnectionAsync()
        use cmd =
            new NpgsqlCommand(
                sprintf "SELECT id, prev_event_id, aggregate_table || '/' || aggregate_key, type_name FROM %s.events" (PgEnv.q env.FableSchema),
                conn)
        use! r = cmd.ExecuteReaderAsync()
        let acc = Collections.Generic.List<Logged>()
        while r.Read() do
            acc.Add
                { Id = r.GetInt64 0
                  Prev = (if r.IsDBNull 1 then None else Some(r.GetInt64 1))
                  Aggregate = r.GetString 2
                  TypeName = r.GetString 3 }
        return acc |> Seq.map (fun e -> e.Id, e) |> Map.ofSeq
    }

/// The handlings `pm_seen` holds for `pm`, in handling order: (event id, runner, decoded).
let seen (env: PgEnv.Env) (pm: string) : Task<(int64 * string * bool) list> =
    task {
        use! conn = env.DataSource.OpenConnectionAsync()
        use cmd = new NpgsqlCommand("SELECT event_id, runner, decoded FROM pm_seen WHERE pm = $1 ORDER BY seq", conn)
        cmd.Parameters.AddWithValue(pm) |> ignore
        use! r = cmd.ExecuteReaderAsync()
        let acc = Collections.Generic.List<int64 * string * bool>()
        while r.Read() do
            acc.Add(r.GetInt64 0, r.GetString 1, r.GetBoolean 2)
        return List.ofSeq acc
    }

/// Checks that `handled` (event ids in handling order) holds each committed event accepted by `accepted` exactly
/// once, nothing else, and each aggregate's events in chain order (each follows its predecessor).
let expectOnceInChainOrder (what: string) (events: Map<int64, Logged>) (accepted: Logged -> bool) (handled: int64 list) =
    let dupes = handled |> List.countBy id |> List.filter (fun (_, n) -> n > 1)
    Expect.isEmpty dupes (sprintf "%s: no event handled twice" what)
    let expected = events |> Map.toSeq |> Seq.map snd |> Seq.filter accepted |> Seq.map (fun e -> e.Id) |> Set.ofSeq
    let strangers = handled |> List.filter (fun id -> not (events.ContainsKey id))
    Expect.isEmpty strangers (sprintf "%s: nothing handled that is not committed (rolled back)" what)
    Expect.isEmpty (Set.difference expected (Set.ofList handled)) (sprintf "%s: no committed event is missing" what)
    Expect.equal (Set.ofList handled) expected (sprintf "%s: every committed event handled" what)
    let mutable last: Map<string, int64> = Map.empty
    for id in handled do
        let e = events[id]
        let previous = Map.tryFind e.Aggregate last
        // With `accepted` filtering types, the predecessor of an included event may be excluded: only check
        // the order when every event of the aggregate is included.
        if accepted e && (e.Prev |> Option.forall (fun p -> accepted events[p])) then
            Expect.equal previous e.Prev (sprintf "%s: event %d of %s follows its predecessor" what id e.Aggregate)
        last <- Map.add e.Aggregate id last
    ()

/// A Result's value or a test failure.
let ok what r = PgDomain.ok what r

/// The status of `name`.
let status (h: IProcessManagerHost) (name: string) : Task<ProcessManagerInfo> =
    task {
        let! s = h.Status(name, CancellationToken.None)
        return ok ("status of " + name) s
    }

/// Catches up or fails the test.
let catchUp (h: IProcessManagerHost) =
    task {
        let! r = h.CatchUp CancellationToken.None
        ok "catch up" r
    }

/// Waits until followers can see `position` (transactions of concurrent tests on the same server may hold the
/// horizon back for a moment): StartAt.Head is the last position followers can see.
let visible (env: PgEnv.Env) (position: LogPosition) =
    task {
        let! head =
            PgDomain.eventually (fun () -> task { let! h = env.Interpreter.Head CancellationToken.None in return ok "head" h })
                (fun h -> compare h position >= 0)
        Expect.isGreaterThanOrEqual (head.Tx, head.Id) (position.Tx, position.Id) "the written events become visible to followers"
    }

/// A fresh environment with the process-manager tables.
let using (f: PgEnv.Env -> Task<unit>) =
    PgEnv.using (runtimeOf []) tables (fun env ->
        task {
            do! env.Exec seenDdl
            do! f env
        })
