// CatchUp for one process manager: wait until its checkpoint reaches a target position (or it is stopped).
// Without local runners the caller's task does the handling itself under the same lease runners use;
// when another runner holds the lease (here or in another process) it waits for that runner's progress.
namespace Fable.FSharp.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Fable.FSharp

/// Catching up to a position.
module internal PmCatchUp =
    /// Whether `row` needs nothing more to reach `target`.
    let private reached (target: LogPosition) (row: PmRow) = not row.Active || compare row.Checkpoint target >= 0

    /// The process manager's row (None: it has none), on one of the store's connections.
    let private load (ctx: PmContext) (name: string) (ct: CancellationToken) =
        ctx.Store.Read((fun conn -> task {
            let! row = PmTable.load conn ctx.Schema name ct
            return Ok row }), ct)

    let private missing (pm: ProcessManagerDef) = Error(InvalidDefinition [ sprintf "process manager %s has no row" pm.Name ])

    /// Waits for runners (local or remote) to bring `pm` to `target`, looking again after each local batch and
    /// at least every `poll`.
    let wait (ctx: PmContext) (pm: ProcessManagerDef) (target: LogPosition) (poll: TimeSpan) (progress: PmSignal) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            try
                let mutable result = None
                while result.IsNone do
                    let next = progress.Next
                    match! load ctx pm.Name ct with
                    | Error e -> result <- Some(Error e)
                    | Ok None -> result <- Some(missing pm)
                    | Ok(Some row) when reached target row -> result <- Some(Ok())
                    | Ok(Some _) ->
                        do! PmRunner.wait next poll ct
                        if ct.IsCancellationRequested then result <- Some(Error Cancelled)
                return result.Value
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }

    /// One round of the inline catch-up: None to go on, Some result when done. `stepNow` is set after a batch that
    /// ended before the target: the next round steps at once, without looking at the row.
    let private round (ctx: PmContext) (pm: ProcessManagerDef) (runnerId: string) (target: LogPosition) (poll: TimeSpan) (progress: PmSignal) (lease: PmLease option ref) (ahead: PmAhead) (stepNow: bool ref) (ct: CancellationToken) =
        task {
            let next = progress.Next
            let! look =
                if stepNow.Value then
                    Task.FromResult(Ok false)
                else
                    task {
                        match! load ctx pm.Name ct with
                        | Error e -> return Error e
                        | Ok None -> return missing pm
                        | Ok(Some row) -> return Ok(reached target row)
                    }
            stepNow.Value <- false
            match look with
            | Error e -> return Some(Error e)
            | Ok true -> return Some(Ok())
            | Ok false ->
                match lease.Value with
                | None ->
                    let! l = PmLease.TryAcquire(ctx.Store.DataSource, ctx.Schema, pm.Name, runnerId, ct)
                    lease.Value <- l
                    // Another runner holds it: wait for its progress (here, or `poll` for another process), then look
                    // again (or take over if it died).
                    if l.IsNone then do! PmRunner.wait next poll ct
                    return None
                | Some l ->
                    match! PmStep.run ctx pm l.Connection ahead ct with
                    | Ok(StepOutcome.Idle _) ->
                        // The target is committed but still behind the horizon (an older transaction is open).
                        do! PmRunner.wait PmRunner.never (if poll < TimeSpan.FromMilliseconds 20.0 then poll else TimeSpan.FromMilliseconds 20.0) ct
                        return None
                    | Ok(StepOutcome.Waiting d) ->
                        do! PmRunner.wait PmRunner.never d ct
                        return None
                    | Ok(StepOutcome.Handled(_, checkpoint)) ->
                        progress.Set()
                        // The batch committed with the row active: the target is reached exactly when the checkpoint is there.
                        if compare checkpoint target >= 0 then
                            return Some(Ok())
                        else
                            stepNow.Value <- true
                            return None
                    | Ok(StepOutcome.Failed _) ->
                        progress.Set()
                        return None
                    | Ok _ -> return None
                    | Error e -> return Some(Error e)
        }

    /// Handles `pm` on the caller's task until it reaches `target`, taking its lease when free; while another
    /// runner holds it, waits for that runner's progress (and takes over if it dies). Releases the lease after.
    let inline' (ctx: PmContext) (pm: ProcessManagerDef) (runnerId: string) (target: LogPosition) (poll: TimeSpan) (progress: PmSignal) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            let lease = ref None
            let ahead = PmAhead(ctx.Store)
            let stepNow = ref false
            let! outcome =
                task {
                    try
                        let mutable result = None
                        while result.IsNone do
                            let! r = round ctx pm runnerId target poll progress lease ahead stepNow ct
                            result <- if r.IsNone && ct.IsCancellationRequested then Some(Error Cancelled) else r
                        return result.Value
                    with e ->
                        return Error(PgErrors.ofExn None ct e)
                }
            do! ahead.Drain()
            match lease.Value with
            | Some(l: PmLease) -> do! l.Release()
            | None -> ()
            return outcome
        }
