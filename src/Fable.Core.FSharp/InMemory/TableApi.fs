// The portable table API (ITables) of an in-memory unit of work: reads go through its overlay to the committed
// tables; writes are staged in the overlay and commit or roll back with the unit of work.
namespace Fable.InMemory

open System
open System.Collections.Generic
open System.Threading.Tasks
open Fable

/// The table API of a unit of work, reading through its overlay.
type internal Tables(overlay: Overlay) =
    let run (table: string) (f: unit -> Result<'T, FableError>) : Task<Result<'T, FableError>> =
        if overlay.Ended then Task.FromResult(Error Overlay.EndedError)
        elif String.IsNullOrWhiteSpace table then Task.FromResult(Error(InvalidDefinition [ "a table name is blank" ]))
        else
            try
                Task.FromResult(f ())
            with e ->
                Task.FromResult(Error(Infrastructure(sprintf "table %s: %s" table e.Message, Some e)))

    let keyOf table (id: obj) =
        match Values.normalize id with
        | null -> Error(InvalidDefinition [ sprintf "a null id was used on %s" table ])
        | v -> Ok { Table = table; Id = v }

    interface ITables with
        member _.Get(table, id, _ct) =
            run table (fun () -> keyOf table id |> Result.map (fun k -> Option.ofObj (overlay.View k)))

        member _.Find(table, column, value, _ct) =
            run table (fun () ->
                let own = overlay.PendingOf table
                let shadowed = HashSet<obj>(own |> Seq.map (fun (k, _) -> k.Id))
                let matches (r: Row) =
                    match r.TryGetValue column with
                    | true, v -> Values.equal v value
                    | _ -> isNull (Values.normalize value)
                let committed = overlay.Committed(table, column, value)
                let rows =
                    [ for r in committed do if not (shadowed.Contains r["id"]) then yield r
                      for (_, p) in own do
                          match Rows.viewOf p with
                          | null -> ()
                          | r when matches r -> yield r
                          | _ -> () ]
                Ok(rows |> List.sortWith (fun a b -> Values.compareIds a["id"] b["id"])))

        member _.Insert(table, row, _ct) =
            run table (fun () ->
                Rows.ofCaller table row
                |> Result.bind (fun d ->
                    let k = { Table = table; Id = d["id"] }
                    if isNull (overlay.View k) then
                        overlay.Insert(k, d)
                        Ok()
                    else
                        Error(Conflict(None, None, None, false, sprintf "a row with id %O already exists in %s" k.Id table))))

        member _.Upsert(table, row, _ct) =
            run table (fun () ->
                Rows.ofCaller table row
                |> Result.map (fun d -> overlay.Merge({ Table = table; Id = d["id"] }, d)))

        member _.Delete(table, id, _ct) =
            run table (fun () ->
                keyOf table id
                |> Result.map (fun k ->
                    if isNull (overlay.View k) then false
                    else
                        overlay.Delete k
                        true))
