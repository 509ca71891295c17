// Shared checks of the stored log against rows: the chain of each aggregate, the no-fork rule, the row's head,
// and the decider law that the row's state is the fold of the aggregate's log.
module Fable.Tests.Checks

open System
open Expecto
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Support

/// The decoded events of a log.
let decode (codec: IEventCodec) (log: StoredEvent list) =
    log |> List.map (fun e -> codec.Decode(e.TypeName, e.TypeVersion, e.Data) |> ok (sprintf "decoding event %d" e.Id))

/// Checks that `log` is one chain: first has no previous event, each next points at the one before, ids grow.
let chain (what: string) (log: StoredEvent list) =
    match log with
    | [] -> ()
    | first :: _ ->
        Expect.isNone first.PrevEventId (sprintf "%s: the first event has no previous event" what)
        for (a, b) in List.pairwise log do
            Expect.equal b.PrevEventId (Some a.Id) (sprintf "%s: event %d follows event %d" what b.Id a.Id)
            Expect.isGreaterThan b.Id a.Id (sprintf "%s: ids grow along the chain" what)

/// Checks the global log: positions strictly increase, ids are unique, and no two events of one aggregate
/// share a previous event (no fork). Returns the log.
let globalLog (inst: Instance) =
    let all = readAll inst
    for (a, b) in List.pairwise all do
        Expect.isLessThan a.Position b.Position "ReadAll is in strictly increasing (Tx, Id) order"
    Expect.equal (all |> List.distinctBy (fun e -> e.Id) |> List.length) all.Length "no event is read twice"
    for (agg, es) in all |> List.groupBy (fun e -> e.Aggregate) do
        let prevs = es |> List.map (fun e -> e.PrevEventId)
        Expect.equal (List.distinct prevs).Length prevs.Length (sprintf "%O: no two events share a previous event" agg)
    all

/// Checks one aggregate of `def`: its log is one chain, equals its events in the global log (in the same order),
/// the row's last_event_id is the chain's head, and the row's state is the fold of the log from the initial state.
let aggregate (inst: Instance) (all: StoredEvent list) (def: AggregateDef<'S>) (key: AggregateKey) =
    let i = inst.Interpreter
    let id = AggregateDef.idOf def key
    let log = run (Store.log i id ct) |> ok "Log"
    chain (string id) log
    let inGlobal = all |> List.filter (fun e -> e.Aggregate = id)
    Expect.equal (log |> List.map (fun e -> e.Id)) (inGlobal |> List.map (fun e -> e.Id))
        (sprintf "%O: its log is its events in the global log, in order" id)
    match rowOf inst def.Table key.Value, List.tryLast log with
    | None, None -> ()
    | None, Some e -> failtestf "%O has event %d but no row" id e.Id
    | Some row, last ->
        Expect.equal (Row.tryGet "last_event_id" row |> Option.map Convert.ToInt64) (last |> Option.map (fun e -> e.Id))
            (sprintf "%O: last_event_id is the head of its chain" id)
        let folded = UntypedDecider.fold def.Evolve (def.Initial key) (decode i.Codec log)
        Expect.equal (def.OfRow row) folded (sprintf "%O: the row's state is the fold of its log" id)
    log
