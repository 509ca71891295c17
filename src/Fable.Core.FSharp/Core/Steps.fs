// The per-emit algorithm both interpreters share: run the decision, then for each event in order record it, evolve
// the state, write the row and run its handlers. Storage is passed in; every exception becomes a typed error.
namespace Fable.FSharp

open System
open System.Threading
open System.Threading.Tasks

/// What an interpreter does for the shared steps of an emit: record an event, write the aggregate's row.
type internal IEmitSink<'S> =
    /// Records the encoded event `enc` with metadata `meta` after the event `prev` (None: the first event);
    /// may complete synchronously.
    abstract Record: enc: EncodedEvent * meta: string * prev: int64 option -> ValueTask<Result<StoredEvent, FableError>>
    /// Writes the aggregate's row with `state`, the state after `recorded`, before that event's handlers run (the
    /// row's validation is `AggregateRow.toRow`); returns the event as stored (its final id and texts).
    abstract WriteRow: state: 'S * recorded: StoredEvent -> ValueTask<Result<StoredEvent, FableError>>

/// Shared steps of an emit.
module internal Steps =
    /// Runs the decision; an exception in it is a HandlerFailed named "decide". A pure decision completes
    /// synchronously without allocating a task.
    let decide (uow: IUnitOfWork) (decide: Decide<'S>) (state: 'S) (ct: CancellationToken) : ValueTask<Result<obj list, FableError>> =
        let failed (e: exn) : Result<obj list, FableError> =
            match e with
            | :? OperationCanceledException -> Error Cancelled
            | e -> Error(HandlerFailed("decide", "decide", e.Message, Some e))
        let span = Telemetry.startDecide ()
        match decide with
        | Pure f ->
            let r = try f state with e -> failed e
            Telemetry.finish span r
            ValueTask<_>(r)
        | InTransaction f ->
            ValueTask<Result<obj list, FableError>>(
                task {
                    let! r =
                        task {
                            try
                                return! f uow state ct
                            with e ->
                                return failed e
                        }
                    Telemetry.finish span r
                    return r
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

    /// Runs `handlers` in order, stopping at the first error; exceptions become HandlerFailed.
    let runHandlers (handlers: Handler list) (args: HandlerArgs) : Task<Result<unit, FableError>> =
        task {
            let mutable result = Ok()
            let mutable rest = handlers
            while Result.isOk result && not rest.IsEmpty do
                let h = rest.Head
                rest <- rest.Tail
                let span = Telemetry.startHandler args.Recorded.TypeName h.Name
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
                Telemetry.finish span result
            return result
        }

    /// For each event in order (an `EventWithMeta` gives its metadata): encode (payload and metadata in jsonb's normal text form), record through `sink` (which assigns
    /// id and prev id from the previous event), evolve, and for an event that has handlers write the row with the
    /// state after it through `sink` (so handlers can read it and reference it), then run the handlers. Returns the
    /// final state, the last event id, the recorded events and whether the row already holds the final state (the
    /// last event had handlers); otherwise the interpreter writes it. Events without handlers add no step.
    let applyEvents
        (rt: Runtime)
        (uow: IUnitOfWork)
        (def: AggregateDef<'S>)
        (id: AggregateId)
        (state: 'S)
        (lastEventId: int64 option)
        (events: obj list)
        (sink: IEmitSink<'S>)
        (ct: CancellationToken)
        : Task<Result<struct ('S * int64 option * StoredEvent list * bool), FableError>> =
        task {
            let mutable failure = None
            let mutable s = state
            let mutable prev = lastEventId
            let mutable recorded = []
            let mutable rowCurrent = false
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
                            match! sink.Record(enc, meta, prev) with
                            | Error e -> failure <- Some e
                            | Ok r ->
                                match evolve def enc.TypeName s evt with
                                | Error e -> failure <- Some e
                                | Ok s' when handlers.IsEmpty ->
                                    s <- s'
                                    prev <- Some r.Id
                                    recorded <- r :: recorded
                                    rowCurrent <- false
                                | Ok s' ->
                                    match! sink.WriteRow(s', r) with
                                    | Error e -> failure <- Some e
                                    | Ok r ->
                                        let! handled =
                                            runHandlers handlers
                                                { Uow = uow; Aggregate = id; State = box s'; Event = evt; Recorded = r
                                                  Replaying = false; CancellationToken = ct }
                                        match handled with
                                        | Error e -> failure <- Some e
                                        | Ok() ->
                                            s <- s'
                                            prev <- Some r.Id
                                            recorded <- r :: recorded
                                            rowCurrent <- true
            match failure with
            | Some e -> return Error e
            | None -> return Ok(struct (s, prev, List.rev recorded, rowCurrent))
        }

    /// Checks the caller's expectation against the aggregate's current last event id.
    let checkExpected (id: AggregateId) (expected: Expected) (current: int64 option) =
        match expected with
        | Expected.Any -> Ok()
        | Expected.At e when e = current -> Ok()
        | Expected.At e -> Error(FableError.conflict id e current)
