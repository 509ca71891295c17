// What decisions, handlers and process managers receive: the transaction's tables and connection,
// the event being handled and the cancellation token.
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.CSharp;

/// <summary>The PostgreSQL connection and transaction of a unit of work (both open and non-null).</summary>
/// <param name="Connection">The open connection: run your own SQL (Dapper, EF Core) on it.</param>
/// <param name="Transaction">The transaction your commands must join.</param>
public sealed record PostgresSession(NpgsqlConnection Connection, NpgsqlTransaction Transaction);

/// <summary>What a decision that reads inside the emit's transaction receives (the aggregate is locked).</summary>
public sealed class DecideContext
{
    private readonly UnitOfWork work;

    internal DecideContext(UnitOfWork work, CancellationToken ct)
    {
        this.work = work;
        CancellationToken = ct;
    }

    /// <summary>Ordinary rows in the emit's transaction.</summary>
    public Tables Tables => work.Tables;
    /// <summary>The connection on PostgreSQL (null in memory).</summary>
    public NpgsqlConnection? Connection => work.Connection;
    /// <summary>The transaction on PostgreSQL (null in memory).</summary>
    public NpgsqlTransaction? Transaction => work.Transaction;
    /// <summary>The connection and transaction on PostgreSQL, non-null; on the in-memory interpreter an
    /// <see cref="FableErrors.InvalidDefinition"/> saying this code needs PostgreSQL.</summary>
    public Either<Error, PostgresSession> Postgres => work.Postgres;
    /// <summary>Cancellation of the emit.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Reads another aggregate inside the transaction, without locking it.</summary>
    public EitherAsync<Error, Option<Aggregate<TState, TKey>>> Load<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        work.Load(type, id, ct.CanBeCanceled ? ct : CancellationToken);
}

/// <summary>What a handler receives for one event, inside the emit's transaction.</summary>
public sealed class HandlerContext
{
    internal HandlerContext(UnitOfWork work, string table, object key, object state, RecordedEvent recorded, bool replaying, CancellationToken ct)
    {
        Work = work;
        Table = table;
        Key = key;
        State = state;
        Recorded = recorded;
        Replaying = replaying;
        CancellationToken = ct;
    }

    /// <summary>The emit's unit of work (emit to other aggregates in the same transaction).</summary>
    public UnitOfWork Work { get; }
    /// <summary>Ordinary rows in the emit's transaction.</summary>
    public Tables Tables => Work.Tables;
    /// <summary>The connection on PostgreSQL (null in memory).</summary>
    public NpgsqlConnection? Connection => Work.Connection;
    /// <summary>The transaction on PostgreSQL (null in memory).</summary>
    public NpgsqlTransaction? Transaction => Work.Transaction;
    /// <summary>The connection and transaction on PostgreSQL, non-null; on the in-memory interpreter an
    /// <see cref="FableErrors.InvalidDefinition"/> saying this code needs PostgreSQL.</summary>
    public Either<Error, PostgresSession> Postgres => Work.Postgres;
    /// <summary>The aggregate table.</summary>
    public string Table { get; }
    /// <summary>The aggregate key (Guid, long or string).</summary>
    public object Key { get; }
    /// <summary>The aggregate state after this event was evolved.</summary>
    public object State { get; }
    /// <summary>The event as recorded (id, previous id, type, payload).</summary>
    public RecordedEvent Recorded { get; }
    /// <summary>True inside a Replay: skip effects that must happen once.</summary>
    public bool Replaying { get; }
    /// <summary>Cancellation of the emit.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The state as <typeparamref name="TState"/> (an InvalidCastException fails the handler).</summary>
    public TState StateAs<TState>() => (TState)State;

    /// <summary>The key typed as <paramref name="type"/>'s. A handler routed for events of another aggregate's table
    /// fails (<see cref="FableErrors.HandlerFailed"/> naming both tables).</summary>
    public TKey KeyOf<TState, TKey>(AggregateType<TState, TKey> type) where TKey : notnull =>
        Recorded.TryKeyOf(type, out var key)
            ? key
            : throw new InvalidOperationException(
                $"this handler runs for an event of table {Table}, not of {type?.Table}: read the key with that table's aggregate type");
}

/// <summary>What a process manager's transactional handler receives: the checkpoint's transaction and the event.</summary>
public sealed class ProcessContext
{
    internal ProcessContext(UnitOfWork work, RecordedEvent recorded, CancellationToken ct)
    {
        Work = work;
        Recorded = recorded;
        CancellationToken = ct;
    }

    /// <summary>The checkpoint's unit of work: writes and emits here commit with the new state and checkpoint.</summary>
    public UnitOfWork Work { get; }
    /// <summary>Ordinary rows in the checkpoint's transaction.</summary>
    public Tables Tables => Work.Tables;
    /// <summary>The connection on PostgreSQL (null in memory).</summary>
    public NpgsqlConnection? Connection => Work.Connection;
    /// <summary>The transaction on PostgreSQL (null in memory).</summary>
    public NpgsqlTransaction? Transaction => Work.Transaction;
    /// <summary>The connection and transaction on PostgreSQL, non-null; on the in-memory interpreter an
    /// <see cref="FableErrors.InvalidDefinition"/> saying this code needs PostgreSQL.</summary>
    public Either<Error, PostgresSession> Postgres => Work.Postgres;
    /// <summary>The event being handled, as recorded.</summary>
    public RecordedEvent Recorded { get; }
    /// <summary>The key of the event's aggregate typed as <paramref name="type"/>'s, when the event belongs to that
    /// aggregate type's table (a process manager follows every aggregate: check the table first).</summary>
    public bool TryKeyOf<TState, TKey>(AggregateType<TState, TKey> type, out TKey key) where TKey : notnull =>
        Recorded.TryKeyOf(type, out key);
    /// <summary>Cancellation of the runner.</summary>
    public CancellationToken CancellationToken { get; }
}
