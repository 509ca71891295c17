// The per-emit algorithm both interpreters share: run the decision, then for each event in order record it,
// evolve the state and run its handlers. Storage is passed in; every exception becomes a typed error.
namespace Fable

open System
open System.Threading
open System.Threading.Tasks

/// Shared steps of an emit.
module Steps =
    /// Runs the decision; an exception in it is a HandlerFailed named "decide". A pure decision completes
    /// synchronously without allocating a task.
    let decide (uow: IUnitOfWork) (decide: Decide<'S>) (state: 'S) (ct: CancellationToken) : ValueTask<Result<obj list, FableError>> =
        let failed (e: exn) : Result<obj list, FableError> =
            match e with
            | :? OperationCanceledException -> Error Cancelled
            | e -> Error(HandlerFailed("decide", "decide", e.Message, Some e))
        match decide with
        | Pure f -> ValueTask<_>(try f state with e -> failed e)
        | InTransaction f ->
            ValueTask<Result<obj list, FableError>>(
                task {
                    try
                        return! f uow state ct
                    with e ->
                        return failed e
                })

    /// Evolves one event; an exception is a HandlerFailed named "evolve".
    let evolve (def: AggregateDef<'S>) (typeName: string) (state: 'S) (evt: obj) =
        try
            Ok(def.Evolve state evt)
        with e ->
            Error(HandlerFailed(typeName, "evolve", e.Message, Some e))

    /// The codec's output for `evt` and the metadata `meta` as they are recorded: checked as they will be stored
    /// and in jsonb's normal text form (`Payload.check`, `Meta.normalize`). `problem`: why the metadata could not be
    /// written at all (null when it was).
    let private encode (rt: Runtime) (evt: obj) (meta: string) (problem: string) : Result<struct (EncodedEvent * string), FableError> =
        match rt.Codec.Encode evt with
        | Error e -> Error e
        | Ok enc ->
            match Payload.check enc with
            | Error e -> Error e
            | Ok enc ->
                let meta = if isNull problem then Meta.normalize meta else Error problem
                match meta with
                | Ok meta -> Ok(struct (enc, meta))
                | Error why -> Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, "the metadata cannot be stored: " + why))

    /// The outcome of an event without handlers (one completed task for all).
    let private noHandlers = Task.FromResult(Result<unit, FableError>.Ok())

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

    /// For each event in order (an `EventWithMeta` gives its metadata): encode, `record` with payload and metadata
    /// in jsonb's normal text form (`record` assigns id and prev id from the previous event), evolve, run handlers
    /// (events without handlers skip that step). Returns the final state, the last event id and the recorded events.
    /// `record` may complete synchronously (a completed ValueTask allocates nothing).
    let applyEvents
        (rt: Runtime)
        (uow: IUnitOfWork)
        (def: AggregateDef<'S>)
        (id: AggregateId)
        (state: 'S)
        (lastEventId: int64 option)
        (events: obj list)
        (record: EncodedEvent -> string -> int64 option -> ValueTask<Result<RecordedEvent, FableError>>)
        (replaying: bool)
        (ct: CancellationToken)
        : Task<Result<'S * int64 option * RecordedEvent list, FableError>> =
        task {
            let mutable failure = None
            let mutable s = state
            let mutable prev = lastEventId
            let mutable recorded = []
            let mutable rest = events
            while failure.IsNone && not rest.IsEmpty do
                let struct (evt, meta, problem) = Meta.split rest.Head
                rest <- rest.Tail
                if isNull evt then
                    failure <- Some(InvalidDefinition [ "a decision returned a null event" ])
                else
                    match encode rt evt meta problem with
                    | Error e -> failure <- Some e
                    | Ok(struct (enc, meta)) ->
                        match Router.tryHandlers evt rt.Router with
                        | ValueNone -> failure <- Some(NoRoute(rt.NameOf(evt.GetType())))
                        | ValueSome handlers ->
                            match! record enc meta prev with
                            | Error e -> failure <- Some e
                            | Ok r ->
                                match evolve def enc.TypeName s evt with
                                | Error e -> failure <- Some e
                                | Ok s' ->
                                    let! handled =
                                        if handlers.IsEmpty then noHandlers
                                        else
                                            runHandlers handlers
                                                { Uow = uow; Aggregate = id; State = box s'; Event = evt; Recorded = r
                                                  Replaying = replaying; CancellationToken = ct }
                                    match handled with
                                    | Error e -> failure <- Some e
                                    | Ok() ->
                                        s <- s'
                                        prev <- Some r.Id
                                        recorded <- r :: recorded
            match failure with
            | Some e -> return Error e
            | None -> return Ok(s, prev, List.rev recorded)
        }

    /// Checks the caller's expectation against the aggregate's current last event id.
    let checkExpected (id: AggregateId) (expected: Expected) (current: int64 option) =
        match expected with
        | Expected.Any -> Ok()
        | Expected.At e when e = current -> Ok()
        | Expected.At e -> Error(FableError.conflict id e current)
