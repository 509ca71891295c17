// An aggregate as a C# definition: its table, its key type (Guid, long or string, fixed by TKey), the state of a
// new aggregate, how the state evolves per event type, and how it maps to the row. Immutable: On returns a new one.
using System.Collections.Immutable;

namespace Fable.CSharp;

/// <summary>Creates aggregate types: <c>AggregateType.Create&lt;Account, Guid&gt;("accounts", ...)</c>.</summary>
public static class AggregateType
{
    /// <summary>A definition for <paramref name="table"/> keyed by <typeparamref name="TKey"/> (Guid for <c>uuid</c>,
    /// long for <c>bigint</c>, string for <c>text</c>); see <see cref="AggregateType{TState, TKey}.Create"/>.</summary>
    public static AggregateType<TState, TKey> Create<TState, TKey>(string table, Func<TKey, TState> initial,
                                                                   Func<TState, IReadOnlyDictionary<string, object?>> toRow,
                                                                   Func<IReadOnlyDictionary<string, object?>, TState> ofRow)
        where TKey : notnull =>
        AggregateType<TState, TKey>.Create(table, initial, toRow, ofRow);
}

/// <summary>How an aggregate lives in its table and evolves. The table has a primary key <c>id</c> and a column
/// <c>last_event_id bigint NULL</c>; Fable writes the columns <see cref="ToRow"/> returns. An app knows an aggregate
/// type by its table: another definition of the same table and types reaches the registered one.</summary>
/// <typeparam name="TState">The aggregate's state type.</typeparam>
/// <typeparam name="TKey">The key type: <see cref="Guid"/> (<c>uuid</c>), <see cref="long"/> (<c>bigint</c>) or
/// <see cref="string"/> (<c>text</c>); any other is refused at <c>Build</c>.</typeparam>
public sealed class AggregateType<TState, TKey> where TKey : notnull
{
    private readonly ImmutableDictionary<Type, Func<TState, object, TState>> evolvers;
    private readonly ImmutableList<string> problems;

    private AggregateType(string table, Func<TKey, TState> initial,
                          Func<TState, IReadOnlyDictionary<string, object?>> toRow,
                          Func<IReadOnlyDictionary<string, object?>, TState> ofRow,
                          ImmutableDictionary<Type, Func<TState, object, TState>> evolvers, ImmutableList<string> problems,
                          TableColumns columns)
    {
        TableColumns = columns;
        Table = table;
        Initial = initial;
        ToRow = toRow;
        OfRow = ofRow;
        this.evolvers = evolvers;
        this.problems = problems;
    }

    /// <summary>A definition for <paramref name="table"/> keyed by <typeparamref name="TKey"/>.</summary>
    /// <param name="table">The aggregate table (unqualified or schema-qualified).</param>
    /// <param name="initial">The state of an aggregate that has no row yet, from its key.</param>
    /// <param name="toRow">The columns Fable writes for a state, besides <c>id</c> and <c>last_event_id</c>.</param>
    /// <param name="ofRow">The state read back from a full row (which includes <c>id</c> and <c>last_event_id</c>).</param>
    public static AggregateType<TState, TKey> Create(string table, Func<TKey, TState> initial,
                                                     Func<TState, IReadOnlyDictionary<string, object?>> toRow,
                                                     Func<IReadOnlyDictionary<string, object?>, TState> ofRow)
    {
        var problems = ImmutableList<string>.Empty;
        if (string.IsNullOrWhiteSpace(table)) problems = problems.Add("an aggregate definition has a blank table name");
        if (initial is null) problems = problems.Add($"aggregate {table} has no initial state function");
        if (toRow is null) problems = problems.Add($"aggregate {table} has no state-to-row mapping");
        if (ofRow is null) problems = problems.Add($"aggregate {table} has no row-to-state mapping");
        if (Keys<TKey>.Kind is null)
            problems = problems.Add($"aggregate {table} has {typeof(TKey).Name} keys; use Guid (uuid), long (bigint) or string (text)");
        return new AggregateType<TState, TKey>(table ?? "", initial!, toRow!, ofRow!,
                                               ImmutableDictionary<Type, Func<TState, object, TState>>.Empty, problems, TableColumns.None);
    }

    /// <summary>Declares the columns <see cref="ToRow"/> writes (besides <c>id</c> and <c>last_event_id</c>), e.g.
    /// <c>.Columns(t => t.Text("owner", nullable: true).BigInt("balance"))</c>. Both interpreters refuse a ToRow
    /// column that is not declared and a value its column does not take; on PostgreSQL Build checks the table.</summary>
    public AggregateType<TState, TKey> Columns(Func<TableColumns, TableColumns> columns)
    {
        if (columns is null) return With(evolvers, problems.Add($"aggregate {Table} has null columns"));
        var declared = columns(TableColumns.None);
        if (declared is null) return With(evolvers, problems.Add($"aggregate {Table} declares null columns"));
        return new AggregateType<TState, TKey>(Table, Initial, ToRow, OfRow, evolvers, problems, declared);
    }

    /// <summary>Adds how <typeparamref name="TEvent"/> changes the state (pure). Events without an evolve leave
    /// the state unchanged (their handlers may still write associated rows).</summary>
    public AggregateType<TState, TKey> On<TEvent>(Func<TState, TEvent, TState> evolve)
    {
        if (evolve is null)
            return With(evolvers, problems.Add($"aggregate {Table} has a null evolve for {typeof(TEvent).Name}"));
        if (evolvers.ContainsKey(typeof(TEvent)))
            return With(evolvers, problems.Add($"aggregate {Table} evolves {typeof(TEvent).Name} twice"));
        return With(evolvers.Add(typeof(TEvent), (s, e) => evolve(s, (TEvent)e)), problems);
    }

    /// <summary>The aggregate table.</summary>
    public string Table { get; }
    /// <summary>The type of the <c>id</c> column (from <typeparamref name="TKey"/>).</summary>
    public KeyKind KeyKind => Keys<TKey>.Kind ?? KeyKind.Text;
    /// <summary>The state of an aggregate that has no row yet.</summary>
    public Func<TKey, TState> Initial { get; }
    /// <summary>The columns written for a state.</summary>
    public Func<TState, IReadOnlyDictionary<string, object?>> ToRow { get; }
    /// <summary>The state read from a row.</summary>
    public Func<IReadOnlyDictionary<string, object?>, TState> OfRow { get; }
    /// <summary>The event types this aggregate evolves on.</summary>
    public IReadOnlyCollection<Type> EvolvedEventTypes => evolvers.Keys.ToArray();

    /// <summary>The state after one event: its evolve, or the same state when none is registered for its type.</summary>
    public TState Evolve(TState state, object @event) =>
        evolvers.TryGetValue(@event.GetType(), out var f) ? f(state, @event) : state;

    /// <inheritdoc />
    public override string ToString() => $"AggregateType<{typeof(TState).Name}, {typeof(TKey).Name}>({Table})";

    internal IReadOnlyList<string> Problems => problems;

    /// <summary>The declared columns of the aggregate table.</summary>
    internal TableColumns TableColumns { get; }

    /// <summary>The F# definition, built once by the interop layer.</summary>
    internal object? Core { get; set; }

    private AggregateType<TState, TKey> With(ImmutableDictionary<Type, Func<TState, object, TState>> e, ImmutableList<string> p) =>
        new(Table, Initial, ToRow, OfRow, e, p, TableColumns);
}
