// One transaction seen from C#: emits, loads, logs, replays and table writes that commit or fail together.
// FableApp's operations are each one of these; Transact hands you one to compose several.
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.CSharp;

/// <summary>One transaction. Emits inside it are serial per aggregate (the aggregate stays locked until it ends)
/// and everything commits together or not at all. Chain calls with <c>Bind</c>: calls on one unit of work must
/// not overlap. A failed emit leaves no trace (the rest of the unit of work survives if you recover).</summary>
public sealed class UnitOfWork
{
    private readonly UowAdapter uow;

    internal UnitOfWork(UowAdapter uow)
    {
        this.uow = uow;
        Tables = new Tables(uow);
    }

    /// <summary>Ordinary rows in this transaction.</summary>
    public Tables Tables { get; }
    /// <summary>The open connection on PostgreSQL (null in memory): run your own SQL on it.</summary>
    public NpgsqlConnection? Connection => uow.Connection as NpgsqlConnection;
    /// <summary>The transaction on PostgreSQL (null in memory).</summary>
    public NpgsqlTransaction? Transaction => uow.Transaction as NpgsqlTransaction;
    /// <summary>The connection and transaction on PostgreSQL, non-null; on the in-memory interpreter an
    /// <see cref="FableErrors.InvalidDefinition"/> saying this code needs PostgreSQL.</summary>
    public Either<Error, PostgresSession> Postgres =>
        Connection is { } c && Transaction is { } t
            ? new PostgresSession(c, t)
            : new FableErrors.InvalidDefinition(["this code uses the PostgreSQL connection, but the app runs on the in-memory interpreter: build it with UsePostgres(...) or read through Tables"]);
    /// <summary>The cancellation of the whole unit of work (used when a call passes none).</summary>
    public CancellationToken CancellationToken => uow.Token(default);

    /// <summary>Locks aggregate <paramref name="id"/> and decides on its fresh state (the serial mode).
    /// The decision's Left comes back as is.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<TState, Either<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(type, id, Expectation.Any, Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>Locks aggregate <paramref name="id"/> and decides on its fresh state with a decision that reads
    /// inside the transaction.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(type, id, Expectation.Any, Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>As the overload taking an <c>EitherAsync</c> decision, for <c>async</c>/<c>await</c> code: the decision
    /// returns a <c>Task</c> of its result (a Left refuses, an exception rolls back as <see cref="FableErrors.HandlerFailed"/>).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(type, id, Expectation.Any, Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>Decides on <paramref name="snapshot"/>'s state; <see cref="FableErrors.Conflict"/> when the aggregate
    /// is no longer at the snapshot's last event id.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<TState, Either<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(snapshot.Type, snapshot.Id, Expectation.At(snapshot.LastEventId), Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>Decides on <paramref name="snapshot"/>'s state, reading inside the transaction;
    /// <see cref="FableErrors.Conflict"/> when the snapshot is stale.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(snapshot.Type, snapshot.Id, Expectation.At(snapshot.LastEventId), Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>As the overload taking an <c>EitherAsync</c> decision, for <c>async</c>/<c>await</c> code: the decision
    /// returns a <c>Task</c> of its result (a Left refuses, an exception rolls back as <see cref="FableErrors.HandlerFailed"/>).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>> decide, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(snapshot.Type, snapshot.Id, Expectation.At(snapshot.LastEventId), Decision<TState>.Of(decide), uow.Token(ct)).ToAsync();

    /// <summary>Records <paramref name="events"/> on aggregate <paramref name="id"/> without a decision.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Append<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        IEnumerable<object> events, CancellationToken ct = default) where TKey : notnull =>
        uow.Emit(type, id, Expectation.Any, Decision<TState>.Always(events), uow.Token(ct)).ToAsync();

    /// <summary>Reads aggregate <paramref name="id"/> without locking it; None when it has no row.</summary>
    public EitherAsync<Error, Option<Aggregate<TState, TKey>>> Load<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        uow.Load(type, id, uow.Token(ct)).ToAsync();

    /// <summary>Reads aggregate <paramref name="id"/>; <see cref="FableErrors.NotFound"/> when it has no row.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Get<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        Load(type, id, ct).Bind(o => o.Match(
            Some: a => EitherAsync<Error, Aggregate<TState, TKey>>.Right(a),
            None: () => EitherAsync<Error, Aggregate<TState, TKey>>.Left(new FableErrors.NotFound(type.Table, id))));

    /// <summary>The events of aggregate <paramref name="id"/> in chain order.</summary>
    public EitherAsync<Error, IReadOnlyList<RecordedEvent<TKey>>> Log<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        uow.Log(type, id, uow.Token(ct)).ToAsync();

    /// <summary>Rebuilds aggregate <paramref name="id"/>'s row from its log through evolve and the handlers
    /// (with <see cref="HandlerContext.Replaying"/> set).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Replay<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        uow.Replay(type, id, uow.Token(ct)).ToAsync();

    /// <summary>Decodes a recorded event into its registered CLR type (upcasting older versions).</summary>
    public Either<Error, object> Decode(RecordedEvent recorded) => uow.Decode(recorded);
}
