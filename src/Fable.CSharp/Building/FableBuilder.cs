// Fluent registration, built once: event types, aggregates, routes, process managers and the interpreter.
// Build() validates everything together and reports every problem in one error; it never throws.
using Fable.FSharp;
using System.Text.Json;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fable.CSharp;

/// <summary>Registers what an app uses, then <see cref="Build"/>s it. Registration never throws: problems are
/// collected and <see cref="Build"/> returns them all at once.</summary>
public sealed class FableBuilder
{
    private sealed record EventRegistration(Type ClrType, string Name, int Version, IReadOnlyList<Upcaster> Upcasters);

    private readonly List<EventRegistration> events = [];
    private readonly List<RegisteredAggregate> aggregates = [];
    private readonly List<(string Name, KeyKind KeyKind, bool IsAggregate, TableColumns Columns)> tables = [];
    private readonly List<Func<Registry, ProcessManagerDef>> processManagers = [];
    private readonly List<(string Name, RepartitionStart From)> repartitions = [];
    private readonly List<(string Name, IReadOnlyCollection<Type> Types, IReadOnlyList<string> Problems)> processManagerInfo = [];
    private readonly List<string> problems = [];
    private readonly List<InterpreterChoice> interpreters = [];
    private Fable.CSharp.Routes routes = Fable.CSharp.Routes.Empty;
    private JsonSerializerOptions json = new(JsonSerializerDefaults.Web);
    private ILoggerFactory? loggerFactory;

    /// <summary>A builder with nothing registered.</summary>
    public static FableBuilder Create() => new();

    /// <summary>Registers <typeparamref name="TEvent"/> under the stable <paramref name="name"/> at version 1.</summary>
    public FableBuilder Event<TEvent>(string name) => Event<TEvent>(name, 1);

    /// <summary>Registers <typeparamref name="TEvent"/> under <paramref name="name"/> at <paramref name="version"/>,
    /// with the upcasters that read each older version.</summary>
    public FableBuilder Event<TEvent>(string name, int version, params Upcaster[] upcasters)
    {
        upcasters ??= [];
        foreach (var u in upcasters.Where(u => u is null || u.Apply is null))
            problems.Add($"event type {name} has a null upcaster{(u is null ? "" : $" from v{u.FromVersion}")}");
        var valid = upcasters.Where(u => u is { Apply: not null }).ToArray();
        foreach (var g in valid.GroupBy(u => u.FromVersion).Where(g => g.Count() > 1))
            problems.Add($"event type {name} has {g.Count()} upcasters from v{g.Key}");
        events.Add(new EventRegistration(typeof(TEvent), name ?? "", version, valid.DistinctBy(u => u.FromVersion).ToArray()));
        return this;
    }

    /// <summary>The JSON options for event payloads and process-manager state (default: web defaults).</summary>
    public FableBuilder Json(JsonSerializerOptions options)
    {
        if (options is null) problems.Add("the JSON options are null");
        else json = options;
        return this;
    }

    /// <summary>Registers an aggregate type; only registered types can be emitted to.</summary>
    public FableBuilder Aggregate<TState, TKey>(AggregateType<TState, TKey> type) where TKey : notnull
    {
        if (type is null) problems.Add("an aggregate type is null");
        else aggregates.Add(new RegisteredAggregate(type, type.Table, type.KeyKind, type.TableColumns, type.EvolvedEventTypes, type.Problems,
                                                    Backends.Checker(type)));
        return this;
    }

    /// <summary>Declares an ordinary table that handlers and decisions use through <c>ctx.Tables</c>: its name, the type
    /// of its primary key <c>id</c> and its other columns, e.g. <c>.Table("ledger", KeyKind.Int, t =>
    /// t.Uuid("account_id").BigInt("amount").Text("note", nullable: true))</c>. Both interpreters refuse a table call
    /// on an undeclared table or column, a wrong key type and a value the column does not take; on PostgreSQL Build
    /// checks the table against the database.</summary>
    public FableBuilder Table(string name, KeyKind keyKind, Func<TableColumns, TableColumns> columns)
    {
        var declared = columns?.Invoke(TableColumns.None);
        if (declared is null) problems.Add($"table {name} has null columns");
        else tables.Add((name ?? "", keyKind, false, declared));
        return this;
    }

    /// <summary>Merges <paramref name="more"/> into the app's routes (handlers of one type run in registration order).</summary>
    public FableBuilder Routes(Fable.CSharp.Routes more)
    {
        if (more is null) problems.Add("a routes value is null");
        else routes = routes.Include(more);
        return this;
    }

    /// <summary>Registers a process manager.</summary>
    public FableBuilder ProcessManager<TState>(ProcessManager<TState> processManager)
    {
        if (processManager is null) problems.Add("a process manager is null");
        else
        {
            processManagers.Add(reg => Callbacks.ProcessManager(processManager, reg));
            processManagerInfo.Add((processManager.Name, processManager.EventTypes, processManager.Problems));
        }
        return this;
    }

    /// <summary>Runs on the in-memory interpreter (same semantics as PostgreSQL; for tests and the sample).</summary>
    /// <param name="clock">Stamps recorded events (default: UTC now).</param>
    /// <param name="lockTimeout">How long a unit of work waits for a locked aggregate before a retryable
    /// <see cref="FableErrors.Conflict"/>, as a deadlock would on PostgreSQL (default: 10 seconds).</param>
    public FableBuilder UseInMemory(Func<DateTimeOffset>? clock = null, TimeSpan? lockTimeout = null)
    {
        interpreters.Add(InterpreterChoice.InMemory(clock, lockTimeout));
        return this;
    }

    /// <summary>Runs on PostgreSQL through <paramref name="dataSource"/> (which stays yours to dispose). Build migrates
    /// Fable's <paramref name="schema"/>, checks every aggregate table and registers the process managers.</summary>
    /// <param name="dataSource">Where connections come from.</param>
    /// <param name="schema">Fable's own schema (events, process managers); created when missing.</param>
    /// <param name="notify">Whether emits wake process-manager runners with NOTIFY (they also poll).</param>
    /// <param name="runnerId">This process's name as a process-manager runner (default: machine, process, random).</param>
    /// <param name="pollInterval">How long a runner waits without a notification before reading again (default 1 s).</param>
    public FableBuilder UsePostgres(NpgsqlDataSource dataSource, string schema = "fable", bool notify = true, string? runnerId = null,
                                    TimeSpan? pollInterval = null)
    {
        if (dataSource is null) problems.Add("the PostgreSQL data source is null");
        else interpreters.Add(InterpreterChoice.Postgres(dataSource, new PostgresSettings(schema, notify, runnerId, pollInterval)));
        return this;
    }

    /// <summary>Changes the stored partition count of process manager <paramref name="processManager"/> to the one its
    /// registration declares (<see cref="ProcessManager{TState}.Partitions"/>) when the app is built on PostgreSQL, before
    /// its process managers are registered; without it a count that differs from the stored one fails the build
    /// (InvalidDefinition). In one transaction the old rows are replaced by the new partitions with the initial state,
    /// starting where the old rows stopped (<see cref="RepartitionStart.Drained"/>: every old row at the same checkpoint)
    /// or from the origin (<see cref="RepartitionStart.Origin"/>, a rebuild). A retryable Conflict while any runner still
    /// holds an old row, or while drained rows disagree; nothing changes then. Already in the declared layout: nothing
    /// happens, so the call may stay. See docs/scaling.md, "Re-partitioning".</summary>
    public FableBuilder Repartition(string processManager, RepartitionStart from)
    {
        if (string.IsNullOrWhiteSpace(processManager)) problems.Add("Repartition needs a process manager name");
        else repartitions.Add((processManager, from));
        return this;
    }

    /// <summary>Logs through <paramref name="factory"/> (category <c>Fable.ProcessManagers</c>: runner takeovers,
    /// retries, stops, connection losses, control operations; see docs/observability.md). Without it Fable logs
    /// nothing. Traces and metrics need no call here: listen to the ActivitySource and Meter named "Fable".</summary>
    public FableBuilder UseLoggerFactory(ILoggerFactory factory)
    {
        if (factory is null) problems.Add("the logger factory is null");
        else loggerFactory = factory;
        return this;
    }

    /// <summary>Validates the whole registration and starts the interpreter. Left is one error: the only problem's
    /// own error (such as <see cref="FableErrors.DuplicateRoute"/>), or <see cref="FableErrors.InvalidDefinition"/>
    /// listing every problem.</summary>
    public EitherAsync<Error, FableApp> Build(CancellationToken ct = default) => BuildAsync(ct).ToAsync();

    private async Task<Either<Error, FableApp>> BuildAsync(CancellationToken ct)
    {
        var registry = new Registry(json);
        var found = new List<(string Text, Error? Typed)>(problems.Select(p => (p, (Error?)null)));
        void Problem(string text) => found.Add((text, null));

        var registered = new System.Collections.Generic.HashSet<Type>(events.Select(e => e.ClrType));
        var routed = new System.Collections.Generic.HashSet<Type>(routes.EventTypes);
        foreach (var a in aggregates)
        {
            a.Problems.ToList().ForEach(Problem);
            if (!registry.Add(a.Table, a.Type) && aggregates.Count(b => ReferenceEquals(b.Type, a.Type)) > 1)
                Problem($"aggregate type {a.Table} is registered twice; register it once");
            foreach (var t in a.Evolved.Where(t => !registered.Contains(t)))
                Problem($"aggregate {a.Table} evolves {t.Name}, which is not a registered event type");
            foreach (var t in a.Evolved.Where(t => registered.Contains(t) && !routed.Contains(t)))
                Problem($"aggregate {a.Table} evolves {t.Name}, which has no route (declare one with Routes.On<{t.Name}>())");
        }
        foreach (var g in aggregates.GroupBy(a => a.Table, StringComparer.Ordinal).Where(g => g.Select(a => a.Type).Distinct().Count() > 1))
            Problem($"aggregate table {g.Key} is registered by {g.Select(a => a.Type).Distinct().Count()} aggregate types; register one definition per table");
        foreach (var (name, types, pmProblems) in processManagerInfo)
        {
            pmProblems.ToList().ForEach(Problem);
            foreach (var t in types.Where(t => !registered.Contains(t)))
                Problem($"process manager {name} handles {t.Name}, which is not a registered event type");
        }
        if (interpreters.Count == 0) Problem("no interpreter chosen: call UseInMemory() or UsePostgres(...)");
        if (interpreters.Count > 1) Problem($"{interpreters.Count} interpreters chosen; choose one");

        var routeProblems = new List<string>();
        var router = Callbacks.Router(routes.Entries, registry, routeProblems);
        routeProblems.ForEach(Problem);
        var eventTypes = events.Select(e => CoreDefinitions.EventType(e.ClrType, e.Name, e.Version, e.Upcasters));
        var declared = tables.Concat(aggregates.Select(a => (a.Table, a.KeyKind, true, a.Columns)));
        var runtime = CoreDefinitions.Runtime(eventTypes, json, router, processManagers.Select(p => p(registry)).ToList(), declared);
        runtime.IfLeft(e =>
        {
            if (e is FableErrors.InvalidDefinition d) d.Problems.ToList().ForEach(Problem);
            else found.Add((e.Message, e));
        });

        if (found.Count > 0 || runtime.IsLeft) return Combine(found);
        var backend = await interpreters[0].Create((Runtime)runtime, aggregates, loggerFactory, repartitions, ct).ConfigureAwait(false);
        // The runtime's names: a partitioned process manager is listed as its partitions (name#i/N).
        var runnerNames = ((Runtime)runtime).ProcessManagers.Select(p => p.Name).ToArray();
        return backend.Map(b => new FableApp(b, registry, runnerNames,
                                            declared.Select(t => t.Item1).Distinct(StringComparer.Ordinal).ToArray()));
    }

    private static Error Combine(List<(string Text, Error? Typed)> found) =>
        found is [{ Typed: { } only }] ? only : new FableErrors.InvalidDefinition(found.Select(f => f.Text).ToArray());
}

/// <summary>An aggregate type as the builder and the interpreter check see it.</summary>
internal sealed record RegisteredAggregate(object Type, string Table, KeyKind KeyKind, TableColumns Columns, IReadOnlyCollection<Type> Evolved,
                                           IReadOnlyList<string> Problems, AggregateChecker Check);
