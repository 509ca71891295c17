// The per-emit algorithm both interpreters share: run the decision, then for each event in order record it,
// evolve the state and run its handlers. Storage is passed in; every exception becomes a typed error.
namespace Fable

open System
open System.Threading
open System.Threading.Tasks

/// Shared steps of an emit.
module Steps =
    /// Runs the decision; an exception in it is a HandlerFailed named "decide".
    let decide (uow: IUnitOfWork) (decide: Decide<'S>) (state: 'S) (ct: CancellationToken) : Task<Result<obj list, FableError>> =
        task {
            try
                match decide with
                | Pure f -> return f state
                | InTransaction f -> return! f uow state ct
            with
            | :? OperationCanceledException -> return Error Cancelled
            | e -> return Error(HandlerFailed("decide", "decide", e.Message, Some e))
        }

    /// Evolves one event; an exception is a HandlerFailed named "evolve".
    let evolve (def: AggregateDef<'S>) (typeName: string) (state: 'S) (evt: obj) =
        try
            Ok(def.Evolve state evt)
        with e ->
            Error(HandlerFailed(typeName, "evolve", e.Message, Some e))

    /// Runs `handlers` in order, stopping at the first error; exceptions become HandlerFailed.
    let runHandlers (handlers: Handler list) (args: HandlerArgs) : Task<Result<unit, FableError>> =
        task {
            let mutable result = Ok()
            let mutable rest = handlers
            while Result.isOk result && not rest.IsEmpty do
                let h = rest.Head
                rest <- rest.Tail
                try
                    args.CancellationToken.ThrowIfCancellationRequested()
                    match! h.Run args with
                    | Ok() -> ()
                    | Error(HandlerFailed _ as e) -> result <- Error e
                    | Error Cancelled -> result <- Error Cancelled
                    | Error e -> result <- Error(HandlerFailed(args.Recorded.TypeName, h.Name, e.Message, None))
                with
                | :? OperationCanceledException -> result <- Error Cancelled
                | e -> result <- Error(HandlerFailed(args.Recorded.TypeName, h.Name, e.Message, Some e))
            return result
        }

    /// For each event in order: encode, `record` (which assigns id and prev id from the previous event),
    /// evolve, run handlers. Returns the final state, the last event id and the recorded events.
    let applyEvents
        (rt: Runtime)
        (uow: IUnitOfWork)
        (def: AggregateDef<'S>)
        (id: AggregateId)
        (state: 'S)
        (lastEventId: int64 option)
        (events: obj list)
        (record: EncodedEvent -> int64 option -> Task<Result<RecordedEvent, FableError>>)
        (replaying: bool)
        (ct: CancellationToken)
        : Task<Result<'S * int64 option * RecordedEvent list, FableError>> =
        task {
            let mutable acc = Ok(state, lastEventId, [])
            let mutable rest = events
            while Result.isOk acc && not rest.IsEmpty do
                let evt = rest.Head
                rest <- rest.Tail
                let (s, prev, recorded) = Result.defaultWith (fun _ -> failwith "unreachable") acc
                let step =
                    if isNull evt then Error(InvalidDefinition [ "a decision returned a null event" ])
                    else
                        rt.Codec.Encode evt
                        |> Result.bind (fun enc ->
                            Router.handlersFor rt.NameOf evt rt.Router |> Result.map (fun hs -> enc, hs))
                match step with
                | Error e -> acc <- Error e
                | Ok(enc, handlers) ->
                    match! record enc prev with
                    | Error e -> acc <- Error e
                    | Ok r ->
                        match evolve def enc.TypeName s evt with
                        | Error e -> acc <- Error e
                        | Ok s' ->
                            let args =
                                { Uow = uow; Aggregate = id; State = box s'; Event = evt; Recorded = r
                                  Replaying = replaying; CancellationToken = ct }
                            match! runHandlers handlers args with
                            | Error e -> acc <- Error e
                            | Ok() -> acc <- Ok(s', Some r.Id, r :: recorded)
            return acc |> Result.map (fun (s, last, rs) -> s, last, List.rev rs)
        }

    /// Checks the caller's expectation against the aggregate's current last event id.
    let checkExpected (id: AggregateId) (expected: Expected) (current: int64 option) =
        match expected with
        | Expected.Any -> Ok()
        | Expected.At e when e = current -> Ok()
        | Expected.At e -> Error(FableError.conflict id e current)
