// Where specifications start: a pure one for an aggregate's decisions and evolve, one for whole emits on an
// in-memory app, one for a process manager.
using System.Text.Json;
using Fable.CSharp;

namespace Fable.Testing;

/// <summary>Entry points of the kit: <c>Specification.For(Accounts).Given(...).When(...).Then(...)</c>.</summary>
public static class Specification
{
    /// <summary>A pure specification of <paramref name="type"/>'s decisions and evolve (no app, no interpreter): the given
    /// events fold through <see cref="AggregateType{TState, TKey}.Evolve"/> from <c>Initial(key)</c>. Events compare by
    /// type and JSON written with <paramref name="json"/> (default: the web defaults <see cref="FableBuilder"/> uses; pass
    /// the options you give <c>FableBuilder.Json</c>).</summary>
    /// <param name="type">The aggregate type under test.</param>
    /// <param name="key">The aggregate's key, passed to <c>Initial</c>.</param>
    /// <param name="json">How events are written for comparison.</param>
    public static AggregateSpecification<TState, TKey> For<TState, TKey>(AggregateType<TState, TKey> type, TKey key,
                                                                          JsonSerializerOptions? json = null) where TKey : notnull =>
        new(type, key, json ?? Web);

    /// <summary>As <see cref="For{TState, TKey}(AggregateType{TState, TKey}, TKey, JsonSerializerOptions)"/> with a fixed
    /// sample key: Guid 00000000-0000-0000-0000-000000000001, 1L or "key-1".</summary>
    public static AggregateSpecification<TState, TKey> For<TState, TKey>(AggregateType<TState, TKey> type, JsonSerializerOptions? json = null)
        where TKey : notnull =>
        new(type, SampleKey<TKey>(), json ?? Web);

    /// <summary>A specification of whole emits on a fresh in-memory app: <paramref name="register"/> registers your
    /// events, aggregates, tables, routes and process managers on the builder it is given (the kit chooses the
    /// interpreter), as your application's own registration does.</summary>
    /// <param name="register">Your registration, e.g. <c>TripsApp.Register</c>.</param>
    /// <param name="clock">The clock that stamps recorded events (default: UTC now).</param>
    /// <param name="json">How events are written for comparison; pass the options you give <c>FableBuilder.Json</c>.</param>
    public static AppSpecification ForApp(Func<FableBuilder, FableBuilder> register, Func<DateTimeOffset>? clock = null,
                                          JsonSerializerOptions? json = null) =>
        AppSpecification.Start(register, clock, json ?? Web);

    /// <summary>A specification of <paramref name="processManager"/> on a fresh in-memory app built by
    /// <paramref name="register"/> (which must register it): given events, then its state and writes after it caught up.</summary>
    public static ProcessManagerSpecification<TState> ForProcessManager<TState>(Func<FableBuilder, FableBuilder> register,
                                                                                ProcessManager<TState> processManager,
                                                                                Func<DateTimeOffset>? clock = null,
                                                                                JsonSerializerOptions? json = null) =>
        new(AppSpecification.Start(register, clock, json ?? Web), processManager);

    /// <summary>The options FableBuilder uses when you do not call <c>Json</c>.</summary>
    internal static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    static TKey SampleKey<TKey>() where TKey : notnull =>
        typeof(TKey) == typeof(Guid) ? (TKey)(object)new Guid("00000000-0000-0000-0000-000000000001")
        : typeof(TKey) == typeof(long) ? (TKey)(object)1L
        : typeof(TKey) == typeof(string) ? (TKey)(object)"key-1"
        : throw new SpecificationException(typeof(TKey).Name, "For", "a key type Guid, long or string", typeof(TKey).Name,
                                           "aggregate keys are Guid, long or string; pass the key explicitly");
}
