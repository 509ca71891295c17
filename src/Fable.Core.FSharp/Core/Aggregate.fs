// Aggregates as pure definitions: the table they live in, how state evolves by one event,
// and how state maps to the row. Also the Decider fold helpers. No I/O.
namespace Fable.FSharp

open System

/// An aggregate as seen by callers: identity, the id of its last event, and its state.
type AggregateState<'S> =
    { Id: AggregateId
      /// None until the aggregate's first event is recorded.
      LastEventId: int64 option
      State: 'S }

/// What the caller expects the aggregate's last event id to be when emitting.
[<RequireQualifiedAccess>]
type Expected =
    /// Any version: decide on the fresh state read under the lock (the serial mode).
    | Any
    /// Exactly this last event id (None: the aggregate must have no events yet); otherwise a Conflict.
    | At of int64 option

/// How an aggregate lives in its table and evolves. The table has a primary key `id` and `last_event_id bigint NULL`.
/// Opaque to F# users (build one with `Decider.create`): its untyped fields are the interpreters' and the C# face's.
type AggregateDef<'S> =
    internal
        {
            /// The aggregate table (unqualified or schema-qualified; quoted by interpreters).
            Table: string
            /// The type of the `id` column.
            KeyKind: KeyType
            /// The state of an aggregate that has no row yet.
            Initial: AggregateKey -> 'S
            /// State + one event → next state. Pure.
            Evolve: 'S -> obj -> 'S
            /// The columns Fable writes for this state, besides `id` and `last_event_id`.
            ToRow: 'S -> Row
            /// The state read back from a full row (which includes `id` and `last_event_id`).
            OfRow: Row -> 'S
        }

/// Builds and checks aggregate definitions.
module AggregateDef =
    /// The aggregate `key` of this definition's table.
    let idOf (def: AggregateDef<'S>) key = { Table = def.Table; Key = key }

    /// Every problem of a definition visible without calling it: a blank table name, a sample key of another kind
    /// (`AggregateRow.check` also calls Initial and ToRow).
    let validate (sample: AggregateKey option) (def: AggregateDef<'S>) : string list =
        [ if String.IsNullOrWhiteSpace def.Table then
              yield "an aggregate definition has a blank table name"
          match sample with
          | Some k when k.Kind <> def.KeyKind ->
              yield sprintf "aggregate %s has %A keys, not %A" def.Table def.KeyKind k.Kind
          | _ -> () ]

    /// Checks that `key` is of the definition's key kind (InvalidDefinition) and can be stored (Unstorable: a text
    /// key with a NUL character or a lone surrogate), before any statement.
    let checkKey (def: AggregateDef<'S>) (key: AggregateKey) =
        if key.Kind = def.KeyKind then Storable.checkKey def.Table key
        else Error(InvalidDefinition [ sprintf "aggregate %s has %A keys; got %A key %O" def.Table def.KeyKind key.Kind key ])

    /// Checks that `key` is of the definition's key kind and that the definition's table is declared as an
    /// aggregate table of that kind: the same error on every interpreter, before anything is read or sent.
    let check (tables: TableSchemas) (def: AggregateDef<'S>) (key: AggregateKey) =
        match checkKey def key with
        | Error e -> Error e
        | Ok() ->
            match TableSchema.aggregate tables def.Table def.KeyKind with
            | Error e -> Error e
            | Ok _ -> Ok()

/// Pure helpers over decide/evolve.
module internal UntypedDecider =
    /// Folds events over a state with `evolve`.
    let fold (evolve: 'S -> obj -> 'S) (state: 'S) (events: seq<obj>) = Seq.fold evolve state events

    /// Runs a pure decision and folds its events: the new state and the events, or the decision's error.
    let run (evolve: 'S -> obj -> 'S) (decide: 'S -> Result<obj list, FableError>) (state: 'S) =
        decide state |> Result.map (fun events -> fold evolve state events, events)

    /// A decision that records `events` whatever the state (the unconditional emit).
    let always (events: obj list) : 'S -> Result<obj list, FableError> = fun _ -> Ok events

    /// A decision that refuses with the caller's `reason`.
    let reject (reason: obj) : Result<obj list, FableError> = Error(FableError.reject reason)
