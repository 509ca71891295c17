// Internal shapes of a decision and of the caller's expectation, before the interop layer turns them
// into the F# core's Decide and Expected.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>What the caller expects the aggregate's last event id to be.</summary>
internal readonly record struct Expectation(bool Exact, long? LastEventId)
{
    public static Expectation Any => new(false, null);
    public static Expectation At(long? lastEventId) => new(true, lastEventId);
}

/// <summary>A pure decision, or one that reads inside the transaction.</summary>
internal sealed class Decision<TState>
{
    private Decision(Func<TState, Either<Error, IEnumerable<object>>>? pure,
                     Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>>? inTransaction)
    {
        Pure = pure;
        InTransaction = inTransaction;
    }

    public Func<TState, Either<Error, IEnumerable<object>>>? Pure { get; }
    public Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>>? InTransaction { get; }

    public static Decision<TState> Of(Func<TState, Either<Error, IEnumerable<object>>> decide) => new(decide, null);
    public static Decision<TState> Of(Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide) =>
        new(null, decide is null ? null : (ctx, s) => decide(ctx, s).ToEither());

    public static Decision<TState> Of(Func<DecideContext, TState, Task<Either<Error, IEnumerable<object>>>> decide) => new(null, decide);

    /// <summary>Records <paramref name="events"/> whatever the state (Append); a null list is InvalidDefinition.</summary>
    public static Decision<TState> Always(IEnumerable<object>? events)
    {
        Either<Error, IEnumerable<object>> result = events is null
            ? new FableErrors.InvalidDefinition(["Append was given a null event list"])
            : events.ToArray();
        return Of(_ => result);
    }
}
