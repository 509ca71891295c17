// The no-skip guarantee under generated schedules (FsCheck): concurrent writers whose transactions commit in a
// different order than they took their xids (xid taken before locking, long-open and idle transactions,
// rollbacks, multi-event emits) while two hosts compete for the same process managers (one restarted now and
// then). Every committed event is handled exactly once per process manager, each aggregate's events in chain
// order, no rolled-back event ever (a recorder partitioned 3 ways included: once across its partitions, by the
// partition its aggregate hashes to); the mirror's emits and table writes happen exactly once.
module Fable.Tests.ProcessManagerScheduleTests

open System
open System.Collections.Concurrent
open System.Text.Json
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Npgsql
open Fable.FSharp
open Fable.Tests.PmDomain

let private ct = CancellationToken.None

/// One writer transaction.
type WriterTx =
    {
        Key: int
        Events: int
        /// Take an xid (SELECT pg_current_xact_id()) before locking the aggregate.
        XidFirst: bool
        /// Milliseconds to wait after taking the xid and again before committing.
        PauseMs: int
        Rollback: bool
        /// A transaction that holds an xid and emits nothing (it only holds the horizon back).
        Idle: bool
        /// Also emits one event to this counter in the same transaction (a deadlock then rolls it back).
        Also: int option
    }

/// A generated schedule: the writers' transactions, whether host A is stopped and restarted meanwhile, and the
/// batch size of one recorder.
type Schedule = { Writers: WriterTx list list; Restart: bool; Batch: int }

let private txGen =
    gen {
        let! key = Gen.choose (0, 3)
        let! events = Gen.choose (1, 3)
        let! xidFirst = Gen.frequency [ 1, Gen.constant true; 1, Gen.constant false ]
        let! pause = Gen.frequency [ 3, Gen.constant 0; 3, Gen.choose (1, 4); 1, Gen.choose (10, 30) ]
        let! rollback = Gen.frequency [ 1, Gen.constant true; 5, Gen.constant false ]
        let! idle = Gen.frequency [ 1, Gen.constant true; 9, Gen.constant false ]
        let! also = Gen.frequency [ 4, Gen.constant None; 1, Gen.choose (0, 3) |> Gen.map Some ]
        let pause = if idle then pause + 20 else pause
        return { Key = key; Events = events; XidFirst = xidFirst; PauseMs = pause; Rollback = rollback; Idle = idle; Also = also }
    }

let private scheduleGen =
    gen {
        let! writers = Gen.choose (3, 5)
        let! txs = Gen.listOfLength writers (Gen.choose (4, 10) |> Gen.bind (fun n -> Gen.listOfLength n txGen))
        let! restart = Gen.elements [ true; false ]
        let! batch = Gen.choose (1, 8)
        return { Writers = txs; Restart = restart; Batch = batch }
    }

let private exec (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (sql: string) =
    task {
        use cmd = new NpgsqlCommand(sql, conn, tx)
        let! _ = cmd.ExecuteScalarAsync()
        ()
    }

/// Runs one writer's transactions; adds the ids of rolled-back events to `rolledBack`.
let private runWriter (env: PgEnv.Env) (store: Fable.FSharp.Postgres.PostgresStore) (rolledBack: ConcurrentBag<int64>) (txs: WriterTx list) =
    Task.Run(fun () ->
        task {
            for t in txs do
                use! conn = env.DataSource.OpenConnectionAsync()
                use! tx = conn.BeginTransactionAsync()
                if t.XidFirst || t.Idle then do! exec conn tx "SELECT pg_current_xact_id()"
                if t.PauseMs > 0 then do! Task.Delay t.PauseMs
                let mutable rollback = t.Rollback
                if not t.Idle then
                    let emitted = Collections.Generic.List<int64>()
                    let emitTo key events =
                        task {
                            let! r = store.InTransaction(conn, tx, fun uow -> uow.Emit(counters, AggregateKey.Int(int64 key), Expected.Any, Pure(fun _ -> Ok events), ct))
                            match r with
                            | Ok e -> for x in e.Events do emitted.Add x.Id
                            | Error e when FableError.isRetryable e -> rollback <- true // a deadlock between two-counter writers
                            | Error e -> failtestf "emit failed: %O" e
                        }
                    do! emitTo t.Key [ for i in 1 .. t.Events -> box { By = int64 i } ]
                    match t.Also with
                    | Some other when not rollback -> do! emitTo other [ box { By = 100L } ]
                    | _ -> ()
                    if t.PauseMs > 0 then do! Task.Delay t.PauseMs
                    if rollback then
                        for id in emitted do
                            rolledBack.Add id
                if rollback then do! tx.RollbackAsync() else do! tx.CommitAsync()
        } :> Task)

/// The sources of the Mirrored events recorded on the mirrors.
let private mirroredSources (env: PgEnv.Env) =
    task {
        let! rows =
            env.Scalar(
                sprintf "SELECT coalesce(string_agg(data->>'source', ','), '') FROM %s.events WHERE type_name = 'mirrored' AND aggregate_table = 'mirrors'"
                    (PgEnv.q env.FableSchema))
        return [ for s in (string rows).Split(',', StringSplitOptions.RemoveEmptyEntries) -> int64 s ]
    }

let private run (schedule: Schedule) =
    using (fun env ->
        task {
            let! store = writer env
            // rec-p: a recorder partitioned 3 ways (each partition its own checkpoint, state and runner lock).
            let pms runner =
                [ recorder "rec-a" runner schedule.Batch; recorder "rec-b" runner 16; mirror 7
                  recorder "rec-p" runner schedule.Batch |> ProcessManager.withPartitions 3 ]
            let! a = host env "A" (pms "A")
            let! b = host env "B" (pms "B")
            let a, b = a :> IProcessManagerHost, b :> IProcessManagerHost
            do! a.Start ct
            do! b.Start ct
            let rolledBack = ConcurrentBag<int64>()
            let writers = Task.WhenAll [ for txs in schedule.Writers -> runWriter env store rolledBack txs ]
            if schedule.Restart then
                while not writers.IsCompleted do
                    do! Task.Delay 15
                    do! a.Stop()
                    do! Task.Delay 5
                    do! a.Start ct
            do! writers
            // The first catch-up brings the mirror's emits; the second has them handled by the recorders.
            do! catchUp a
            do! catchUp b
            do! a.Stop()
            do! b.Stop()
            let! events = committed env
            let rolledBack = Set.ofSeq rolledBack
            for pm in [ "rec-a"; "rec-b" ] do
                let! handled = seen env pm
                let ids = [ for (id, _, _) in handled -> id ]
                expectOnceInChainOrder pm events (fun _ -> true) ids
                Expect.isEmpty (Set.intersect rolledBack (Set.ofList ids)) (pm + ": no rolled-back event is handled")
                let! st = status a pm
                Expect.equal st.State (string ids.Length) (pm + ": the state counted each handled event once")
                Expect.equal st.Lag 0L (pm + ": nothing left behind")
            // The partitioned recorder: all its partitions together handled each committed event exactly once, each
            // aggregate's events in chain order; each partition counted exactly the events its aggregates hash to.
            let! handledP = seen env "rec-p"
            let idsP = [ for (id, _, _) in handledP -> id ]
            expectOnceInChainOrder "rec-p" events (fun _ -> true) idsP
            Expect.isEmpty (Set.intersect rolledBack (Set.ofList idsP)) "rec-p: no rolled-back event is handled"
            let partitionOfLogged (e: Logged) =
                let table, key = let i = e.Aggregate.IndexOf '/' in e.Aggregate.Substring(0, i), e.Aggregate.Substring(i + 1)
                Partitioning.partitionOf 3 { Table = table; Key = AggregateKey.Int(int64 key) }
            for i in 0 .. 2 do
                let name = sprintf "rec-p#%d/3" i
                let! st = status a name
                let own = events.Values |> Seq.filter (fun e -> partitionOfLogged e = i) |> Seq.length
                Expect.equal st.State (string own) (name + ": the partition counted exactly the events of the aggregates that hash to it")
                Expect.equal st.Lag 0L (name + ": nothing left behind")
            let bumps = [ for e in events.Values do if e.TypeName = "bumped" then yield e.Id ]
            let! sources = mirroredSources env
            Expect.equal (List.sort sources) (List.sort bumps) "the mirror emitted exactly once per committed Bumped"
            let! stats = env.Scalar "SELECT handled FROM pm_stats WHERE id = 'mirror'"
            let stats = if isNull stats || stats :? DBNull then 0L else stats :?> int64
            Expect.equal stats (int64 bumps.Length) "the mirror's table write happened once per Bumped"
        })

let tests =
    testList "schedules" [
        testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 10 }
            "under concurrent writers committing out of xid order, every committed event is handled once per process manager in chain order"
            (Prop.forAll (Arb.fromGen scheduleGen) (fun s -> (run s).GetAwaiter().GetResult()))
    ]
