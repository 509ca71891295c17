// The per-emit algorithm both interpreters share: run the decision, then for each event in order record it, evolve
// the state, write the row and run its handlers. Storage is passed in; every exception becomes a typed error.
namespace Fable.FSharp

open System
open System.Threading
open System.Threading.Tasks

/// Shared steps of an emit.
module internal Steps =
    /// A task as a ValueTask (the constructor is ambiguous for a task of a task's type).
    let ofTask (t: Task<'T>) = ValueTask<'T>(t: Task<'T>)

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

    /// Where the walk over one emit's events stands while it waits: for the current event's record, its row write
    /// or its handlers.
    type private Waiting =
        | ForRecord
        | ForRow
        | ForHandlers

    /// The walk over one emit's events, in order (an `EventWithMeta` gives its metadata): encode (payload and
    /// metadata in jsonb's normal text form), `Record` (the interpreter assigns id and prev id from the previous
    /// event), evolve, and for an event that has handlers `WriteRow` with the state after it (so handlers can read
    /// it and reference it), then run the handlers. `Run` gives the final state, the last event id, the recorded
    /// events and whether the row already holds the final state (the last event had handlers); otherwise the
    /// interpreter writes it. Events without handlers add no step. The interpreter's emit derives from it (one object
    /// for its steps and the walk); the walk runs synchronously while every step completes at once and continues in
    /// a task from the first step that does not (an in-memory emit with synchronous handlers makes no task).
    [<AbstractClass>]
    type EmitWalk<'S>(rt: Runtime, uow: IUnitOfWork, def: AggregateDef<'S>, id: AggregateId, state: 'S,
                      lastEventId: int64 option, events: obj list, ct: CancellationToken) =
        let mutable failure: FableError voption = ValueNone
        let mutable s = state
        let mutable prev = lastEventId
        let mutable recorded: StoredEvent list = []
        let mutable rowCurrent = false
        let mutable rest = events
        let mutable waiting = ForRecord
        // The event in progress: its object, type name and handlers, the state after it, the event as recorded.
        let mutable evt: obj = null
        let mutable typeName: string = null
        let mutable handlers: Handler list = []
        let mutable next = Unchecked.defaultof<'S>
        let mutable current = Unchecked.defaultof<StoredEvent>
        // The step waited for (a record or row write, or the handlers).
        let mutable step = Unchecked.defaultof<ValueTask<Result<StoredEvent, FableError>>>
        let mutable handling: Task<Result<unit, FableError>> = null

        let accept (r: StoredEvent) (s': 'S) (rowHasIt: bool) =
            s <- s'
            prev <- Some r.Id
            recorded <- r :: recorded
            rowCurrent <- rowHasIt

        let fail e =
            failure <- ValueSome e
            true

        /// Records the encoded event `enc` with metadata `meta` after the event `prev` (None: the first event);
        /// may complete synchronously.
        abstract Record: enc: EncodedEvent * meta: string * prev: int64 option -> ValueTask<Result<StoredEvent, FableError>>

        /// Writes the aggregate's row with `state`, the state after `recorded`, before that event's handlers run (the
        /// row's validation is `AggregateRow.toRow`); returns the event as stored (its final id and texts).
        abstract WriteRow: state: 'S * recorded: StoredEvent -> ValueTask<Result<StoredEvent, FableError>>

        /// The handlers of the current event returned `r`.
        member private _.Handled(r: Result<unit, FableError>) =
            match r with
            | Error e -> fail e
            | Ok() ->
                accept current next true
                true

        /// The row holds the state after the current event (`r`: the event as stored): run its handlers. Each
        /// continuation returns false when it waits for a step (`waiting`), true when the event is done or failed.
        member private this.Written(r: Result<StoredEvent, FableError>) =
            match r with
            | Error e -> fail e
            | Ok r ->
                current <- r
                let t =
                    runHandlers handlers
                        { Uow = uow; Aggregate = id; State = box next; Event = evt; Recorded = r
                          Replaying = false; CancellationToken = ct }
                if t.IsCompleted then this.Handled(t.GetAwaiter().GetResult())
                else
                    waiting <- ForHandlers
                    handling <- t
                    false

        /// The current event was recorded: evolve, and write the row before its handlers (if it has any).
        member private this.Recorded(r: Result<StoredEvent, FableError>) =
            match r with
            | Error e -> fail e
            | Ok r ->
                match evolve def typeName s evt with
                | Error e -> fail e
                | Ok s' when handlers.IsEmpty ->
                    accept r s' false
                    true
                | Ok s' ->
                    next <- s'
                    let w = this.WriteRow(s', r)
                    if w.IsCompleted then this.Written(w.GetAwaiter().GetResult())
                    else
                        waiting <- ForRow
                        step <- w
                        false

        /// Starts the next event: split its metadata, encode, route, record.
        member private this.Start() =
            let struct (e, meta, problem) = Meta.split rest.Head
            rest <- rest.Tail
            if isNull e then fail (InvalidDefinition [ "a decision returned a null event" ])
            else
                match encode rt e meta problem with
                | Error err -> fail err
                | Ok(struct (enc, meta)) ->
                    match Router.tryHandlers e rt.Router with
                    | ValueNone -> fail (NoRoute(rt.NameOf(e.GetType())))
                    | ValueSome hs ->
                        evt <- e
                        typeName <- enc.TypeName
                        handlers <- hs
                        let w = this.Record(enc, meta, prev)
                        if w.IsCompleted then this.Recorded(w.GetAwaiter().GetResult())
                        else
                            waiting <- ForRecord
                            step <- w
                            false

        /// Walks on while steps complete at once; true when every event is done or one failed.
        member private this.Walk() =
            let mutable going = true
            while going && failure.IsNone && not rest.IsEmpty do
                going <- this.Start()
            going

        member private _.Outcome() : Result<struct ('S * int64 option * StoredEvent list * bool), FableError> =
            match failure with
            | ValueSome e -> Error e
            | ValueNone -> Ok(struct (s, prev, List.rev recorded, rowCurrent))

        /// Waits for the step in progress, then walks on (in a task: only once a step did not complete at once).
        member private this.Resume() : Task<Result<struct ('S * int64 option * StoredEvent list * bool), FableError>> =
            task {
                let mutable finished = false
                while not finished do
                    let mutable going = true
                    match waiting with
                    | ForRecord ->
                        let! r = step
                        going <- this.Recorded r
                    | ForRow ->
                        let! r = step
                        going <- this.Written r
                    | ForHandlers ->
                        let! r = handling
                        going <- this.Handled r
                    finished <- going && this.Walk()
                return this.Outcome()
            }

        /// Walks the events; the outcome at once when every step completed synchronously.
        member this.Run() : ValueTask<Result<struct ('S * int64 option * StoredEvent list * bool), FableError>> =
            if this.Walk() then ValueTask<_>(this.Outcome()) else ofTask (this.Resume())

    /// Checks the caller's expectation against the aggregate's current last event id.
    let checkExpected (id: AggregateId) (expected: Expected) (current: int64 option) =
        match expected with
        | Expected.Any -> Ok()
        | Expected.At e when e = current -> Ok()
        | Expected.At e -> Error(FableError.conflict id e current)
