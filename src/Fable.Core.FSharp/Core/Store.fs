// The operations callers use, over any interpreter: emit, unconditional emit, load, log, replay.
// Each opens its own unit of work; compose several in one with `IInterpreter.Transact`.
namespace Fable.FSharp

open System.Threading
open System.Threading.Tasks

/// Operations over an interpreter, each in its own transaction.
module internal Store =
    /// Emits with a decision on `key` of `def`: one transaction, serial per aggregate.
    let emit (i: IInterpreter) (def: AggregateDef<'S>) (key: AggregateKey) (expected: Expected) (decide: Decide<'S>) (ct: CancellationToken) =
        i.Emit(def, key, expected, decide, ct)

    /// Emits with a pure decision and no expectation (the serial mode).
    let emitPure i def key (decide: 'S -> Result<obj list, FableError>) ct = emit i def key Expected.Any (Pure decide) ct

    /// Records `events` without a decision (the unconditional emit).
    let append i def key (events: obj list) ct = emit i def key Expected.Any (Pure(UntypedDecider.always events)) ct

    /// Reads an aggregate without locking; None when it has no row.
    let load (i: IInterpreter) (def: AggregateDef<'S>) key (ct: CancellationToken) =
        i.Transact((fun uow -> uow.Load(def, key, ct)), ct)

    /// The aggregate's events in chain order.
    let log (i: IInterpreter) (id: AggregateId) (ct: CancellationToken) =
        i.Transact((fun uow -> uow.Log(id, ct)), ct)

    /// Rebuilds the aggregate row from its log in one transaction.
    let replay (i: IInterpreter) (def: AggregateDef<'S>) key (ct: CancellationToken) =
        i.Transact((fun uow -> uow.Replay(def, key, ct)), ct)

    /// Runs `work` in one unit of work (several emits and table writes that commit or fail together).
    let transact (i: IInterpreter) (work: IUnitOfWork -> Task<Result<'T, FableError>>) (ct: CancellationToken) =
        i.Transact(work, ct)
