// The typed F# aggregate: a decider over an event union 'E, a state 'S and a key 'K (Guid, int64 or string), with
// decisions returning the caller's own error type. It compiles to the untyped core, so both interpreters run it unchanged.
namespace Fable.FSharp

open System
open System.Threading
open System.Threading.Tasks

/// How an aggregate lives in its table and evolves by the events of its union `'E`. Build with `Decider.create`.
[<Sealed>]
type Decider<'S, 'E, 'K> internal (def: AggregateDef<'S>, events: EventUnion<'E>, toKey: 'K -> AggregateKey, ofKey: AggregateKey -> 'K, problems: string list) =
    let allProblems = problems @ events.Problems
    /// The aggregate table.
    member _.Table = def.Table
    /// The type of the table's `id` column (from `'K`).
    member _.KeyType = def.KeyKind
    /// The event union.
    member _.Events = events
    member internal _.Untyped = def
    /// Every problem of the definition (its key type, its union).
    member internal _.Problems = allProblems
    member internal _.Key(k: 'K) = toKey k
    member internal _.KeyOf(k: AggregateKey) = ofKey k

/// A decision: pure over the state, or reading inside the emit's transaction. `'Err` is the caller's own refusal.
type Decision<'S, 'E, 'Err> =
    /// State → events to record, or the caller's refusal.
    | Decide of ('S -> Result<'E list, 'Err>)
    /// May read (tables, other aggregates, the connection) inside the emit's transaction.
    | DecideReading of (IUnitOfWork -> 'S -> CancellationToken -> Task<Result<'E list, 'Err>>)
    /// The events of the inner decision, each recorded with this metadata (an inner `WithMeta` wins over an outer one).
    | WithMeta of meta: EventMeta * decision: Decision<'S, 'E, 'Err>

/// Builds decisions.
module Decision =
    /// The events `decision` records carry `meta` as their metadata (read back in `StoredEvent.Meta`).
    let withMeta (meta: EventMeta) (decision: Decision<'S, 'E, 'Err>) : Decision<'S, 'E, 'Err> = WithMeta(meta, decision)

/// Why a typed emit recorded nothing: the decision's own refusal, or a Fable error.
[<RequireQualifiedAccess>]
type EmitError<'Err> =
    /// The decision refused with the caller's error.
    | Refused of 'Err
    /// Fable failed (conflict, handler failure, storage, definition...): see `FableError`.
    | Failed of FableError

/// What a typed reaction (handler) receives besides its event.
type EventContext<'S, 'K> =
    {
        /// The unit of work of the emit: write associated rows through it.
        Uow: IUnitOfWork
        /// The key of the aggregate the event belongs to.
        Key: 'K
        /// The aggregate state after this event was evolved.
        State: 'S
        /// The event as recorded (id, prev id, type, payload, metadata).
        Recorded: StoredEvent
        /// True when the reaction runs inside a Replay (avoid effects that must happen once).
        Replaying: bool
        /// Cancellation of the emit.
        CancellationToken: CancellationToken
    }

/// Extra work inside the emit's transaction, for every event of the union (match on the case; return `Reaction.skip`
/// for the cases it ignores).
type Reaction<'S, 'K, 'E> =
    { Name: string
      Run: EventContext<'S, 'K> -> 'E -> Task<Result<unit, FableError>> }

/// A refusal carried through the untyped core (so it comes back typed, and only ours is unwrapped).
[<Sealed>]
type internal Refusal<'Err>(value: 'Err) =
    member _.Value = value
    override _.ToString() = sprintf "%A" value

/// Builds reactions.
module Reaction =
    let private finished = Task.FromResult(Ok())
    /// A reaction named `name`.
    let create (name: string) (run: EventContext<'S, 'K> -> 'E -> Task<Result<unit, FableError>>) : Reaction<'S, 'K, 'E> =
        { Name = name; Run = run }
    /// Nothing to do for this event.
    let skip: Task<Result<unit, FableError>> = finished

/// Builds typed aggregates and runs them on any interpreter (each operation in its own transaction, or `...In` a unit of work).
module Decider =
    let private keyFns<'K> () : Result<KeyType * ('K -> AggregateKey) * (AggregateKey -> 'K), string> =
        let t = typeof<'K>
        let cast (f: 'a -> 'b) = unbox<'K -> AggregateKey> (box f)
        let back (f: AggregateKey -> 'a) = unbox<AggregateKey -> 'K> (box f)
        let bad k = invalidOp (sprintf "a key of kind %A where %s was expected" k t.Name)
        if t = typeof<Guid> then
            Ok(KeyType.Uuid, cast AggregateKey.Uuid, back (function AggregateKey.Uuid g -> g | k -> bad k))
        elif t = typeof<int64> then
            Ok(KeyType.Int, cast AggregateKey.Int, back (function AggregateKey.Int i -> i | k -> bad k))
        elif t = typeof<string> then
            Ok(KeyType.Text, cast AggregateKey.Text, back (function AggregateKey.Text s -> s | k -> bad k))
        else Error(sprintf "an aggregate key is Guid, int64 or string, not %s" t.FullName)

    /// An aggregate of `table` keyed by `'K` (Guid: uuid, int64: bigint, string: text): `initial` for a key without a
    /// row, `evolve` by one event of the union, and the row mapping (`toRow` writes the columns besides `id` and
    /// `last_event_id`; `ofRow` reads a full row). Problems (another key type, an invalid union) are reported as one
    /// InvalidDefinition by `register` and by every operation.
    let create (table: string) (events: EventUnion<'E>) (initial: 'K -> 'S) (evolve: 'S -> 'E -> 'S) (toRow: 'S -> Row) (ofRow: Row -> 'S) : Decider<'S, 'E, 'K> =
        let kind, toKey, ofKey, problems =
            match keyFns<'K> () with
            | Ok(kind, toKey, ofKey) -> kind, toKey, ofKey, []
            | Error why ->
                let fail _ = invalidOp why
                KeyType.Text, fail, fail, [ sprintf "aggregate %s: %s" table why ]
        let def: AggregateDef<'S> =
            { Table = table
              KeyKind = kind
              Initial = fun k -> initial (ofKey k)
              Evolve = fun s o -> evolve s (events.OfRecord o)
              ToRow = toRow
              OfRow = ofRow }
        Decider<'S, 'E, 'K>(def, events, toKey, ofKey, problems)

    /// Registers the union's cases in `r`; InvalidDefinition listing every problem of the aggregate and its union.
    let register (d: Decider<'S, 'E, 'K>) (r: EventRegistry) : Result<EventRegistry, FableError> =
        match d.Problems with
        | [] -> EventUnion.register d.Events r
        | ps -> Error(InvalidDefinition ps)

    /// The aggregate's table declaration with `columns` (`id` of the key's type and `last_event_id` are implied).
    let table (columns: ColumnDecl list) (d: Decider<'S, 'E, 'K>) = TableDecl.aggregate d.Table d.KeyType columns

    /// The identity of the aggregate `key`.
    let idOf (d: Decider<'S, 'E, 'K>) (key: 'K) : AggregateId = { Table = d.Table; Key = d.Key key }

    /// The routes of the union: every case's record routed to `reactions` in order (an empty list declares that its
    /// events need no extra work). Merge with other routers with `Router.merge`.
    let routes (reactions: Reaction<'S, 'K, 'E> list) (d: Decider<'S, 'E, 'K>) : Router =
        let handler (r: Reaction<'S, 'K, 'E>) : Handler =
            { Name = r.Name
              Run =
                fun (args: HandlerArgs) ->
                    let ctx: EventContext<'S, 'K> =
                        { Uow = args.Uow; Key = d.KeyOf args.Aggregate.Key; State = unbox<'S> args.State; Recorded = args.Recorded
                          Replaying = args.Replaying; CancellationToken = args.CancellationToken }
                    r.Run ctx (d.Events.OfRecord args.Event) }
        let handlers = List.map handler reactions
        d.Events.RecordTypes |> List.fold (fun acc t -> Router.routeType t handlers acc) Router.empty

    let private toRecords (d: Decider<'S, 'E, 'K>) (events: 'E list) : obj list = List.map d.Events.ToRecord events

    let private refuse (err: 'Err) : Result<obj list, FableError> =
        let r = Refusal<'Err>(err)
        Error(Rejected(box r, string r))

    let rec internal untypedDecide (d: Decider<'S, 'E, 'K>) (decision: Decision<'S, 'E, 'Err>) : Decide<'S> =
        match decision with
        | WithMeta(meta, inner) ->
            let attach (r: Result<obj list, FableError>) = Result.map (List.map (Meta.attachTyped meta)) r
            match untypedDecide d inner with
            | Pure f -> Pure(fun s -> attach (f s))
            | InTransaction f ->
                InTransaction(fun uow s ct ->
                    task {
                        let! r = f uow s ct
                        return attach r
                    })
        | Decide f ->
            Pure(fun s -> match f s with Ok es -> Ok(toRecords d es) | Error e -> refuse e)
        | DecideReading f ->
            InTransaction(fun uow s ct ->
                task {
                    match! f uow s ct with
                    | Ok es -> return Ok(toRecords d es)
                    | Error e -> return refuse e
                })

    let internal typedError (e: FableError) : EmitError<'Err> =
        match e with
        | Rejected((:? Refusal<'Err> as r), _) -> EmitError.Refused r.Value
        | e -> EmitError.Failed e

    let private typed (t: Task<Result<'T, FableError>>) : Task<Result<'T, EmitError<'Err>>> =
        task {
            let! r = t
            return Result.mapError typedError r
        }

    /// Runs `run` unless the definition has problems (then InvalidDefinition listing them, before anything is sent).
    let private guard (d: Decider<'S, 'E, 'K>) (run: unit -> Task<Result<'T, FableError>>) : Task<Result<'T, FableError>> =
        match d.Problems with
        | [] -> run ()
        | ps -> Task.FromResult(Error(InvalidDefinition ps))

    /// Emits on `key` with `decision` in a transaction of its own (the serial mode: the decision sees the fresh state
    /// under the aggregate's lock). The caller's refusal comes back as `EmitError.Refused`.
    let emit (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (decision: Decision<'S, 'E, 'Err>) (ct: CancellationToken) =
        typed (guard d (fun () -> i.Emit(d.Untyped, d.Key key, Expected.Any, untypedDecide d decision, ct)))

    /// As `emit`, expecting the aggregate's last event id (None: no events yet); otherwise a Conflict.
    let emitExpecting (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (expected: int64 option) (decision: Decision<'S, 'E, 'Err>) (ct: CancellationToken) =
        typed (guard d (fun () -> i.Emit(d.Untyped, d.Key key, Expected.At expected, untypedDecide d decision, ct)))

    /// Emits inside the unit of work `uow` (a reading decision, a process manager, or `IInterpreter.Transact`).
    let emitIn (uow: IUnitOfWork) (d: Decider<'S, 'E, 'K>) (key: 'K) (decision: Decision<'S, 'E, 'Err>) (ct: CancellationToken) =
        typed (guard d (fun () -> uow.Emit(d.Untyped, d.Key key, Expected.Any, untypedDecide d decision, ct)))

    /// Records `events` without a decision (the unconditional emit).
    let append (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (events: 'E list) (ct: CancellationToken) =
        guard d (fun () ->
            let records = toRecords d events
            i.Emit(d.Untyped, d.Key key, Expected.Any, Pure(fun _ -> Ok records), ct))

    /// Reads the aggregate without locking; None when it has no row.
    let load (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (ct: CancellationToken) =
        guard d (fun () -> i.Transact((fun uow -> uow.Load(d.Untyped, d.Key key, ct)), ct))

    /// The aggregate's events in chain order, each as recorded and decoded into the union (UnknownEventType for an
    /// event of the aggregate that is not a case of it).
    let log (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (ct: CancellationToken) : Task<Result<(StoredEvent * 'E) list, FableError>> =
        task {
            match! guard d (fun () -> i.Transact((fun uow -> uow.Log(idOf d key, ct)), ct)) with
            | Error e -> return Error e
            | Ok recorded ->
                let decoded =
                    recorded
                    |> List.map (fun r ->
                        i.Codec.Decode(r.TypeName, r.TypeVersion, r.Data)
                        |> Result.bind (fun o ->
                            match d.Events.TryOfRecord o with
                            | ValueSome e -> Ok(r, e)
                            | ValueNone -> Error(UnknownEventType(r.TypeName, r.TypeVersion))))
                match decoded |> List.tryPick (function Error e -> Some e | Ok _ -> None) with
                | Some e -> return Error e
                | None -> return Ok(decoded |> List.map (function Ok x -> x | Error _ -> failwith "unreachable"))
        }

    /// Rebuilds the aggregate row from its log (evolve and reactions, with Replaying = true) in one transaction.
    let replay (i: IInterpreter) (d: Decider<'S, 'E, 'K>) (key: 'K) (ct: CancellationToken) =
        guard d (fun () -> i.Transact((fun uow -> uow.Replay(d.Untyped, d.Key key, ct)), ct))

    /// The untyped definition the interpreters run (for `CheckAggregate` and the interpreter contract).
    let definition (d: Decider<'S, 'E, 'K>) : AggregateDef<'S> = d.Untyped
