// The Postgres unit of work: IUnitOfWork over one session (connection + transaction). Emits and replays run
// in savepoints; the connection and transaction are exposed for the caller's own SQL (Dapper, EF Core, ...).
namespace Fable.FSharp.Postgres

open System.Data.Common
open System.Threading
open Fable.FSharp

/// IUnitOfWork over a session. Like the connection under it, use it from one task at a time.
type internal PgUnitOfWork(ctx: Context, session: Session) =
    // Made on first use: most units of work (one emit) never touch tables.
    let mutable tables: ITables = Unchecked.defaultof<ITables>

    /// The emit without its "fable.emit" span (PostgresStore traces an emit that is a whole transaction itself).
    member this.EmitUntraced(def: AggregateDef<'S>, key: AggregateKey, expected: Expected, decide: Decide<'S>, ct: CancellationToken) =
        Emit.emit ctx session (this :> IUnitOfWork) def key expected decide ct

    interface IUnitOfWork with
        member this.Emit(def, key, expected, decide, ct) =
            if Telemetry.emitObserved () then
                Telemetry.traceEmit TelemetryNames.Postgresql def.Table def.KeyKind (fun () -> this.EmitUntraced(def, key, expected, decide, ct))
            else this.EmitUntraced(def, key, expected, decide, ct)
        member _.Load(def, key, ct) = Emit.load ctx session def key ct
        member _.Log(id, ct) = Emit.log ctx session id ct
        member this.Replay(def, key, ct) = Emit.replay ctx session (this :> IUnitOfWork) def key ct
        member _.Tables =
            if obj.ReferenceEquals(tables, null) then tables <- GuardedTables(PgTables(session, ctx.Runtime.Tables), session.Running)
            tables
        // Code that holds the connection may write outside Fable's view: later emits keep their savepoints.
        member _.Connection =
            session.Expose()
            Some(session.Connection :> DbConnection)
        member _.Transaction =
            session.Expose()
            Some(session.Transaction :> DbTransaction)
        member _.Codec = ctx.Runtime.Codec
