// The running app: every operation returns a LanguageExt EitherAsync, so calls chain with Bind and Map and
// end with Match or ToEither. Each operation is one transaction; Transact composes several in one.
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.CSharp;

/// <summary>A built Fable app on one interpreter. Thread-safe. Build it with <see cref="FableBuilder"/>.
/// Operations start when called (as tasks do); chain them with <c>Bind</c> so each starts after the previous one
/// succeeded, and finish with <c>Match</c> or <c>ToEither</c>. They never throw: every failure is a Left.</summary>
public sealed class FableApp : IAsyncDisposable, IDisposable
{
    private readonly Backend backend;
    private readonly Registry registry;

    /// <summary>The interpreter behind this app (for the tests).</summary>
    internal Backend Backend => backend;

    internal FableApp(Backend backend, Registry registry, IReadOnlyList<string> processManagers, IReadOnlyList<string> declaredTables)
    {
        this.backend = backend;
        this.registry = registry;
        DeclaredTables = declaredTables;
        ProcessManagers = new ProcessManagerHost(backend.Host, registry.Json, processManagers);
    }

    /// <summary>The interpreter this app runs on: "in-memory" or "postgres".</summary>
    public string Interpreter => backend.Name;

    /// <summary>What <see cref="FableBuilder.Build"/> found that does not stop the app, also written to the log
    /// (<c>UsePostgres(log: …)</c>, standard error by default): on PostgreSQL, each aggregate or declared table that
    /// resolves into Fable's own schema. Empty in memory.</summary>
    public IReadOnlyList<string> Warnings => backend.Warnings;

    /// <summary>The app's process managers.</summary>
    public ProcessManagerHost ProcessManagers { get; }

    /// <summary>Every table the app declares: ordinary tables and aggregate tables, in registration order.</summary>
    public IReadOnlyList<string> DeclaredTables { get; }

    /// <summary>The committed rows of declared table <paramref name="table"/> ordered by <c>id</c> (aggregate rows include
    /// <c>id</c> and <c>last_event_id</c>), for tests and inspection; an undeclared table is an
    /// <see cref="FableErrors.InvalidDefinition"/>.</summary>
    public EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>> Rows(string table, CancellationToken ct = default) =>
        DeclaredTables.Contains(table)
            ? TableRows.All(backend.Interpreter, table, work => Transact(work, ct), ct)
            : Prelude.LeftAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>(new FableErrors.InvalidDefinition(
                [$"Rows: table {table} is not declared; declare it with .Table(...) or register its aggregate type (declared: {string.Join(", ", DeclaredTables)})"]));

    /// <summary>The rows of declared table <paramref name="table"/> ordered by <c>id</c> as the caller's open PostgreSQL
    /// transaction sees them (uncommitted writes of <see cref="InTransaction"/> included); on the in-memory interpreter
    /// an <see cref="FableErrors.InvalidDefinition"/>.</summary>
    public EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>> Rows(string table, NpgsqlConnection connection,
        NpgsqlTransaction transaction, CancellationToken ct = default) =>
        !DeclaredTables.Contains(table)
            ? Rows(table, ct)
            : backend.Store is null
                ? Prelude.LeftAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>(new FableErrors.InvalidDefinition(
                    ["Rows in a caller's transaction needs the PostgreSQL interpreter (UsePostgres); in memory call Rows(table)"]))
                : TableRows.Select(connection, transaction, table, ct).ToAsync();

    /// <summary>Locks aggregate <paramref name="id"/>, decides on its fresh state and records the events with their
    /// handlers, in one transaction (the serial mode). A Left from <paramref name="decide"/> comes back as is.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<TState, Either<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        InterpreterCalls.Emit(backend.Interpreter, registry, type, id, Expectation.Any, Decision<TState>.Of(decide), ct).ToAsync();

    /// <summary>As the serial emit, with a decision that reads inside the transaction (tables, other aggregates,
    /// the Npgsql connection).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        InterpreterCalls.Emit(backend.Interpreter, registry, type, id, Expectation.Any, Decision<TState>.Of(decide), ct).ToAsync();

    /// <summary>As the overload taking an <c>EitherAsync</c> decision, for <c>async</c>/<c>await</c> code: the decision
    /// returns a <c>Task</c> of its result (a Left refuses, an exception rolls back as <see cref="FableErrors.HandlerFailed"/>).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
        Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>> decide, CancellationToken ct = default) where TKey : notnull =>
        InterpreterCalls.Emit(backend.Interpreter, registry, type, id, Expectation.Any, Decision<TState>.Of(decide), ct).ToAsync();

    /// <summary>Decides on <paramref name="snapshot"/>'s state; <see cref="FableErrors.Conflict"/> when the aggregate
    /// has moved past the snapshot's last event id.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<TState, Either<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        EmitOn(snapshot, Decision<TState>.Of(decide), ct);

    /// <summary>Decides on <paramref name="snapshot"/>'s state reading inside the transaction;
    /// <see cref="FableErrors.Conflict"/> when the snapshot is stale.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide, CancellationToken ct = default) where TKey : notnull =>
        EmitOn(snapshot, Decision<TState>.Of(decide), ct);

    /// <summary>As the overload taking an <c>EitherAsync</c> decision, for <c>async</c>/<c>await</c> code: the decision
    /// returns a <c>Task</c> of its result (a Left refuses, an exception rolls back as <see cref="FableErrors.HandlerFailed"/>).</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Emit<TState, TKey>(Aggregate<TState, TKey> snapshot,
        Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>> decide, CancellationToken ct = default) where TKey : notnull =>
        EmitOn(snapshot, Decision<TState>.Of(decide), ct);

    /// <summary>Records <paramref name="events"/> on aggregate <paramref name="id"/> without a decision.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Append<TState, TKey>(AggregateType<TState, TKey> type, TKey id, IEnumerable<object> events,
        CancellationToken ct = default) where TKey : notnull =>
        InterpreterCalls.Emit(backend.Interpreter, registry, type, id, Expectation.Any, Decision<TState>.Always(events), ct).ToAsync();

    // An emit on a snapshot as a transaction of its own: Conflict when the aggregate moved past it.
    EitherAsync<Error, Aggregate<TState, TKey>> EmitOn<TState, TKey>(Aggregate<TState, TKey> snapshot, Decision<TState> decision, CancellationToken ct) where TKey : notnull =>
        snapshot is null
            ? Prelude.LeftAsync<Error, Aggregate<TState, TKey>>(new FableErrors.InvalidDefinition(["the snapshot is null"]))
            : InterpreterCalls.Emit(backend.Interpreter, registry, snapshot.Type, snapshot.Id, Expectation.At(snapshot.LastEventId), decision, ct).ToAsync();

    /// <summary>Reads aggregate <paramref name="id"/>; None when it has no row.</summary>
    public EitherAsync<Error, Option<Aggregate<TState, TKey>>> Load<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        Transact(u => u.Load(type, id, ct), ct);

    /// <summary>Reads aggregate <paramref name="id"/>; <see cref="FableErrors.NotFound"/> when it has no row.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Get<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        Transact(u => u.Get(type, id, ct), ct);

    /// <summary>The events of aggregate <paramref name="id"/> in chain order.</summary>
    public EitherAsync<Error, IReadOnlyList<RecordedEvent<TKey>>> Log<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        Transact(u => u.Log(type, id, ct), ct);

    /// <summary>Rebuilds aggregate <paramref name="id"/>'s row from its log in one transaction.</summary>
    public EitherAsync<Error, Aggregate<TState, TKey>> Replay<TState, TKey>(AggregateType<TState, TKey> type, TKey id, CancellationToken ct = default) where TKey : notnull =>
        Transact(u => u.Replay(type, id, ct), ct);

    /// <summary>Runs <paramref name="work"/> in one transaction: it commits when the result is Right and rolls back
    /// on Left, an exception (returned as an Exceptional error) or cancellation. Chain the unit of work's calls with
    /// Bind; they must not overlap.</summary>
    public EitherAsync<Error, TResult> Transact<TResult>(Func<UnitOfWork, EitherAsync<Error, TResult>> work, CancellationToken ct = default) =>
        InterpreterCalls.Transact(backend.Interpreter, registry, work, ct).ToAsync();

    /// <summary>Runs <paramref name="work"/> inside the caller's open PostgreSQL transaction (the Ecto.Multi case, or a
    /// test that rolls back at the end): you commit or roll back. Each emit runs in a savepoint, so a failed one leaves
    /// nothing and the transaction usable. On the in-memory interpreter this is an
    /// <see cref="FableErrors.InvalidDefinition"/>.</summary>
    public EitherAsync<Error, TResult> InTransaction<TResult>(NpgsqlConnection connection, NpgsqlTransaction transaction,
        Func<UnitOfWork, EitherAsync<Error, TResult>> work, CancellationToken ct = default) =>
        InterpreterCalls.InTransaction(backend.Store, registry, connection, transaction, work, ct).ToAsync();

    /// <summary>Up to <paramref name="max"/> committed events after <paramref name="after"/>, in follower order
    /// (never one before an event that may still commit).</summary>
    public EitherAsync<Error, IReadOnlyList<RecordedEvent>> ReadAll(Position after, int max, CancellationToken ct = default) =>
        InterpreterCalls.ReadAll(backend.Interpreter, after, max, ct).ToAsync();

    /// <summary>The position of the last event visible to followers.</summary>
    public EitherAsync<Error, Position> Head(CancellationToken ct = default) => InterpreterCalls.Head(backend.Interpreter, ct).ToAsync();

    /// <summary>Decodes a recorded event into its registered CLR type (upcasting older versions).</summary>
    public Either<Error, object> Decode(RecordedEvent recorded) => CoreDefinitions.Decode(backend.Interpreter.Codec, recorded);

    /// <summary>Stops the process-manager runners and, on Postgres, the store's notifier (after the NOTIFY owed to
    /// the last commit). The data source stays yours to dispose.</summary>
    public async ValueTask DisposeAsync()
    {
        await ProcessManagers.Stop().ToEither().ConfigureAwait(false);
        if (backend.Store is IAsyncDisposable store) await store.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Stops the process-manager runners and the store's notifier, blocking until they have stopped (for containers disposed
    /// synchronously; prefer <see cref="DisposeAsync"/>).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
