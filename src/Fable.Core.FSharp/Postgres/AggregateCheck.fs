// Checks an aggregate definition against its table in the catalog (read as TableCheck reads it): the definition's own check (AggregateRow.check),
// the table exists, `id` is its primary key of the key type, `last_event_id bigint NULL`, and every ToRow column.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// The catalog check behind PostgresStore.CheckAggregate.
module internal AggregateCheck =
    let private keyTypeOk (kind: KeyType) (sqlType: string) =
        match kind with
        | KeyType.Uuid -> sqlType = "uuid"
        | KeyType.Int -> sqlType = "bigint"
        | _ -> sqlType = "text" || sqlType.StartsWith("character varying", StringComparison.Ordinal)

    let private keyTypeName (kind: KeyType) =
        match kind with
        | KeyType.Uuid -> "uuid"
        | KeyType.Int -> "bigint"
        | _ -> "text or varchar"

    let private problems (def: AggregateDef<'S>) (exists: bool) (cols: TableCheck.CatalogColumn list) =
        let t = def.Table
        let byName = cols |> List.map (fun c -> c.Name, c) |> Map.ofList
        [ if not exists then
              yield sprintf "aggregate table %s does not exist (it needs a primary key id and a column last_event_id bigint NULL)" t
          else
              match Map.tryFind "id" byName with
              | None -> yield sprintf "aggregate table %s has no column id (its primary key)" t
              | Some c ->
                  if not c.IsPrimaryKey then
                      yield sprintf "column %s.id is not the table's primary key" t
                  if not (keyTypeOk def.KeyKind c.Type) then
                      yield sprintf "column %s.id is %s but aggregate %s has %A keys (expected %s)" t c.Type t def.KeyKind (keyTypeName def.KeyKind)
              match Map.tryFind "last_event_id" byName with
              | None -> yield sprintf "aggregate table %s has no column last_event_id (add it: ALTER TABLE %s ADD COLUMN last_event_id bigint NULL)" t (Sql.table t)
              | Some c ->
                  if c.Type <> "bigint" then
                      yield sprintf "column %s.last_event_id is %s, expected bigint" t c.Type
                  if c.NotNull then
                      yield sprintf "column %s.last_event_id is NOT NULL; it must allow NULL" t
          // The definition's own problems, as every interpreter finds them (AggregateRow.check).
          match AggregateRow.check def with
          | Error ps -> yield! ps
          | Ok written ->
              if exists then
                  for c in written do
                      if not (byName.ContainsKey c) then
                          yield sprintf "aggregate table %s has no column %s (written by ToRow)" t c ]

    /// Ok when the table fits the definition; otherwise InvalidDefinition naming every problem.
    let check (ds: NpgsqlDataSource) (def: AggregateDef<'S>) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            match AggregateDef.validate None def with
            | _ :: _ as ps -> return Error(InvalidDefinition ps)
            | [] ->
                try
                    use! conn = ds.OpenConnectionAsync ct
                    let! exists, cols = TableCheck.read conn def.Table ct
                    match problems def exists cols with
                    | [] -> return Ok()
                    | ps -> return Error(InvalidDefinition ps)
                with e ->
                    return Error(PgErrors.ofExn None ct e)
        }
