// The aggregate row's rules both interpreters follow: the state read from a row (Initial/OfRow), the row ToRow
// gives (validated), the definition check on a sample key, and the errors of the row's lifecycle (forks, re-entry).
namespace Fable.FSharp

open System

/// The aggregate row as Fable reads, writes and guards it, whatever the storage.
module internal AggregateRow =
    let private failed (def: AggregateDef<'S>) (part: string) (e: exn) = HandlerFailed(def.Table, part, e.Message, Some e)

    /// The state of aggregate `key` of `def` read from its `row` (OfRow), or its initial state when `row` is null
    /// (Initial). An exception is a HandlerFailed named "OfRow" or "Initial" on the aggregate's table.
    let stateOf (def: AggregateDef<'S>) (key: AggregateKey) (row: Row) : Result<'S, FableError> =
        if isNull row then
            try Ok(def.Initial key) with e -> Error(failed def "Initial" e)
        else
            try Ok(def.OfRow row) with e -> Error(failed def "OfRow" e)

    /// The reserved columns a row writes, as problems of `def`'s ToRow.
    let private reservedProblems (def: AggregateDef<'S>) (row: Row) =
        [ for c in [ "id"; "last_event_id" ] do
              if row.ContainsKey c then
                  yield sprintf "ToRow of aggregate %s writes column %s, which Fable owns (it writes id and last_event_id itself); leave it out of ToRow" def.Table c ]

    /// The row ToRow gives for `state` (besides `id` and `last_event_id`): an exception is a HandlerFailed named
    /// "ToRow"; a null row or one writing `id` or `last_event_id` is InvalidDefinition.
    let toRow (def: AggregateDef<'S>) (state: 'S) : Result<Row, FableError> =
        match (try Ok(def.ToRow state) with e -> Error(failed def "ToRow" e)) with
        | Error e -> Error e
        | Ok row when isNull (box row) ->
            Error(InvalidDefinition [ sprintf "ToRow of aggregate %s returned null; return the row's columns (an empty row when it has none)" def.Table ])
        | Ok row when row.ContainsKey "id" || row.ContainsKey "last_event_id" -> Error(InvalidDefinition(reservedProblems def row))
        | Ok row -> Ok row

    /// The row stored for `state`: ToRow's row validated (`toRow`) and coerced against the aggregate's declared table
    /// (declared columns only, one canonical value per column type; when `inserting`, every NOT NULL column given).
    let stored (tables: TableSchemas) (def: AggregateDef<'S>) (inserting: bool) (state: 'S) : Result<Row, FableError> =
        match toRow def state with
        | Error e -> Error e
        | Ok row ->
            match TableSchema.aggregate tables def.Table def.KeyKind with
            | Error e -> Error e
            | Ok t -> TableSchema.coerceToRow t inserting row

    /// A key of `kind` for checking a definition without storage.
    let sampleKey (kind: KeyType) =
        match kind with
        | KeyType.Uuid -> AggregateKey.Uuid Guid.Empty
        | KeyType.Int -> AggregateKey.Int 0L
        | _ -> AggregateKey.Text ""

    /// Checks `def` without storage, as every interpreter does when an aggregate is registered: a blank table
    /// name, then Initial on a sample key and ToRow on that state (throwing, null, writing `id`/`last_event_id`).
    /// Ok gives the columns ToRow writes (for a storage check); Error lists every problem.
    let check (def: AggregateDef<'S>) : Result<string list, string list> =
        match AggregateDef.validate None def with
        | _ :: _ as problems -> Error problems
        | [] ->
            let key = sampleKey def.KeyKind
            match (try Ok(def.Initial key) with e -> Error e) with
            | Error e -> Error [ sprintf "aggregate %s: Initial threw on the sample key %O: %s" def.Table key e.Message ]
            | Ok initial ->
                match (try Ok(def.ToRow initial) with e -> Error e) with
                | Error e -> Error [ sprintf "aggregate %s: ToRow threw on the initial state: %s" def.Table e.Message ]
                | Ok row when isNull (box row) ->
                    Error [ sprintf "ToRow of aggregate %s returned null; return the row's columns (an empty row when it has none)" def.Table ]
                | Ok row ->
                    match reservedProblems def row with
                    | [] -> Ok [ for kv in row -> kv.Key ]
                    | problems -> Error problems

    /// `check` as a typed result: InvalidDefinition listing every problem.
    let checkDefinition (def: AggregateDef<'S>) : Result<unit, FableError> =
        match check def with
        | Ok _ -> Ok()
        | Error problems -> Error(InvalidDefinition problems)

    /// An emit on an aggregate that has events but no row: a second first event would fork its chain. Retrying
    /// never helps, restoring the row does.
    let forked (id: AggregateId) =
        Conflict(
            Some id, None, None, false,
            sprintf "aggregate %O has events but its row is gone (deleted outside Fable?); emitting would start a second chain, so nothing was written. Restore the row with Replay (it rebuilds it from the log), then emit again" id)

    /// An emit or replay on an aggregate whose own emit or replay is running in the same unit of work (from its
    /// decision or a handler).
    let reentered (id: AggregateId) =
        Conflict(
            Some id, None, None, false,
            sprintf "aggregate %O: an emit or replay on it ran inside its own emit (from its decision or one of its handlers); the running emit owns its row and chain, so nothing was written. Return the extra events from the decision instead, or emit them later (from a process manager)" id)

    /// A table-API write of the row of an aggregate whose emit is running.
    let ownRowWritten (operation: string) (id: AggregateId) =
        InvalidDefinition
            [ sprintf "%s on %s: that is the row of aggregate %O, whose emit is running; Fable writes that row from ToRow (before each event's handlers run), so handlers read it and never write it" operation id.Table id ]

    /// Whether the table-API id `value` is the aggregate key `key`: `value` coerced as the key column's type (so a
    /// Guid or integer may come as its text, as Coerce accepts it) equals the key.
    let sameKey (key: AggregateKey) (value: obj) =
        match Coerce.value (ColumnType.OfKeyKind key.Kind) value with
        | Ok v -> Coerce.equal v key.Value
        | Error _ -> false
