// Options of the Postgres interpreter: the schema Fable owns and whether emits wake followers with NOTIFY.
// Also the names derived from the schema (the notify channel, lock keys) so every component agrees on them.
namespace Fable.FSharp.Postgres

open System
open System.Text

/// How the Postgres interpreter stores events.
type PostgresOptions =
    {
        /// The schema that holds Fable's own tables (events, schema_version, ...). Created by the migration.
        Schema: string
        /// Whether committed events wake followers in other processes with `NOTIFY` on `NotifyChannel` (an
        /// empty payload). After a transaction the store owns commits, the store's notifier sends at most one
        /// NOTIFY per few milliseconds on a connection of its own, always one after the last commit; an emit in
        /// the caller's transaction (`InTransaction`) notifies inside that transaction. In-process subscribers
        /// (`PostgresStore.Committed`) are signalled whatever this says.
        Notify: bool
    }

    /// Schema "fable", notifications on.
    static member Default = { Schema = "fable"; Notify = true }

    /// The channel emits notify on: the schema name followed by ".events" (for schema "fable": `fable.events`).
    /// Listen to it with `LISTEN "fable.events"` (quoted: it contains a dot). The payload is empty; a
    /// notification only means "new events were committed": followers read with `ReadAll`, which may show
    /// them a little later (while an older transaction is still open), so followers also poll.
    member this.NotifyChannel = this.Schema + ".events"

    /// Every problem of these options: a blank schema, or one too long for the notify channel name (63 bytes).
    member this.Problems =
        [ if String.IsNullOrWhiteSpace this.Schema then
              yield "the Postgres schema name is blank"
          elif Encoding.UTF8.GetByteCount this.NotifyChannel > 63 then
              yield sprintf "the Postgres schema name %s is too long (at most %d bytes)" this.Schema (63 - ".events".Length)
          if not (isNull this.Schema) && this.Schema.Contains '\000' then
              yield "the Postgres schema name contains a NUL character" ]
