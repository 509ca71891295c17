// Creating an interpreter for Build: the in-memory store or the PostgreSQL store and runners, each with every
// aggregate definition checked on it.
using Fable.FSharp;
using Fable.FSharp.Postgres;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Core;
using Microsoft.Extensions.Logging;
using Npgsql;
using FUnit = Microsoft.FSharp.Core.Unit;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

internal static class Backends
{
    /// <summary>What Build logs (Information, event 1021) when the data source prepares no statements.</summary>
    internal const string StatementsNotPrepared =
        "the data source prepares no statements (Npgsql's Max Auto Prepare is 0, its default): every emit parses and plans "
        + "Fable's statements again, about twice the server time of prepared ones. Set Max Auto Prepare (e.g. 64) in its "
        + "connection string, unless a pooler in between cannot keep prepared statements (PgBouncer in transaction mode "
        + "before 1.21); see docs/postgres.md, \"Prepared statements\"";

    /// <summary>Whether <paramref name="dataSource"/> prepares statements automatically (Npgsql's Max Auto Prepare).</summary>
    internal static bool PreparesStatements(NpgsqlDataSource dataSource) =>
        new NpgsqlConnectionStringBuilder(dataSource.ConnectionString).MaxAutoPrepare > 0;

    /// <summary>Creates the in-memory store and checks every aggregate definition on it, as PostgreSQL's Build does.</summary>
    public static async Task<Either<Error, Backend>> InMemory(global::Fable.FSharp.Runtime runtime, Func<DateTimeOffset>? clock, TimeSpan? lockTimeout,
                                                              ILoggerFactory? loggerFactory, IEnumerable<AggregateChecker> checks, CancellationToken ct)
    {
        if (lockTimeout is { } t && t <= TimeSpan.Zero)
            return new FableErrors.InvalidDefinition([$"the in-memory lock timeout must be positive, got {t}"]);
        var store = global::Fable.FSharp.InMemory.InMemoryStore.Create(
            runtime, clock is null ? null : FSharpOption<FSharpFunc<FUnit, DateTimeOffset>>.Some(FuncConvert.FromFunc(clock)),
            lockTimeout is { } timeout ? FSharpOption<TimeSpan>.Some(timeout) : null,
            loggerFactory is null ? null : FSharpOption<ILoggerFactory>.Some(loggerFactory));
        var problems = await Problems(store, checks, ct).ConfigureAwait(false);
        if (problems.Count > 0) return new FableErrors.InvalidDefinition(problems);
        return new Backend("in-memory", store.Interpreter, store.ProcessManagers, null);
    }

    /// <summary>Every problem the aggregate checks find on <paramref name="store"/>.</summary>
    static async Task<List<string>> Problems(object store, IEnumerable<AggregateChecker> checks, CancellationToken ct)
    {
        var problems = new List<string>();
        foreach (var check in checks)
            (await check(store, ct).ConfigureAwait(false)).IfLeft(e =>
                problems.AddRange(e is FableErrors.InvalidDefinition d ? d.Problems : [e.Message]));
        return problems;
    }

    /// <summary>Migrates Fable's schema, creates the store and registers the process managers (not started).</summary>
    public static async Task<Either<Error, Backend>> Postgres(NpgsqlDataSource dataSource, global::Fable.FSharp.Runtime runtime, PostgresSettings settings,
                                                               ILoggerFactory? loggerFactory, IEnumerable<AggregateChecker> checks,
                                                               IEnumerable<string> aggregateTables,
                                                               IReadOnlyList<(string Name, RepartitionStart From)> repartitions, CancellationToken ct)
    {
        var created = await CoreCalls.Call(() => PostgresStore.Create(dataSource, runtime,
            FSharpOption<PostgresOptions>.Some(new PostgresOptions(settings.Schema, settings.Notify)), FSharpOption<CancellationToken>.Some(ct)), s => s);
        if (created.IsLeft) return created.Map(_ => (Backend)null!);
        var store = (PostgresStore)created;
        var problems = await Problems(store, checks, ct).ConfigureAwait(false);
        if (problems.Count > 0) return new FableErrors.InvalidDefinition(problems);
        var warnings = await CoreCalls.Call(() => store.SchemaWarnings(aggregateTables, FSharpOption<CancellationToken>.Some(ct)), ws => ws.ToList());
        if (warnings.IsLeft) return warnings.Map(_ => (Backend)null!);
        var found = (List<string>)warnings;
        if (loggerFactory?.CreateLogger(LogNames.Build) is { } logger)
        {
            foreach (var w in found) logger.LogWarning(new EventId(LogNames.TableInFableSchema, nameof(LogNames.TableInFableSchema)), "{Warning}", w);
            if (!PreparesStatements(dataSource))
                logger.LogInformation(new EventId(LogNames.StatementsNotPrepared, nameof(LogNames.StatementsNotPrepared)), "{Hint}", StatementsNotPrepared);
        }
        foreach (var (name, from) in repartitions)
        {
            var changed = await CoreCalls.Call(() => PostgresProcessManagers.Repartition(store, name,
                from == RepartitionStart.Origin ? RepartitionFrom.Origin : RepartitionFrom.Drained, FSharpOption<CancellationToken>.Some(ct)), _ => Unit.Default);
            if (changed.IsLeft) return changed.Map(_ => (Backend)null!);
        }
        var host = await CoreCalls.Call(() => PostgresProcessManagers.Create(store,
            Conversions.Some(settings.RunnerId),
            settings.PollInterval is { } poll ? FSharpOption<TimeSpan>.Some(poll) : null,
            loggerFactory is null ? null : FSharpOption<ILoggerFactory>.Some(loggerFactory),
            FSharpOption<CancellationToken>.Some(ct)), h => h);
        return host.Map(h => new Backend("postgres", store, h, store, found));
    }

    /// <summary>Checks one aggregate type on a store: its definition (Initial, ToRow) on both interpreters, and on
    /// PostgreSQL its table too (columns, key type and last_event_id).</summary>
    public static AggregateChecker Checker<S, K>(AggregateType<S, K> type) where K : notnull =>
        (store, ct) => store is PostgresStore pg
            ? CoreCalls.Call(() => pg.CheckAggregate(CoreDefinitions.Def(type), FSharpOption<CancellationToken>.Some(ct)), _ => Unit.Default)
            : CoreCalls.Call(() => ((global::Fable.FSharp.InMemory.InMemoryStore)store).CheckAggregate(CoreDefinitions.Def(type), FSharpOption<CancellationToken>.Some(ct)), _ => Unit.Default);

}
