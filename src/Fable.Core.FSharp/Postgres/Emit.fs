// Emit and replay on one session, each inside its own savepoint (DESIGN §2). An emit whose events have no
// handlers is two round trips: [SAVEPOINT; create lock and fork check (not for a row the store saw: KnownRows);
// SELECT … FOR UPDATE] and [INSERT events (ids, ordering key, time) and guarded row write, one statement; RELEASE].
// An event with handlers is written with the row in one statement before they run.
namespace Fable.FSharp.Postgres

open System
open System.Collections.Generic
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// The emit, replay, load and log algorithms of the Postgres interpreter.
module internal Emit =
    let private notify (ctx: Context) =
        Sql.command "SELECT pg_notify($1, '')" [ Sql.textParam ctx.Options.NotifyChannel ]

    let private rowOf (results: Row list list) index =
        match List.tryItem index results with
        | Some rows -> List.tryHead rows
        | None -> None

    /// Reads the results of [create lock; SELECT … FOR UPDATE]: the row (if any) and whether the row is missing
    /// although the aggregate has events.
    let private readLoaded (ct: CancellationToken) (reader: NpgsqlDataReader) =
        task {
            let! _ = reader.ReadAsync ct
            let forked = reader.GetBoolean 0
            let! _ = reader.NextResultAsync ct
            let! found = reader.ReadAsync ct
            let row = if found then Some(Sql.readRow reader) else None
            return struct (row, forked)
        }

    /// Reads the result of `AggregateRows.lockRow`: the row, if it is still there.
    let private readLocked (ct: CancellationToken) (reader: NpgsqlDataReader) =
        task {
            let! found = reader.ReadAsync ct
            return if found then Some(Sql.readRow reader) else None
        }

    /// Runs `body` with aggregate `id` marked as running on `s`; a re-entry (from its own decision or handlers) is
    /// refused before anything is sent.
    let private running (s: Session) (id: AggregateId) (body: unit -> Task<Result<'T, FableError>>) =
        match s.Running.Enter id with
        | Error e -> Task.FromResult(Error e)
        | Ok() ->
            task {
                try
                    return! body ()
                finally
                    s.Running.Leave id
            }

    /// One emit's steps on `s` inside `sp` (`Steps.EmitWalk`). Events get provisional negative ids when recorded and
    /// their real ids, ordering key and time from the INSERT that records them (under the lock, in chain order, so ids
    /// grow along the chain): no round trip to allocate them. Payload and metadata are in jsonb's normal text form
    /// already (computed in Core): the INSERT does not send them back. `row`: the aggregate's row as locked.
    [<Sealed>]
    type private PgEmitSteps<'S>(ctx: Context, s: Session, sp: Savepoint, uow: IUnitOfWork, def: AggregateDef<'S>,
                                 id: AggregateId, rowFound: bool, state: 'S, last: int64 option, events: obj list,
                                 ct: CancellationToken) =
        inherit Steps.EmitWalk<'S>(ctx.Runtime, uow, def, id, state, last, events, ct)
        let mutable provisional = -1L
        // The transaction's ordering key for the aggregate and its time, once an INSERT gave them.
        let mutable tx = 0L
        let mutable now = DateTimeOffset.MinValue
        // Inserts not sent yet.
        let pending = List<StoredEvent>()
        // The real id of provisional id -(k + 1) at index k (ids are provisional in record order and sent in that order).
        let realIds = List<int64>()
        // Whether the row exists now, and the last_event_id it holds (the guard of the next write).
        let mutable rowExists = rowFound
        let mutable rowLast = last

        /// Whether the aggregate's row exists now.
        member _.RowExists = rowExists

        /// The last_event_id the row holds now (the guard of the next write).
        member _.RowLast = rowLast

        /// The real id of `eid` (a provisional id once its INSERT ran; any other id as is).
        member _.RealId(eid: int64) =
            let k = int (-eid - 1L)
            if eid < 0L && k < realIds.Count then realIds[k] else eid

        /// Sends `extra` after, when `row` is given, the pending events and the row write of `row` in one statement
        /// (`AggregateRows.recordAndWrite`), reading with `ct`. The walk (`Steps.EmitWalk`) leaves events pending
        /// exactly when the row is behind them: a row write follows recorded events (the one that has handlers, or
        /// the last one), the first of them follows the event the row holds, and the guard alone (`row` None) comes
        /// after handlers that saw the final row, which flushed everything; any other shape is refused. Afterwards
        /// the row exists and holds the last event's id when `row` was given.
        member this.Flush(release: bool, ct: CancellationToken, row: Row option, extra: NpgsqlBatchCommand list) : Task<unit> =
            let sent = pending.ToArray()
            pending.Clear()
            let commands =
                let prev = if sent.Length > 0 then Option.map this.RealId sent[0].PrevEventId else None
                match row with
                // The first pending event follows the event the row holds (the guard of the write), or the row is new.
                | Some row when sent.Length > 0 && (not rowExists || prev = rowLast) ->
                    let cols = AggregateRows.columns ctx.Runtime.Tables id.Table row
                    AggregateRows.recordAndWrite ctx id rowExists prev sent cols :: extra
                | None when sent.Length = 0 -> extra
                | _ ->
                    invalidOp (sprintf "emit on %O: %d event(s) pending (the first after %A, the row at %A) at a %s (a broken walk; nothing is sent)"
                                   id sent.Length prev rowLast (if row.IsSome then "row write" else "guard"))
            task {
                do! s.Run(sp, commands, release, ct, fun reader -> task {
                    if sent.Length > 0 then
                        let start = realIds.Count
                        let mutable go = true
                        while go do
                            let! has = reader.ReadAsync ct
                            if has then
                                realIds.Add(reader.GetInt64 0)
                                tx <- reader.GetInt64 1
                                now <- reader.GetFieldValue<DateTimeOffset> 2
                            else go <- false
                        // RETURNING need not follow the chain: ordered by id, it does.
                        realIds.Sort(start, realIds.Count - start, Comparer<int64>.Default)
                })
                if row.IsSome then
                    rowExists <- true
                    rowLast <- Some realIds[realIds.Count - 1]
            }

        /// The event `e` as stored: its real ids, the transaction's ordering key and time.
        member this.Resolve(e: StoredEvent) =
            let real = this.RealId e.Id
            if real = e.Id then e
            else { e with Id = real; PrevEventId = Option.map this.RealId e.PrevEventId; InsertedAt = now; Position = { Tx = tx; Id = real } }

        override _.Record(enc, meta, prev) =
            let eid = provisional
            provisional <- provisional - 1L
            let recorded =
                { Id = eid; PrevEventId = prev; Aggregate = id; TypeName = enc.TypeName
                  TypeVersion = enc.TypeVersion; Meta = meta; Data = enc.Data; InsertedAt = now
                  Position = { Tx = tx; Id = eid } }
            pending.Add recorded
            ValueTask<_>(Ok recorded)

        // Handlers may read the log and the row, or reference them: both are written, in the batch that records the
        // event, before they run.
        override this.WriteRow(state, recorded) =
            match AggregateRow.stored ctx.Runtime.Tables def (not rowExists) state with
            | Error e -> ValueTask<_>(Error e)
            | Ok cols ->
                Steps.ofTask (task {
                    do! this.Flush(false, ct, Some cols, [])
                    return Ok(this.Resolve recorded)
                })

    /// Emits on `key` of `def` inside a savepoint of `s`: lock and load, refuse a fork, read the state, check
    /// `expected`, decide, then the shared steps per event (the row is written in the batch that records an event
    /// with handlers, before they run), the final row write guarded by its old last_event_id (only the guard when
    /// the last event's handlers saw the final row), notify.
    let emit (ctx: Context) (s: Session) (uow: IUnitOfWork) (def: AggregateDef<'S>) (key: AggregateKey) (expected: Expected) (decide: Decide<'S>) (ct: CancellationToken) : Task<Result<Emitted<'S>, FableError>> =
        match AggregateDef.check ctx.Runtime.Tables def key with
        | Error e -> Task.FromResult(Error e)
        | Ok() ->
            let id = AggregateDef.idOf def key
            // `running` inside the scope's task: one async state machine less per emit (nothing is sent before it).
            s.InScope(Some id, true, ct, fun sp -> task {
                match s.Running.Enter id with
                | Error e -> return Error e
                | Ok() ->
                    try
                        // An aggregate this store saw with a row: its row lock alone (the create lock only matters
                        // while the row is missing). Not there any more: forget it and lock as for any other.
                        let mutable row = None
                        let mutable forked = false
                        if ctx.Known.Contains id then
                            let! found = s.Run(sp, [ AggregateRows.lockRow ctx id ], false, ct, readLocked ct)
                            row <- found
                            if found.IsNone then ctx.Known.Remove id
                        if row.IsNone then
                            let! struct (found, f) = s.Run(sp, AggregateRows.lockAndLoad ctx id, false, ct, readLoaded ct)
                            row <- found
                            forked <- f
                            if found.IsSome then ctx.Known.Add id
                        let rowFound = row.IsSome
                        let last = row |> Option.bind Sql.lastEventId
                        let read =
                            if forked then Error(AggregateRow.forked id)
                            else AggregateRow.stateOf def key (Option.toObj row) |> Result.bind (fun state -> Steps.checkExpected id expected last |> Result.map (fun () -> state))
                        match read with
                        | Error e -> return Error e
                        | Ok state ->
                            match! Steps.decide uow decide state ct with
                            | Error e -> return Error e
                            | Ok events ->
                                let steps = PgEmitSteps<'S>(ctx, s, sp, uow, def, id, row.IsSome, state, last, events, ct)
                                match! steps.Run() with
                                | Error e -> return Error e
                                | Ok(struct (_, _, [], _)) ->
                                    return Ok { Aggregate = { Id = id; LastEventId = last; State = state }; Events = [] }
                                | Ok(struct (state', last', recorded, rowCurrent)) ->
                                    // The final row write rides with the pending events in one statement; only the
                                    // guard when the last event's handlers saw the final row.
                                    let final =
                                        match steps.RowLast with
                                        | Some written when rowCurrent -> Ok(struct (None, [ AggregateRows.guard ctx id written ]))
                                        | _ -> AggregateRow.stored ctx.Runtime.Tables def (not steps.RowExists) state' |> Result.map (fun cols -> struct (Some cols, []))
                                    match final with
                                    | Error e -> return Error e
                                    | Ok(struct (row, write)) ->
                                        // The whole transaction is this emit (IInterpreter.Emit): COMMIT rides with the
                                        // last batch, once `ct` is not cancelled. Once sent it runs to the end (no
                                        // cancellation), like a COMMIT; a failure maps as `PgErrors.ofCommit`.
                                        let commits = s.CommitWithLastBatch && sp.WholeTransaction && s.Depth = 1
                                        // In the caller's transaction Fable does not see the commit: notify in it. A
                                        // transaction Fable owns wakes followers after its commit (PostgresStore).
                                        let last =
                                            if ctx.Options.Notify && not s.Owned then write @ [ notify ctx ]
                                            elif commits then write @ [ Sql.command "COMMIT" [] ]
                                            else write
                                        let emitted () =
                                            s.Recorded <- s.Recorded + recorded.Length
                                            // The emit created the row: the next one locks it alone.
                                            if not rowFound then ctx.Known.Add id
                                            Ok { Aggregate = { Id = id; LastEventId = last' |> Option.map steps.RealId; State = state' }
                                                 Events = List.map steps.Resolve recorded }
                                        if commits then
                                            if ct.IsCancellationRequested then
                                                return Error Cancelled
                                            else
                                                s.CommitSent <- true
                                                let mutable failure = None
                                                try
                                                    do! steps.Flush(true, CancellationToken.None, row, last)
                                                    s.Committed <- true
                                                with e ->
                                                    failure <- Some(PgErrors.ofCommit (Some id) e)
                                                match failure with
                                                | Some e -> return Error e
                                                | None -> return emitted ()
                                        else
                                            do! steps.Flush(true, ct, row, last)
                                            return emitted ()
                    finally
                        s.Running.Leave id
            })

    /// Rebuilds the row of `key` from its log inside a savepoint: lock and load the row and the log, then Core's
    /// `Replay.run` with the row write guarded by the row's last_event_id (an INSERT when the row is missing).
    let replay (ctx: Context) (s: Session) (uow: IUnitOfWork) (def: AggregateDef<'S>) (key: AggregateKey) (ct: CancellationToken) : Task<Result<AggregateState<'S>, FableError>> =
        match AggregateDef.check ctx.Runtime.Tables def key with
        | Error e -> Task.FromResult(Error e)
        | Ok() ->
            let id = AggregateDef.idOf def key
            running s id (fun () -> s.InSavepoint(Some id, ct, fun sp -> task {
                let! loaded = s.Run(sp, AggregateRows.lockAndLoad ctx id @ [ Events.log ctx id ], false, ct)
                let row = rowOf loaded 1
                match Events.ofRows (List.item 2 loaded) with
                | Error e -> return Error e
                | Ok logged ->
                    let mutable rowExists = row.IsSome
                    let mutable rowLast = row |> Option.bind Sql.lastEventId
                    let write (state: 'S) (last: int64) : Task<Result<unit, FableError>> =
                        task {
                            match AggregateRow.stored ctx.Runtime.Tables def (not rowExists) state with
                            | Error e -> return Error e
                            | Ok cols ->
                                let! _ = s.Run(sp, [ AggregateRows.write ctx id rowExists rowLast last (AggregateRows.columns ctx.Runtime.Tables id.Table cols) ], false, ct)
                                rowExists <- true
                                rowLast <- Some last
                                return Ok()
                        }
                    return! Replay.run ctx.Runtime uow def id logged write ct
            }))

    /// Reads the row of `key` without locking.
    let load (ctx: Context) (s: Session) (def: AggregateDef<'S>) (key: AggregateKey) (ct: CancellationToken) : Task<Result<AggregateState<'S> option, FableError>> =
        match AggregateDef.check ctx.Runtime.Tables def key with
        | Error e -> Task.FromResult(Error e)
        | Ok() ->
            let id = AggregateDef.idOf def key
            task {
                match! s.Query(Some id, [ AggregateRows.select id ], ct) with
                | Error e -> return Error e
                | Ok results ->
                    match rowOf results 0 with
                    | None -> return Ok None
                    | Some row ->
                        return
                            AggregateRow.stateOf def key row
                            |> Result.map (fun st -> Some { Id = id; LastEventId = Sql.lastEventId row; State = st })
            }

    /// The aggregate's events in chain order.
    let log (ctx: Context) (s: Session) (id: AggregateId) (ct: CancellationToken) : Task<Result<StoredEvent list, FableError>> =
        match Storable.checkKey id.Table id.Key with
        | Error e -> Task.FromResult(Error e)
        | Ok() ->
            task {
                match! s.Query(Some id, [ Events.log ctx id ], ct) with
                | Error e -> return Error e
                | Ok results -> return Events.ofRows (List.head results)
            }
