// The core's unit of work with C# types: what UnitOfWork, the contexts and single emits call.
using Fable.FSharp;
using System.Data.Common;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

/// <summary>The core's unit of work with C# types: what <see cref="UnitOfWork"/> and the contexts call.</summary>
internal sealed class UowAdapter(IUnitOfWork uow, Registry registry, CancellationToken token)
{
    public CancellationToken Token(CancellationToken ct) => ct.CanBeCanceled ? ct : token;
    public DbConnection? Connection => uow.Connection?.Value;
    public DbTransaction? Transaction => uow.Transaction?.Value;

    public Task<Either<Error, Aggregate<S, K>>> Emit<S, K>(AggregateType<S, K> type, K id, Expectation expectation, Decision<S> decision,
                                                           CancellationToken ct) where K : notnull =>
        EmitWith(registry, type, id, expectation, decision, (def, key, expected, decide) => uow.Emit(def, key, expected, decide, ct));

    /// <summary>Checks and converts an emit's arguments, then runs it with <paramref name="run"/> (on this unit of work,
    /// or on the interpreter as a transaction of its own).</summary>
    public static Task<Either<Error, Aggregate<S, K>>> EmitWith<S, K>(Registry registry, AggregateType<S, K> type, K id, Expectation expectation,
        Decision<S> decision, Func<AggregateDef<S>, AggregateKey, Fable.FSharp.Expected, Decide<S>, Task<FSharpResult<Emitted<S>, FableError>>> run)
        where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Aggregate<S, K>>>(problem);
        if (decision is null || (decision.Pure is null && decision.InTransaction is null))
            return Task.FromResult<Either<Error, Aggregate<S, K>>>(new FableErrors.InvalidDefinition(["the decision is null"]));
        var expected = expectation.Exact ? Fable.FSharp.Expected.NewAt(Conversions.Opt(expectation.LastEventId)) : Fable.FSharp.Expected.Any;
        var decide = decision.Pure is { } pure
            ? Decide<S>.NewPure(FuncConvert.FromFunc<S, FSharpResult<FSharpList<object>, FableError>>(s => Events(pure(s))))
            : Decide<S>.NewInTransaction(FuncConvert.FromFunc<IUnitOfWork, S, CancellationToken, Task<FSharpResult<FSharpList<object>, FableError>>>(
                async (u, s, c) =>
                {
                    var ctx = new DecideContext(new UnitOfWork(new UowAdapter(u, registry, c)), c);
                    return Events(await decision.InTransaction!(ctx, s).ConfigureAwait(false));
                }));
        return CoreCalls.Call(() => run(def!, key!, expected, decide),
                            e => Snapshot(registered!, e.Aggregate, e.Events.Select(Conversions.Recorded<K>).ToArray()));
    }

    public Task<Either<Error, Option<Aggregate<S, K>>>> Load<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Option<Aggregate<S, K>>>>(problem);
        return CoreCalls.Call(() => uow.Load(def!, key!, ct), o => o is null ? Option<Aggregate<S, K>>.None : Snapshot(registered!, o.Value, []));
    }

    public Task<Either<Error, IReadOnlyList<RecordedEvent<K>>>> Log<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, _, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, IReadOnlyList<RecordedEvent<K>>>>(problem);
        return CoreCalls.Call(() => uow.Log(new AggregateId(registered!.Table, key!), ct),
                            es => (IReadOnlyList<RecordedEvent<K>>)es.Select(Conversions.Recorded<K>).ToArray());
    }

    public Task<Either<Error, Aggregate<S, K>>> Replay<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Aggregate<S, K>>>(problem);
        return CoreCalls.Call(() => uow.Replay(def!, key!, ct), a => Snapshot(registered!, a, []));
    }

    public Either<Error, object> Decode(RecordedEvent r) => CoreDefinitions.Decode(uow.Codec, r);

    public Task<Either<Error, Option<IReadOnlyDictionary<string, object?>>>> Get(string table, object id, CancellationToken ct) =>
        CoreCalls.Call(() => uow.Tables.Get(table, id, ct),
                     o => o is null ? Option<IReadOnlyDictionary<string, object?>>.None : Option<IReadOnlyDictionary<string, object?>>.Some(o.Value!));

    public Task<Either<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>> Find(string table, string column, object value, CancellationToken ct) =>
        CoreCalls.Call(() => uow.Tables.Find(table, column, value, ct), rows => (IReadOnlyList<IReadOnlyDictionary<string, object?>>)rows.ToArray()!);

    public Task<Either<Error, Unit>> Insert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct) =>
        CoreCalls.Call(() => uow.Tables.Insert(table, row!, ct), _ => Unit.Default);

    public Task<Either<Error, Unit>> Upsert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct) =>
        CoreCalls.Call(() => uow.Tables.Upsert(table, row!, ct), _ => Unit.Default);

    public Task<Either<Error, bool>> Delete(string table, object id, CancellationToken ct) =>
        CoreCalls.Call(() => uow.Tables.Delete(table, id, ct), b => b);

    static FSharpResult<FSharpList<object>, FableError> Events(Either<Error, IEnumerable<object>> decided) =>
        decided.Match(
            Right: es => es is null
                ? FSharpResult<FSharpList<object>, FableError>.NewError(FableError.NewInvalidDefinition(ListModule.OfSeq(["a decision returned a null event list"])))
                : FSharpResult<FSharpList<object>, FableError>.NewOk(ListModule.OfSeq(es)),
            Left: e => FSharpResult<FSharpList<object>, FableError>.NewError(ErrorConversions.ToFable(e)));

    static Aggregate<S, K> Snapshot<S, K>(AggregateType<S, K> type, global::Fable.FSharp.AggregateState<S> a, IReadOnlyList<RecordedEvent<K>> recorded)
        where K : notnull =>
        new(type, Keys<K>.OfCore(a.Id.Key), Conversions.Opt(a.LastEventId), a.State, recorded);

    /// <summary>The registered definition of <paramref name="type"/>'s table, its core definition and key; or the problem.</summary>
    static (AggregateType<S, K>? Type, AggregateDef<S>? Def, AggregateKey? Key, Error? Problem) Check<S, K>(Registry registry, AggregateType<S, K> type, K id)
        where K : notnull
    {
        var (registered, problem) = registry.Resolve(type);
        if (problem is not null) return (null, null, null, problem);
        return Conversions.Key(registered!.Table, id).Match(
            Right: k => (registered, CoreDefinitions.Def(registered), k, (Error?)null),
            Left: e => ((AggregateType<S, K>?)null, (AggregateDef<S>?)null, (AggregateKey?)null, (Error?)e));
    }
}
