// The stored partition layout of a process manager: which rows a declaration owns (`name`, or `name#i/N`), the check
// that the stored partition count is the declared one, and the explicit re-partition operation.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// Where the partitions of a re-partitioned process manager start.
[<RequireQualifiedAccess>]
type RepartitionFrom =
    /// Where the old rows stopped: every old row must be at the same checkpoint (drained: runners stopped after
    /// catching up with writers paused). New partitions start there with the initial state; nothing is handled twice.
    | Drained
    /// From the origin with the initial state: every event is handled again by its new partition (a rebuild; the
    /// handlers' database effects of past events happen again).
    | Origin

/// One declared process manager as stored: a single row, or `count` partition rows.
[<RequireQualifiedAccess>]
type internal PmLayout =
    | Single
    | Partitioned of count: int

    override this.ToString() =
        match this with
        | Single -> "unpartitioned"
        | Partitioned n -> sprintf "%d partitions" n

/// Reading and changing stored layouts.
module internal PmLayouts =
    /// The declaration (group name and layout) a runtime process manager belongs to.
    let groupOf (pm: ProcessManagerDef) =
        match pm.Partitioning with
        | PmPartitioning.Slot s -> s.Group, PmLayout.Partitioned s.Count
        | _ -> pm.Name, PmLayout.Single

    /// The stored rows of `group` (the row named `group` and every `group#i/n`), with their checkpoints; locked
    /// FOR UPDATE when `tx` is given.
    let private storedRows (conn: NpgsqlConnection) (tx: NpgsqlTransaction) (schema: string) (group: string) (ct: CancellationToken) =
        task {
            let sql =
                sprintf "SELECT name, checkpoint_tx, checkpoint_id FROM %s WHERE name = $1 OR left(name, length($1) + 1) = $1 || '#' ORDER BY name%s"
                    (PmTable.table schema) (if isNull tx then "" else " FOR UPDATE")
            let! rs = PmTable.rows conn tx sql [ NpgsqlParameter(Value = group, NpgsqlDbType = NpgsqlDbType.Text) ] ct
            return
                [ for r in rs do
                      let name = r["name"] :?> string
                      let at = { Tx = Convert.ToInt64 r["checkpoint_tx"]; Id = Convert.ToInt64 r["checkpoint_id"] }
                      if name = group then yield name, PmLayout.Single, at
                      else
                          match Partitioning.tryParse group name with
                          | Some s -> yield name, PmLayout.Partitioned s.Count, at
                          | None -> () ]
        }

    let private describeStored (rows: (string * PmLayout * LogPosition) list) =
        rows |> List.map (fun (_, l, _) -> l) |> List.distinct |> List.map string |> String.concat " and "

    let private repartitionHint (schema: string) (group: string) =
        sprintf "changing the partition count is explicit: stop every runner of %s, then re-partition with this declaration (C#: FableBuilder.Repartition(\"%s\", RepartitionStart.Drained or Origin); F#: PostgresProcessManagers.Repartition(store, \"%s\", RepartitionFrom.Drained or Origin)) in schema %s (docs/scaling.md, \"Re-partitioning\")"
            group group group (Sql.quote schema)

    /// InvalidDefinition when `group` is stored with another layout than `declared` (nothing stored: Ok).
    let check (conn: NpgsqlConnection) (schema: string) (group: string) (declared: PmLayout) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            let! rows = storedRows conn null schema group ct
            if rows |> List.forall (fun (_, l, _) -> l = declared) then
                return Ok()
            else
                return
                    Error(InvalidDefinition
                        [ sprintf "process manager %s is declared %O but stored %s: %s" group declared (describeStored rows) (repartitionHint schema group) ])
        }

    /// Replaces the stored rows of `group` by the `declared` layout's rows (initial state `initial`), in one
    /// transaction, refused while any runner holds one of them. Already in that layout (or nothing stored):
    /// nothing changes.
    let repartition (conn: NpgsqlConnection) (schema: string) (group: string) (declared: PmLayout) (initial: string)
                    (names: string list) (from: RepartitionFrom) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            use! tx = conn.BeginTransactionAsync ct
            let! rows = storedRows conn tx schema group ct
            let mutable held = []
            for (name, _, _) in rows do
                let! r =
                    PmTable.rows conn tx "SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok"
                        [ NpgsqlParameter(Value = PmSchema.lockText schema name, NpgsqlDbType = NpgsqlDbType.Text) ] ct
                if not ((List.head r)["ok"] :?> bool) then held <- name :: held
            let checkpoints = rows |> List.map (fun (_, _, at) -> at) |> List.distinct
            let conflict m = Error(Conflict(None, None, None, true, m))
            let start =
                match from, checkpoints with
                | RepartitionFrom.Origin, _
                | RepartitionFrom.Drained, [] -> Ok LogPosition.Origin
                | RepartitionFrom.Drained, [ at ] -> Ok at
                | RepartitionFrom.Drained, many ->
                    conflict (
                        sprintf "cannot re-partition %s from where it stopped: its rows are at different checkpoints (%s); let every runner catch up with writers paused, stop the runners, and call Repartition again (or re-partition from the origin)"
                            group (many |> List.map string |> String.concat ", "))
            if not held.IsEmpty then
                do! tx.RollbackAsync ct
                return
                    conflict (sprintf "cannot re-partition %s: a runner holds %s; stop every runner of %s (in every process) and call Repartition again" group (held |> List.rev |> String.concat ", ") group)
            elif rows |> List.forall (fun (_, l, _) -> l = declared) then
                // Already in this layout, or nothing stored yet (registration inserts the rows at their StartAt).
                do! tx.RollbackAsync ct
                return Ok()
            else
                match start with
                | Error e ->
                    do! tx.RollbackAsync ct
                    return Error e
                | Ok at ->
                    for (name, _, _) in rows do
                        let! _ = PmTable.execute conn tx (sprintf "DELETE FROM %s WHERE name = $1" (PmTable.table schema)) [ NpgsqlParameter(Value = name, NpgsqlDbType = NpgsqlDbType.Text) ] ct
                        ()
                    for name in names do
                        let! _ =
                            PmTable.execute conn tx
                                (sprintf "INSERT INTO %s (name, state, checkpoint_tx, checkpoint_id) VALUES ($1, $2, $3, $4)" (PmTable.table schema))
                                [ NpgsqlParameter(Value = name, NpgsqlDbType = NpgsqlDbType.Text)
                                  NpgsqlParameter(Value = initial, NpgsqlDbType = NpgsqlDbType.Jsonb)
                                  NpgsqlParameter(Value = at.Tx, NpgsqlDbType = NpgsqlDbType.Bigint)
                                  NpgsqlParameter(Value = at.Id, NpgsqlDbType = NpgsqlDbType.Bigint) ] ct
                        ()
                    do! tx.CommitAsync ct
                    return Ok()
        }
