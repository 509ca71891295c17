// Routes: event type -> handlers run in order inside the emit's transaction. Immutable; routes defined in
// separate modules merge with Include (or by registering several with the builder), handlers of one type in order.
using System.Collections.Immutable;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Which handlers run, in order, for each event type. Every emitted event type needs a route, even one
/// with no handler (<see cref="On{TEvent}()"/>).</summary>
public sealed class Routes
{
    internal sealed record Entry(Type EventType, string? Name, Func<HandlerContext, object, Task<Either<Error, Unit>>>? Run);

    private readonly ImmutableList<Entry> entries;

    private Routes(ImmutableList<Entry> entries) => this.entries = entries;

    /// <summary>No routes.</summary>
    public static Routes Empty { get; } = new(ImmutableList<Entry>.Empty);

    /// <summary>Declares that <typeparamref name="TEvent"/> may be emitted with no extra work.</summary>
    public Routes On<TEvent>() => new(entries.Add(new Entry(typeof(TEvent), null, null)));

    /// <summary>Adds handler <paramref name="name"/> for <typeparamref name="TEvent"/>, after those already routed.
    /// A Left (or an exception) rolls back the whole emit and returns <see cref="FableErrors.HandlerFailed"/>
    /// whose <c>Inner</c> is your error.</summary>
    /// <param name="name">A name unique among this event type's handlers.</param>
    /// <param name="handler">The work: write associated rows through <see cref="HandlerContext.Tables"/>.</param>
    public Routes On<TEvent>(string name, Func<HandlerContext, TEvent, EitherAsync<Error, Unit>> handler) =>
        new(entries.Add(new Entry(typeof(TEvent), name,
            handler is null ? null : (ctx, e) => handler(ctx, (TEvent)e).ToEither())));

    /// <summary>As <see cref="On{TEvent}(string, Func{HandlerContext, TEvent, EitherAsync{Error, Unit}})"/>, for
    /// <c>async</c>/<c>await</c> code: the handler returns a <c>Task</c> of its result; a Left (or an exception) rolls
    /// back the whole emit and returns <see cref="FableErrors.HandlerFailed"/> whose <c>Inner</c> is your error.</summary>
    public Routes On<TEvent>(string name, Func<HandlerContext, TEvent, Task<Either<Error, Unit>>> handler) =>
        new(entries.Add(new Entry(typeof(TEvent), name, handler is null ? null : (ctx, e) => handler(ctx, (TEvent)e))));

    /// <summary>Adds a task-based handler <paramref name="name"/> for <typeparamref name="TEvent"/>; an exception
    /// rolls back the whole emit and returns <see cref="FableErrors.HandlerFailed"/>.</summary>
    public Routes OnAsync<TEvent>(string name, Func<HandlerContext, TEvent, Task> handler) =>
        new(entries.Add(new Entry(typeof(TEvent), name,
            handler is null ? null : async (ctx, e) =>
            {
                await handler(ctx, (TEvent)e).ConfigureAwait(false);
                return Prelude.Right<Error, Unit>(Unit.Default);
            })));

    /// <summary>These routes followed by <paramref name="other"/>'s (handlers of one type run in that order).</summary>
    public Routes Include(Routes other) => new(entries.AddRange(other.entries));

    /// <summary>The event types routed here.</summary>
    public IReadOnlyCollection<Type> EventTypes => entries.Select(e => e.EventType).Distinct().ToArray();

    internal IReadOnlyList<Entry> Entries => entries;
}
