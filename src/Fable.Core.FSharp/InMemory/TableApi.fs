// The portable table API (ITables) of an in-memory unit of work: reads go through its overlay to the committed
// tables; writes are staged in the overlay and commit or roll back with the unit of work. Tables, columns, keys and
// values are checked and coerced by Core's TableSchema exactly as the PostgreSQL interpreter checks them.
namespace Fable.FSharp.InMemory

open System.Collections.Generic
open System.Threading.Tasks
open Fable.FSharp

/// The table API of a unit of work, reading through its overlay.
type internal Tables(overlay: Overlay, schemas: TableSchemas) =
    let run (table: string) (f: TableSchema -> Result<'T, FableError>) : Task<Result<'T, FableError>> =
        if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
        else
            match TableSchema.table schemas table with
            | Error e -> Task.FromResult(Error e)
            | Ok t ->
                try
                    Task.FromResult(f t)
                with e ->
                    Task.FromResult(Error(Infrastructure(sprintf "table %s: %s" table e.Message, Some e)))

    let keyOf (t: TableSchema) (id: obj) =
        TableSchema.key t id |> Result.map (fun v -> { Table = t.Name; Id = v })

    interface ITables with
        member _.Get(table, id, _ct) =
            run table (fun t -> keyOf t id |> Result.map (fun k -> Option.ofObj (overlay.View k)))

        member _.Find(table, column, value, _ct) =
            run table (fun t ->
                TableSchema.operand t column value
                |> Result.map (fun (c, value) ->
                    let own = overlay.PendingOf table
                    let shadowed = HashSet<obj>(own |> Seq.map (fun (k, _) -> k.Id))
                    let matches (r: Row) =
                        match r.TryGetValue c.Name with
                        | true, v -> Values.equal v value
                        | _ -> isNull value
                    let committed = overlay.Committed(table, c.Name, value)
                    let rows =
                        [ for r in committed do if not (shadowed.Contains r["id"]) then yield r
                          for (_, p) in own do
                              match Rows.viewOf p with
                              | null -> ()
                              | r when matches r -> yield r
                              | _ -> () ]
                    rows |> List.sortWith (fun a b -> Coerce.compareIds a["id"] b["id"])))

        member _.Insert(table, row, _ct) =
            run table (fun t ->
                TableSchema.coerceRow t row
                |> Result.bind (fun r -> TableSchema.checkInsert t r |> Result.map (fun () -> r))
                |> Result.bind (fun r ->
                    let k = { Table = table; Id = r["id"] }
                    if isNull (overlay.View k) then
                        overlay.Insert(k, TableSchema.complete t r)
                        Ok()
                    else
                        Error(TableSchema.duplicate t k.Id)))

        member _.Upsert(table, row, _ct) =
            run table (fun t ->
                TableSchema.coerceRow t row
                |> Result.bind (fun r ->
                    let k = { Table = table; Id = r["id"] }
                    if isNull (overlay.View k) then
                        TableSchema.checkInsert t r |> Result.map (fun () -> overlay.Merge(k, TableSchema.complete t r))
                    else
                        Ok(overlay.Merge(k, r))))

        member _.Delete(table, id, _ct) =
            run table (fun t ->
                keyOf t id
                |> Result.map (fun k ->
                    if isNull (overlay.View k) then false
                    else
                        overlay.Delete k
                        true))
