// Replay, the one algorithm both interpreters run under the aggregate's lock: decode its logged events, evolve from
// the initial state, write the row before each event's handlers (run with Replaying = true) and once at the end.
namespace Fable.FSharp

open System.Threading
open System.Threading.Tasks

/// Rebuilding an aggregate's row from its log.
module internal Replay =
    /// The logged events decoded, or the first event that cannot be; and the chain checked (each event follows the
    /// one before it, the first follows none).
    let private decodeAll (rt: Runtime) (id: AggregateId) (logged: StoredEvent list) : Result<obj list, FableError> =
        let rec go (prev: int64 option) (acc: obj list) (rest: StoredEvent list) =
            match rest with
            | [] -> Ok(List.rev acc)
            | e :: _ when e.PrevEventId <> prev ->
                Error(Infrastructure(sprintf "aggregate %O: event %d follows %A, not %A: the chain is broken" id e.Id e.PrevEventId prev, None))
            | e :: tail ->
                match rt.Codec.Decode(e.TypeName, e.TypeVersion, e.Data) with
                | Error err -> Error err
                | Ok evt -> go (Some e.Id) (evt :: acc) tail
        go None [] logged

    /// Rebuilds aggregate `id` of `def` from `logged`, its events in chain order (NotFound when there are none):
    /// every event is decoded first (nothing runs when one cannot be), then each is evolved from the initial state;
    /// for an event with handlers `writeRow` writes the row with the state after it before the handlers run (with
    /// Replaying = true), and `writeRow` writes the final state unless the last event did. `writeRow state lastId`
    /// is the interpreter's guarded row write (it inserts the row when it is missing).
    let run (rt: Runtime) (uow: IUnitOfWork) (def: AggregateDef<'S>) (id: AggregateId) (logged: StoredEvent list)
            (writeRow: 'S -> int64 -> Task<Result<unit, FableError>>) (ct: CancellationToken) : Task<Result<AggregateState<'S>, FableError>> =
        task {
            match logged with
            | [] -> return Error(NotFound id)
            | _ ->
                match decodeAll rt id logged, AggregateRow.stateOf def id.Key null with
                | Error e, _
                | _, Error e -> return Error e
                | Ok decoded, Ok initial ->
                    let mutable failure = None
                    let mutable state = initial
                    let mutable last = 0L
                    let mutable rowCurrent = false
                    let mutable rest = List.zip logged decoded
                    while failure.IsNone && not rest.IsEmpty do
                        let (r, evt) = rest.Head
                        rest <- rest.Tail
                        match Steps.evolve def r.TypeName state evt |> Result.bind (fun s' -> Router.handlersFor rt.NameOf evt rt.Router |> Result.map (fun hs -> s', hs)) with
                        | Error e -> failure <- Some e
                        | Ok(s', []) ->
                            state <- s'
                            last <- r.Id
                            rowCurrent <- false
                        | Ok(s', handlers) ->
                            match! writeRow s' r.Id with
                            | Error e -> failure <- Some e
                            | Ok() ->
                                let args =
                                    { Uow = uow; Aggregate = id; State = box s'; Event = evt; Recorded = r
                                      Replaying = true; CancellationToken = ct }
                                match! Steps.runHandlers handlers args with
                                | Error e -> failure <- Some e
                                | Ok() ->
                                    state <- s'
                                    last <- r.Id
                                    rowCurrent <- true
                    match failure with
                    | Some e -> return Error e
                    | None ->
                        let! written = if rowCurrent then Task.FromResult(Ok()) else writeRow state last
                        return written |> Result.map (fun () -> { Id = id; LastEventId = Some last; State = state })
        }
