// Reading the global log as followers do: pages of any size add up to the whole log in (Tx, Id) order, Head is
// the position of its last event, nothing follows Head, a page size below 1 is refused, and an emit returns the
// positions followers read.
module Fable.Tests.GlobalLog

open System
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Pages through the log `size` events at a time; checks each page's length.
let private paged (i: IInterpreter) (size: int) =
    let rec go after acc =
        match run (i.ReadAll(after, size, ct)) |> ok "ReadAll" with
        | [] -> List.rev acc
        | page ->
            Expect.isLessThanOrEqual page.Length size "a page holds at most the events asked for"
            go (List.last page).Position (List.rev page @ acc)
    go LogPosition.Origin []

/// Pages of any size read the whole log once, in order; Head is its last position.
let paging (fixture: Fixture) =
    propertyOn fixture "pages of any size read the whole log once in order, Head is its last position, emits return those positions, and a page size below 1 is refused" 100
        (Gen.zip3 (Gen.choose (1, 3)) (Gen.listOf (Gen.zip (Gen.choose (0, 2)) Gens.command)) (Gen.choose (1, 7)))
        (fun (accountCount, steps, size) ->
            withInstance fixture runtime (fun inst ->
                let i = inst.Interpreter
                let keys = Array.init accountCount (fun _ -> Guid.NewGuid())
                let returned =
                    [ for (a, cmd) in steps do
                          match run (Store.emitPure i accounts (accountKey keys[a % accountCount]) (Commands.decide cmd) ct) with
                          | Ok e -> yield! e.Events
                          | Error _ -> () ]
                let all = readAll inst
                Expect.equal (all |> List.map (fun e -> e.Id, e.Position)) (returned |> List.map (fun e -> e.Id, e.Position))
                    "an emit in its own transaction returns its events with the positions followers read"
                Expect.equal (paged i size |> List.map (fun e -> e.Id)) (all |> List.map (fun e -> e.Id))
                    (sprintf "pages of %d read the same events in the same order" size)
                let head = run (i.Head ct) |> ok "Head"
                Expect.equal head (match List.tryLast all with Some e -> e.Position | None -> LogPosition.Origin) "Head is the last event's position"
                Expect.isEmpty (run (i.ReadAll(head, 10, ct)) |> ok "ReadAll after Head") "nothing follows Head"
                for bad in [ 0; -1 ] do
                    match run (i.ReadAll(LogPosition.Origin, bad, ct)) with
                    | Error(InvalidDefinition _) -> ()
                    | other -> failtestf "ReadAll with max %d should be InvalidDefinition, got %A" bad (other |> Result.map List.length)))

let tests (fixture: Fixture) = [ paging fixture ]
