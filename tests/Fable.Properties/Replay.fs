// Replay equivalence: rebuilding an aggregate from its log (evolve + handlers with Replaying = true) gives the
// same row and the same associated rows, and repairs a row changed behind Fable's back.
module Fable.Tests.Replay

open System
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

let private associated (inst: Instance) (key: Guid) =
    [ ledgerTable; notesTable ]
    |> List.collect (fun t -> rows inst t |> List.filter (fun r -> Row.tryGet "account" r = Some(box key)) |> List.map canon)

let private emitAll (i: IInterpreter) key cmds =
    for cmd in cmds do
        run (Store.emitPure i accounts (accountKey key) (Commands.decide cmd) ct) |> ignore

/// Replay rebuilds the same row and associated rows; an aggregate without events is NotFound.
let sameRow (fixture: Fixture) =
    propertyOn fixture "replaying an aggregate's log rebuilds the same row and the same associated rows" 150 Gens.history (fun cmds ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            emitAll i key cmds
            let row = rowOf inst accountsTable (box key) |> Option.map canon
            let others = associated inst key
            let loaded = run (Store.load i accounts (accountKey key) ct) |> ok "Load"
            match run (Store.replay i accounts (accountKey key) ct), loaded with
            | Error(NotFound id), None -> Expect.equal id (accountId key) "replay of an aggregate without events is NotFound"
            | Error e, _ -> failtestf "replay failed: %O" e
            | Ok _, None -> failtest "replay of an aggregate without events succeeded"
            | Ok replayed, Some a ->
                Expect.equal replayed.State a.State "replay returns the loaded state"
                Expect.equal replayed.LastEventId a.LastEventId "replay keeps the head"
                Expect.equal (rowOf inst accountsTable (box key) |> Option.map canon) row "the row is unchanged"
                Expect.equal (associated inst key) others "the associated rows are unchanged"))

/// A row changed without events is restored by replay.
let repairs (fixture: Fixture) =
    propertyOn fixture "replay restores a row that was changed without events" 100 Gens.history (fun cmds ->
        withInstance fixture runtime (fun inst ->
            let i = inst.Interpreter
            let key = Guid.NewGuid()
            emitAll i key (Commands.Deposit 1L :: cmds)
            let row = rowOf inst accountsTable (box key) |> Option.map canon
            let tamper (uow: IUnitOfWork) =
                uow.Tables.Upsert(accountsTable, Row.ofSeq [ "id", box key; "balance", box -999L; "owner", box "tampered" ], ct)
            run (i.Transact(tamper, ct)) |> ok "tampering"
            Expect.notEqual (rowOf inst accountsTable (box key) |> Option.map canon) row "the row was changed"
            run (Store.replay i accounts (accountKey key) ct) |> ok "Replay" |> ignore
            Expect.equal (rowOf inst accountsTable (box key) |> Option.map canon) row "replay restored the row"))

let tests (fixture: Fixture) = [ sameRow fixture; repairs fixture ]
