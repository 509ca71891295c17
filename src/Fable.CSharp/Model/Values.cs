// Plain C# values Fable hands out: key kinds, log positions and recorded events.
// They mirror the F# core's records without exposing any F# type.
namespace Fable.CSharp;

/// <summary>The type of an aggregate table's <c>id</c> column.</summary>
public enum KeyKind
{
    /// <summary><c>uuid</c>, passed as <see cref="Guid"/>.</summary>
    Uuid = 0,
    /// <summary><c>bigint</c>, passed as <see cref="long"/> (an <see cref="int"/> is widened).</summary>
    Int = 1,
    /// <summary><c>text</c>, passed as <see cref="string"/>.</summary>
    Text = 2,
}

/// <summary>A place in the global log as process managers read it: the ordering key and the event id.</summary>
/// <param name="Tx">The follower ordering key (grows along each aggregate's chain).</param>
/// <param name="Id">The event id.</param>
public readonly record struct Position(long Tx, long Id) : IComparable<Position>
{
    /// <summary>Follower order: by <see cref="Tx"/>, then by <see cref="Id"/>.</summary>
    public int CompareTo(Position other) => Tx != other.Tx ? Tx.CompareTo(other.Tx) : Id.CompareTo(other.Id);

    /// <summary>True when <paramref name="a"/> comes before <paramref name="b"/>.</summary>
    public static bool operator <(Position a, Position b) => a.CompareTo(b) < 0;
    /// <summary>True when <paramref name="a"/> comes after <paramref name="b"/>.</summary>
    public static bool operator >(Position a, Position b) => a.CompareTo(b) > 0;
    /// <summary>True when <paramref name="a"/> is not after <paramref name="b"/>.</summary>
    public static bool operator <=(Position a, Position b) => a.CompareTo(b) <= 0;
    /// <summary>True when <paramref name="a"/> is not before <paramref name="b"/>.</summary>
    public static bool operator >=(Position a, Position b) => a.CompareTo(b) >= 0;

    /// <summary>Before every event.</summary>
    public static Position Origin => new(0, 0);

    /// <summary>"tx:id".</summary>
    public override string ToString() => $"{Tx}:{Id}";
}

/// <summary>An event as recorded in the log, as followers read it (any aggregate). Where the aggregate type is known
/// (an aggregate's log, an emit's result) it is a <see cref="RecordedEvent{TKey}"/> with the key typed.</summary>
public class RecordedEvent
{
    internal RecordedEvent(long id, long? prevEventId, string table, object key, string typeName, int typeVersion,
                           string meta, string data, DateTimeOffset insertedAt, Position position)
    {
        Id = id;
        PrevEventId = prevEventId;
        Table = table;
        Key = key;
        TypeName = typeName;
        TypeVersion = typeVersion;
        Meta = meta;
        Data = data;
        InsertedAt = insertedAt;
        Position = position;
    }

    /// <summary>The global event id.</summary>
    public long Id { get; }
    /// <summary>The previous event of the same aggregate; null for its first event.</summary>
    public long? PrevEventId { get; }
    /// <summary>The aggregate table.</summary>
    public string Table { get; }
    /// <summary>The aggregate key (a Guid, long or string: the type of the table's <c>id</c>).</summary>
    public object Key { get; }
    /// <summary>The stable type name.</summary>
    public string TypeName { get; }
    /// <summary>The payload's schema version.</summary>
    public int TypeVersion { get; }
    /// <summary>Metadata as a JSON object text.</summary>
    public string Meta { get; }
    /// <summary>The payload as JSON text.</summary>
    public string Data { get; }
    /// <summary>When the event was recorded.</summary>
    public DateTimeOffset InsertedAt { get; }
    /// <summary>Where process managers see it.</summary>
    public Position Position { get; }

    /// <summary>The key typed as <paramref name="type"/>'s, when this event belongs to that aggregate type's table.</summary>
    public bool TryKeyOf<TState, TKey>(AggregateType<TState, TKey> type, out TKey key) where TKey : notnull
    {
        if (type is not null && Table == type.Table && Key is TKey k)
        {
            key = k;
            return true;
        }
        key = default!;
        return false;
    }

    /// <inheritdoc />
    public override string ToString() => $"#{Id} {TypeName} v{TypeVersion} on {Table}/{Key} (prev {PrevEventId?.ToString() ?? "none"})";
}

/// <summary>An event of an aggregate whose key type is known.</summary>
/// <typeparam name="TKey">The aggregate's key type.</typeparam>
public sealed class RecordedEvent<TKey> : RecordedEvent where TKey : notnull
{
    /// <summary>Creates a recorded event (Fable creates these; you rarely need to).</summary>
    public RecordedEvent(long id, long? prevEventId, string table, TKey key, string typeName, int typeVersion,
                           string meta, string data, DateTimeOffset insertedAt, Position position)
        : base(id, prevEventId, table, key, typeName, typeVersion, meta, data, insertedAt, position) =>
        Key = key;

    /// <summary>The aggregate key.</summary>
    public new TKey Key { get; }
}

/// <summary>A snapshot of one aggregate: its type, key, last event id and state, and the events the emit that
/// produced it recorded. Emitting with a snapshot expects the aggregate to still be at <see cref="LastEventId"/>.</summary>
/// <typeparam name="TState">The aggregate's state type.</typeparam>
/// <typeparam name="TKey">The aggregate's key type.</typeparam>
public sealed class Aggregate<TState, TKey> where TKey : notnull
{
    internal Aggregate(AggregateType<TState, TKey> type, TKey id, long? lastEventId, TState state,
                       IReadOnlyList<RecordedEvent<TKey>> recorded)
    {
        Type = type;
        Id = id;
        LastEventId = lastEventId;
        State = state;
        Recorded = recorded;
    }

    /// <summary>The aggregate's registered type.</summary>
    public AggregateType<TState, TKey> Type { get; }
    /// <summary>The key.</summary>
    public TKey Id { get; }
    /// <summary>The id of its last event; null before its first.</summary>
    public long? LastEventId { get; }
    /// <summary>The state after that event.</summary>
    public TState State { get; }
    /// <summary>The events the emit that returned this snapshot recorded, in order (ids, positions, type, metadata);
    /// empty for a snapshot read by Load, Get or Replay, and for an emit whose decision recorded nothing.</summary>
    public IReadOnlyList<RecordedEvent<TKey>> Recorded { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Type.Table}/{Id} @ {LastEventId?.ToString() ?? "none"}: {State}";
}
