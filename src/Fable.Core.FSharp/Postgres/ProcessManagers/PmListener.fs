// The LISTEN side of the wake-up: one connection per host listening on the store's notify channel; every
// notification wakes the runners, except those of the store's own notifier (its commits woke them in-process).
// Reconnects with back-off; runners poll as well, so a lost listener only costs latency.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// Listens for emit notifications.
module internal PmListener =
    /// Listens on `conn` until `ct` fires or the connection fails; None when stopped, Some error otherwise.
    let private listenOn (ctx: PmContext) (conn: NpgsqlConnection) (channel: string) (wake: PmSignal) (onListening: unit -> unit) (ct: CancellationToken) =
        task {
            try
                // A NOTIFY from this store's own notifier follows commits whose in-process signal already woke
                // the runners: waking them again would only cost an empty step, during which new commits wait.
                let notifier = ctx.Store.Notifier
                use _sub = conn.Notification.Subscribe(fun a ->
                    if a.PID <> notifier.SenderPid then wake.Set())
                let! _ = PmTable.execute conn null ("LISTEN " + channel) [] ct
                // Anything committed while nobody listened: look now.
                wake.Set()
                onListening ()
                while not ct.IsCancellationRequested do
                    do! conn.WaitAsync ct
                return None
            with
            | :? OperationCanceledException when ct.IsCancellationRequested -> return None
            | e -> return Some e
        }

    /// Runs until `ct` fires: LISTEN on the store's channel and Set `wake` on every notification (and after
    /// each (re)connection, in case one was missed while not listening).
    let run (ctx: PmContext) (wake: PmSignal) (ct: CancellationToken) : Task =
        task {
            Telemetry.detach ()
            let channel = Sql.quote ctx.Store.Options.NotifyChannel
            let first = TimeSpan.FromMilliseconds 100.0
            let mutable backoff = first
            // Whether the last connection was lost (its successor logs that it listens again).
            let mutable lost = false
            while not ct.IsCancellationRequested do
                let! failure =
                    task {
                        try
                            let! conn = ctx.Store.DataSource.OpenConnectionAsync ct
                            let listening () =
                                backoff <- first
                                if lost then
                                    lost <- false
                                    FableLog.listenerRestored ctx.Log ctx.Store.Options.NotifyChannel
                            let! failure = listenOn ctx conn channel wake listening ct
                            // The pool resets a session only when it is reused: stop listening before handing it
                            // back (a broken connection fails here and is discarded instead).
                            try
                                let! _ = PmTable.execute conn null "UNLISTEN *" [] CancellationToken.None
                                ()
                            with _ ->
                                ()
                            do! conn.DisposeAsync()
                            return failure
                        with
                        | :? OperationCanceledException when ct.IsCancellationRequested -> return None
                        | e -> return Some e
                    }
                match failure with
                | Some e when not ct.IsCancellationRequested ->
                    FableLog.listenerLost ctx.Log ctx.Store.Options.NotifyChannel backoff e
                    lost <- true
                    wake.Set()
                    do! PmRunner.wait PmRunner.never backoff ct
                    backoff <- PmRunner.grow backoff (TimeSpan.FromSeconds 5.0)
                | _ -> ()
        }
