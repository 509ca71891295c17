// The interpreter an app runs on: in-memory, or PostgreSQL through an NpgsqlDataSource.
// Creating it may fail (a migration, an aggregate table that does not fit); every problem is reported together.
using Fable.FSharp;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fable.CSharp;

/// <summary>Checks an aggregate type on a store (its definition; on PostgreSQL its table too); Left lists the problems.</summary>
internal delegate Task<Either<Error, Unit>> AggregateChecker(object store, CancellationToken ct);

/// <summary>How the PostgreSQL interpreter and its process-manager runners are set up.</summary>
internal sealed record PostgresSettings(string Schema, bool Notify, string? RunnerId, TimeSpan? PollInterval);

/// <summary>Creates the backend of an app.</summary>
internal abstract class InterpreterChoice
{
    public abstract Task<Either<Error, Backend>> Create(Runtime runtime, IReadOnlyList<RegisteredAggregate> aggregates, ILoggerFactory? loggerFactory,
                                                        IReadOnlyList<(string Name, RepartitionStart From)> repartitions, CancellationToken ct);

    public static InterpreterChoice InMemory(Func<DateTimeOffset>? clock, TimeSpan? lockTimeout) => new InMemoryChoice(clock, lockTimeout);

    public static InterpreterChoice Postgres(NpgsqlDataSource dataSource, PostgresSettings settings) => new PostgresChoice(dataSource, settings);

    private sealed class InMemoryChoice(Func<DateTimeOffset>? clock, TimeSpan? lockTimeout) : InterpreterChoice
    {
        // The in-memory interpreter stores nothing across builds: there is nothing to re-partition.
        public override Task<Either<Error, Backend>> Create(Runtime runtime, IReadOnlyList<RegisteredAggregate> aggregates, ILoggerFactory? loggerFactory,
                                                            IReadOnlyList<(string Name, RepartitionStart From)> repartitions, CancellationToken ct) =>
            Backends.InMemory(runtime, clock, lockTimeout, loggerFactory, aggregates.Select(a => a.Check), ct);
    }

    private sealed class PostgresChoice(NpgsqlDataSource dataSource, PostgresSettings settings) : InterpreterChoice
    {
        public override Task<Either<Error, Backend>> Create(Runtime runtime, IReadOnlyList<RegisteredAggregate> aggregates, ILoggerFactory? loggerFactory,
                                                            IReadOnlyList<(string Name, RepartitionStart From)> repartitions, CancellationToken ct) =>
            Backends.Postgres(dataSource, runtime, settings, loggerFactory, aggregates.Select(a => a.Check), aggregates.Select(a => a.Table), repartitions, ct);
    }
}
