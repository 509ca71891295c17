// The interpreter an app runs on: in-memory, or PostgreSQL through an NpgsqlDataSource.
// Creating it may fail (a migration, an aggregate table that does not fit); every problem is reported together.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Creates the backend of an app.</summary>
internal abstract class InterpreterChoice
{
    public abstract Task<Either<Error, Backend>> Create(Runtime runtime, IReadOnlyList<RegisteredAggregate> aggregates, CancellationToken ct);

    public static InterpreterChoice InMemory(Func<DateTimeOffset>? clock, TimeSpan? lockTimeout) => new InMemoryChoice(clock, lockTimeout);

    private sealed class InMemoryChoice(Func<DateTimeOffset>? clock, TimeSpan? lockTimeout) : InterpreterChoice
    {
        public override Task<Either<Error, Backend>> Create(Runtime runtime, IReadOnlyList<RegisteredAggregate> aggregates, CancellationToken ct) =>
            Task.FromResult(Interop.InMemory(runtime, clock, lockTimeout));
    }
}
