// Batch sizes on PostgreSQL: a runner that is behind grows full batches (fewer commits per catch-up), and reads
// the declared size again once live. Each handled event records the transaction it was handled in.
module Fable.Tests.PmBatchGrowthTests

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.PmDomain

/// A recorder of declared batch size 10 that also notes each handling's transaction id in `pm_batch_tx`.
let private txRecorder =
    recorderWith "grow" "A" 10 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin (fun uow inc ct ->
        task {
            let conn = uow.Connection.Value :?> NpgsqlConnection
            let tx = uow.Transaction.Value :?> NpgsqlTransaction
            use cmd = new NpgsqlCommand("INSERT INTO pm_batch_tx (event_id, xid) VALUES ($1, pg_current_xact_id()::text::bigint)", conn, tx)
            cmd.Parameters.AddWithValue(inc.Recorded.Id) |> ignore
            let! _ = cmd.ExecuteNonQueryAsync ct
            return Ok()
        })

/// The number of events handled in each transaction, in handling order.
let private batchSizes (env: PgEnv.Env) =
    task {
        use! conn = env.DataSource.OpenConnectionAsync()
        use cmd = new NpgsqlCommand("SELECT count(*) FROM pm_batch_tx GROUP BY xid ORDER BY min(event_id)", conn)
        use! r = cmd.ExecuteReaderAsync()
        let acc = Collections.Generic.List<int64>()
        while r.Read() do acc.Add(r.GetInt64 0)
        return List.ofSeq acc
    }

let tests =
    testList "batch sizes" [
        testTask "a runner that is behind doubles full batches up to 16 times the declared size, then reads the declared size when live" {
            do! using (fun env ->
                task {
                    do! env.Exec "CREATE TABLE pm_batch_tx (event_id bigint PRIMARY KEY, xid bigint NOT NULL)"
                    let! store = writer env
                    for k in 1L .. 30L do
                        let! _ = bump store k 100
                        ()
                    let! h = host env "A" [ txRecorder ]
                    let h = h :> IProcessManagerHost
                    do! catchUp h
                    let! sizes = batchSizes env
                    Expect.equal (List.sum sizes) 3000L "every event handled once"
                    Expect.equal sizes.Head 10L "the first batch reads the declared size"
                    Expect.isLessThanOrEqual (List.max sizes) 160L "never more than 16× the declared size"
                    Expect.isLessThan sizes.Length 100 (sprintf "the catch-up grew its batches (%d commits for 3,000 events; 300 at the declared size)" sizes.Length)
                    // Live: one emit of 3 events is one batch of 3; nothing larger than what is waiting.
                    do! env.Exec "TRUNCATE pm_batch_tx"
                    let! _ = bump store 99L 3
                    do! catchUp h
                    let! live = batchSizes env
                    Expect.equal live [ 3L ] "live: one batch of what waits"
                })
        }
    ]
