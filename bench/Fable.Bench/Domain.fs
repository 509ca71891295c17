// The benchmark's domain: bank accounts whose balance is the aggregate row, one event type (Deposited),
// on both interpreters, plus a process manager that only keeps a count.
module Fable.Bench.Domain

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable

/// The only event of the benchmark.
type Deposited = { Amount: int64 }

/// The accounts aggregate: state = balance.
let accounts: AggregateDef<int64> =
    { Table = "fable_accounts"
      KeyKind = KeyKind.Int
      Initial = fun _ -> 0L
      Evolve = fun s e -> s + (e :?> Deposited).Amount
      ToRow = fun s -> Row.ofSeq [ "balance", box s ]
      OfRow = fun r -> match Row.tryGet "balance" r with Some v -> Convert.ToInt64 v | None -> 0L }

/// The events registry and an empty route (no extra work) for Deposited.
let definition (pms: ProcessManagerDef list) =
    { Events = EventRegistry.empty |> EventRegistry.add (EventType.create<Deposited> "deposited")
      Router = Router.empty |> Router.route<Deposited> []
      ProcessManagers = pms }

/// A process manager that counts what it handles and calls `onEvent` (for latency measurements).
let counter (name: string) (onEvent: RecordedEvent -> unit) =
    ProcessManager.create<int64> name 0L (fun n e -> onEvent e.Recorded; Ok(n + 1L))
    |> fun pm -> { pm with BatchSize = 500 }
    |> ProcessManager.erase

/// Creates the aggregate table with `n` accounts (ids 1..n).
let setupTable (ds: NpgsqlDataSource) (n: int) =
    task {
        use cmd =
            ds.CreateCommand(
                """
                DROP TABLE IF EXISTS public.fable_accounts;
                CREATE TABLE public.fable_accounts (id bigint PRIMARY KEY, last_event_id bigint NULL, balance bigint NOT NULL DEFAULT 0);
                """
            )
        let! _ = cmd.ExecuteNonQueryAsync()
        use ins = ds.CreateCommand("INSERT INTO public.fable_accounts SELECT g, NULL, 0 FROM generate_series(1, $1) g")
        ins.Parameters.AddWithValue(int64 n) |> ignore
        let! _ = ins.ExecuteNonQueryAsync()
        ()
    }

/// A decision that deposits 1, `count` times.
let deposits (count: int) : Decide<int64> =
    let events = List.init count (fun _ -> box { Amount = 1L })
    Pure(fun _ -> Ok events)

/// One emit through any interpreter; the number of events recorded (0 on error).
let emit (i: IInterpreter) (id: int64) (decide: Decide<int64>) =
    task {
        match! Store.emit i accounts (AggregateKey.Int id) Expected.Any decide CancellationToken.None with
        | Ok e -> return e.Events.Length
        | Error(Conflict _) -> return 0
        | Error e -> return failwithf "emit failed: %O" e
    }
