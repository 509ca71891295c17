// The benchmark's domain: bank accounts whose balance is the aggregate row, one event type (Deposited),
// on both interpreters, plus a process manager that only keeps a count.
module Fable.Bench.Domain

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// The only event of the benchmark.
type Deposited = { Amount: int64 }

/// The accounts aggregate in `table`: state = balance. Each store gets its own table: event ids of two stores
/// overlap, so chains of two stores on one row would collide.
let accountsIn (table: string) : AggregateDef<int64> =
    { Table = table
      KeyKind = KeyType.Int
      Initial = fun _ -> 0L
      Evolve = fun s e -> s + (e :?> Deposited).Amount
      ToRow = fun s -> Row.ofSeq [ "balance", box s ]
      OfRow = fun r -> match Row.tryGet "balance" r with Some v -> Convert.ToInt64 v | None -> 0L }

/// The accounts of the main store (rows 1–3 and 6).
let accounts = accountsIn "fable_accounts"

/// Every accounts table the benchmark's stores emit to (each store checks them all when it is created).
let accountTables =
    [ "fable_accounts"; "fable_accounts_notify"; "fable_wake_accounts"; "fable_notify_on_accounts"; "fable_notify_off_accounts" ]

/// The events registry, an empty route (no extra work) for Deposited and the declared accounts tables.
let definition (pms: ProcessManagerDef list) =
    { Events = EventRegistry.empty |> EventRegistry.add (EventType.create<Deposited> "deposited")
      Router = Router.empty |> Router.route<Deposited> []
      ProcessManagers = pms
      Tables = [ for t in accountTables -> TableDecl.aggregate t KeyType.Int [ TableDecl.column "balance" ColumnType.BigInt ] ] }

/// A process manager that counts what it handles and calls `onEvent` (for latency measurements).
let counter (name: string) (onEvent: StoredEvent -> unit) =
    ProcessManager.create<int64> name 0L (fun n e -> onEvent e.Recorded; Ok(n + 1L))
    |> fun pm -> { pm with BatchSize = 500 }
    |> ProcessManager.erase

/// Creates the aggregate table of `def` with `n` accounts (ids 1..n).
let setupTableOf (def: AggregateDef<int64>) (ds: NpgsqlDataSource) (n: int) =
    task {
        use cmd =
            ds.CreateCommand(
                sprintf
                    """
                    DROP TABLE IF EXISTS public.%s;
                    CREATE TABLE public.%s (id bigint PRIMARY KEY, last_event_id bigint NULL, balance bigint NOT NULL DEFAULT 0);
                    """
                    def.Table def.Table
            )
        let! _ = cmd.ExecuteNonQueryAsync()
        use ins = ds.CreateCommand(sprintf "INSERT INTO public.%s SELECT g, NULL, 0 FROM generate_series(1, $1) g" def.Table)
        ins.Parameters.AddWithValue(int64 n) |> ignore
        let! _ = ins.ExecuteNonQueryAsync()
        ()
    }

/// A decision that deposits 1, `count` times.
let deposits (count: int) : Decide<int64> =
    let events = List.init count (fun _ -> box { Amount = 1L })
    Pure(fun _ -> Ok events)

/// Creates the table of `accounts`.
let setupTable ds n = setupTableOf accounts ds n

/// One emit on `def` through any interpreter; the number of events recorded (0 on error).
let emitOn (def: AggregateDef<int64>) (i: IInterpreter) (id: int64) (decide: Decide<int64>) =
    task {
        match! Store.emit i def (AggregateKey.Int id) Expected.Any decide CancellationToken.None with
        | Ok e -> return e.Events.Length
        | Error(Conflict _) -> return 0
        | Error e -> return failwithf "emit failed: %O" e
    }

/// One emit on `accounts`.
let emit i id decide = emitOn accounts i id decide
