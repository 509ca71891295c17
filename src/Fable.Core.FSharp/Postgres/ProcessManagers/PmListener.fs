// The LISTEN side of the wake-up: one connection per host listening on the store's notify channel; every
// notification wakes the runners. Reconnects with back-off; runners poll as well, so a lost listener only
// costs latency.
namespace Fable.Postgres

open System
open System.Threading
open System.Threading.Tasks

/// Listens for emit notifications.
module internal PmListener =
    /// Runs until `ct` fires: LISTEN on the store's channel and Set `wake` on every notification (and after
    /// each (re)connection, in case one was missed while not listening).
    let run (ctx: PmContext) (wake: PmSignal) (ct: CancellationToken) : Task =
        task {
            let channel = Sql.quote ctx.Store.Options.NotifyChannel
            let mutable backoff = TimeSpan.FromMilliseconds 100.0
            while not ct.IsCancellationRequested do
                try
                    use! conn = ctx.Store.DataSource.OpenConnectionAsync ct
                    use _sub = conn.Notification.Subscribe(fun _ -> wake.Set())
                    try
                        let! _ = PmTable.execute conn null ("LISTEN " + channel) [] ct
                        wake.Set()
                        backoff <- TimeSpan.FromMilliseconds 100.0
                        while not ct.IsCancellationRequested do
                            do! conn.WaitAsync ct
                    finally
                        // The pool resets a session only when it is reused: stop listening before handing it back.
                        try (PmTable.execute conn null "UNLISTEN *" [] CancellationToken.None).Wait() with _ -> ()
                with
                | :? OperationCanceledException when ct.IsCancellationRequested -> ()
                | e ->
                    ctx.Log(sprintf "process-manager listener on %s failed, reconnecting in %O: %s" channel backoff e.Message)
                    wake.Set()
                    try do! Task.Delay(backoff, ct) with _ -> ()
                    backoff <- TimeSpan.FromTicks(min (backoff.Ticks * 2L) (TimeSpan.FromSeconds 5.0).Ticks)
        }
