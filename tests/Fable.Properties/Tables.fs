// The table API against a model: Insert (a duplicate id is a Conflict), Upsert (merges the listed columns),
// Delete, Get and Find (ordered by id) inside units of work that commit or roll back.
module Fable.Tests.Tables

open System
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// One table operation.
type Op =
    | Insert of id: int64 * cols: (string * obj) list
    | Upsert of id: int64 * cols: (string * obj) list
    | Delete of id: int64
    | Get of id: int64
    | Find of column: string * value: obj

type private Model = Map<int64, Map<string, obj>>

let private column =
    Gen.oneof
        [ Gen.choose (0, 3) |> Gen.map (fun v -> "a", box (int64 v))
          Gen.choose (0, 3) |> Gen.map (fun v -> "b", box (int64 v))
          Gen.elements [ "x"; "y"; "é" ] |> Gen.map (fun v -> "c", box v) ]

let private columns = Gen.listOf column |> Gen.map (List.distinctBy fst)

let private op =
    let id = Gen.choose (1, 6) |> Gen.map int64
    Gen.frequency
        [ 3, Gen.map2 (fun i c -> Insert(i, c)) id columns
          3, Gen.map2 (fun i c -> Upsert(i, c)) id columns
          1, Gen.map Delete id
          2, Gen.map Get id
          2, column |> Gen.map Find ]

/// Phases: operations run in one unit of work that commits (true) or rolls back (false).
let private phases = Gen.listOf (Gen.zip (Gen.listOf op) (Gen.elements [ true; true; false ])) |> Gen.map (List.truncate 4)

/// A row without null columns, as sorted (column, text) pairs.
let private canonNonNull (r: Row) =
    r |> Seq.filter (fun kv -> not (isNull kv.Value) && not (kv.Value :? DBNull)) |> Seq.map (fun kv -> kv.Key, string kv.Value) |> Seq.sort |> List.ofSeq

let private canonModel (id: int64) (cols: Map<string, obj>) =
    ("id", string id) :: [ for kv in cols -> kv.Key, string kv.Value ] |> List.sort

let private step (uow: IUnitOfWork) (model: Model) (op: Op) : Model =
    let tables = uow.Tables
    match op with
    | Insert(id, cols) ->
        let r = run (tables.Insert(kvTable, Row.ofSeq (("id", box id) :: cols), ct))
        if model.ContainsKey id then
            Expect.equal (err "a duplicate insert" r).Code ErrorCodes.Conflict "inserting an existing id is a Conflict"
            model
        else
            ok "Insert" r
            model.Add(id, Map.ofList cols)
    | Upsert(id, cols) ->
        run (tables.Upsert(kvTable, Row.ofSeq (("id", box id) :: cols), ct)) |> ok "Upsert"
        let old = model.TryFind id |> Option.defaultValue Map.empty
        model.Add(id, cols |> List.fold (fun m (k, v) -> Map.add k v m) old)
    | Delete id ->
        let deleted = run (tables.Delete(kvTable, box id, ct)) |> ok "Delete"
        Expect.equal deleted (model.ContainsKey id) "Delete says whether a row was there"
        model.Remove id
    | Get id ->
        let row = run (tables.Get(kvTable, box id, ct)) |> ok "Get"
        Expect.equal (row |> Option.map canonNonNull) (model.TryFind id |> Option.map (canonModel id)) "Get reads the row as written"
        model
    | Find(column, value) ->
        let found = run (tables.Find(kvTable, column, value, ct)) |> ok "Find"
        let expected =
            [ for kv in model do
                  match kv.Value.TryFind column with
                  | Some v when string v = string value -> yield canonModel kv.Key kv.Value
                  | _ -> () ]
        Expect.equal (found |> List.map canonNonNull) expected "Find returns the matching rows ordered by id"
        model

/// Table operations agree with the model inside units of work, and only committed ones stay.
let agreesWithModel (fixture: Fixture) =
    propertyOn fixture "table writes and reads agree with a model, and only committed units of work keep their writes" 200 phases (fun phases ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let mutable committed: Model = Map.empty
            for (ops, commit) in phases do
                let work (uow: IUnitOfWork) =
                    task {
                        let model = ops |> List.fold (step uow) committed
                        return if commit then Ok model else Error(FableError.reject "roll back")
                    }
                match run (i.Transact(work, ct)) with
                | Ok model -> committed <- model
                | Error(Rejected _) -> ()
                | Error e -> failtestf "the unit of work failed: %O" e
                let stored = rows inst kvTable |> List.map canonNonNull
                Expect.equal stored [ for kv in committed -> canonModel kv.Key kv.Value ] "the table holds the committed model"))

let tests (fixture: Fixture) = [ agreesWithModel fixture ]
