// The process-managers table of Fable's schema (one row per name: state, checkpoint, error policy bookkeeping,
// holder) as a migration step, the advisory-lock key that gives one runner per name across processes, and the
// key that lets control operations go before the next batch.
namespace Fable.FSharp.Postgres

/// The process-managers table and lock naming.
module internal PmSchema =
    /// The statements that create the table in a schema given as a quoted identifier.
    let statements (s: string) =
        [ sprintf
              """CREATE TABLE %s.process_managers (
                   name text PRIMARY KEY,
                   state jsonb NOT NULL,
                   checkpoint_tx bigint NOT NULL,
                   checkpoint_id bigint NOT NULL,
                   active boolean NOT NULL DEFAULT true,
                   last_error text NULL,
                   attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                   next_attempt_at timestamptz NULL,
                   holder text NULL,
                   holder_pid integer NULL,
                   version bigint NOT NULL DEFAULT 0,
                   created_at timestamptz NOT NULL DEFAULT now(),
                   updated_at timestamptz NOT NULL DEFAULT now())"""
              s
          sprintf "COMMENT ON TABLE %s.process_managers IS 'Fable process managers: the checkpoint (checkpoint_tx, checkpoint_id) is the last (tx, id) handled; version grows with every change and guards each write'" s ]

    /// The text hashed (hashtextextended(text, 0)) into the session advisory-lock key of process manager `name`
    /// in `schema` (the unquoted schema name).
    let lockText (schema: string) (name: string) = "fable.pm:" + schema + ":" + name

    /// The text hashed into the transaction advisory-lock key that orders control operations on `name` against
    /// its batches: each batch takes it shared, each control operation exclusive, so a waiting control operation
    /// goes before the next batch (a row lock alone lets a runner that relocks at once go first every time).
    let gateText (schema: string) (name: string) = "fable.pm.gate:" + schema + ":" + name
