// Given/When/Then for one aggregate's decisions and evolve, pure: the given events fold through evolve, the decision
// runs on that state, and the outcome is compared with the expected events, error or state. No app is built.
using System.Text.Json;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.Testing;

/// <summary>The Given step of a pure specification of an aggregate type (see <see cref="Specification.For{TState, TKey}(AggregateType{TState, TKey}, System.Text.Json.JsonSerializerOptions)"/>).</summary>
public sealed class AggregateSpecification<TState, TKey> where TKey : notnull
{
    private readonly AggregateType<TState, TKey> type;
    private readonly TKey key;
    private readonly JsonSerializerOptions json;

    internal AggregateSpecification(AggregateType<TState, TKey> type, TKey key, JsonSerializerOptions json)
    {
        this.type = type ?? throw new ArgumentNullException(nameof(type));
        this.key = key;
        this.json = json;
    }

    /// <summary>The aggregate's history: these events, in order, folded through evolve from its initial state.</summary>
    public GivenState<TState, TKey> Given(params object[] events) => new(type, key, json, events ?? []);

    /// <summary>A new aggregate (no history).</summary>
    public WhenOutcome<TState, TKey> When(Func<TState, Either<Error, IEnumerable<object>>> decide) => Given().When(decide);
}

/// <summary>An aggregate's given history; <see cref="When"/> runs a decision on it.</summary>
public sealed class GivenState<TState, TKey> where TKey : notnull
{
    private readonly AggregateType<TState, TKey> type;
    private readonly TKey key;
    private readonly JsonSerializerOptions json;
    private readonly IReadOnlyList<object> history;

    internal GivenState(AggregateType<TState, TKey> type, TKey key, JsonSerializerOptions json, IReadOnlyList<object> history)
    {
        this.type = type;
        this.key = key;
        this.json = json;
        this.history = history;
    }

    /// <summary>The state after the given events (evolve from <c>Initial(key)</c>).</summary>
    public TState State
    {
        get
        {
            var state = Run("Given", () => type.Initial(key), "Initial threw: fix the aggregate type's initial state function");
            foreach (var e in history)
                state = Run("Given", () => type.Evolve(state, e), $"evolve threw on {Describe.Event(e, json)}: fix that event's On<...> function");
            return state;
        }
    }

    /// <summary>Runs <paramref name="decide"/> on the state after the given events.</summary>
    public WhenOutcome<TState, TKey> When(Func<TState, Either<Error, IEnumerable<object>>> decide)
    {
        ArgumentNullException.ThrowIfNull(decide);
        var before = State;
        var result = Run("When", () => decide(before).Map(es => (IReadOnlyList<object>)(es ?? []).ToArray()),
                         "the decision threw: a decision refuses by returning a Left (an Error), it never throws");
        return new WhenOutcome<TState, TKey>(type, json, history, before, result);
    }

    T Run<T>(string step, Func<T> f, string hint)
    {
        try
        {
            return f();
        }
        catch (Exception ex) when (ex is not SpecificationException)
        {
            throw new SpecificationException(type.Table, step, "no exception", $"{ex.GetType().Name}: {ex.Message}", hint, ex);
        }
    }
}

/// <summary>A decision's outcome; assert it with <see cref="Then"/>, <see cref="ThenFails(int, string)"/> or
/// <see cref="ThenState(TState)"/>. Each assertion returns this outcome, so they chain.</summary>
public sealed class WhenOutcome<TState, TKey> where TKey : notnull
{
    private readonly AggregateType<TState, TKey> type;
    private readonly JsonSerializerOptions json;
    private readonly IReadOnlyList<object> history;
    private readonly TState before;

    internal WhenOutcome(AggregateType<TState, TKey> type, JsonSerializerOptions json, IReadOnlyList<object> history, TState before,
                         Either<Error, IReadOnlyList<object>> result)
    {
        this.type = type;
        this.json = json;
        this.history = history;
        this.before = before;
        Result = result;
    }

    /// <summary>What the decision returned.</summary>
    public Either<Error, IReadOnlyList<object>> Result { get; }

    /// <summary>Asserts the decision recorded exactly <paramref name="expected"/> (in order; none for "decides nothing"),
    /// compared by type and JSON.</summary>
    public WhenOutcome<TState, TKey> Then(params object[] expected)
    {
        expected ??= [];
        var shown = Describe.Events(expected, json);
        Result.Match(
            Left: e => Fail("Then", shown, $"the decision refused with {Describe.Error(e)}",
                            "the given events or the decision differ from what the test assumes: check the Given history and the rule that refused"),
            Right: actual =>
            {
                if (!Describe.SameEvents(expected, actual!, json))
                    Fail("Then", shown, $"{Describe.Events(actual!, json)} ({Describe.FirstDifference(expected, actual!, json)})",
                         "compare the events field by field; if the decision is right, change the expected events");
            });
        return this;
    }

    /// <summary>Asserts the decision refused with <paramref name="code"/>: a FableErrors code (e.g.
    /// <see cref="FableErrors.RejectedCode"/>) or your own <c>Error.New(code, ...)</c>. When
    /// <paramref name="messageContains"/> is given, the message must contain it.</summary>
    public WhenOutcome<TState, TKey> ThenFails(int code, string? messageContains = null)
    {
        var wanted = messageContains is null ? $"a refusal with code {code}" : $"a refusal with code {code} saying \"{messageContains}\"";
        Result.Match(
            Right: actual => Fail("ThenFails", wanted, $"the decision accepted and recorded {Describe.Events(actual!, json)}",
                                  "the rule that should refuse did not: check its condition against the Given history"),
            Left: e =>
            {
                if (e.Code != code || (messageContains is not null && !e.Message.Contains(messageContains, StringComparison.Ordinal)))
                    Fail("ThenFails", wanted, $"the decision refused with {Describe.Error(e)}",
                         e.Code != code ? "another rule refused first, or the code is wrong: check the order of the checks"
                                        : "the code matches but the message does not: check the message text");
            });
        return this;
    }

    /// <summary>Asserts the decision refused with <paramref name="expected"/>'s code (your own <c>Expected</c> error or
    /// a FableErrors case).</summary>
    public WhenOutcome<TState, TKey> ThenFails(Error expected) => ThenFails(expected.Code);

    /// <summary>Asserts the state after the given events and the decided ones equals <paramref name="expected"/>
    /// (by JSON, so records and classes compare by value).</summary>
    public WhenOutcome<TState, TKey> ThenState(TState expected)
    {
        var after = StateAfter("ThenState");
        var (e, a) = (Describe.Json(expected!, json), Describe.Json(after!, json));
        if (e != a)
            Fail("ThenState", e, a, "the evolve of one of the events differs from what the test assumes: check the On<...> functions");
        return this;
    }

    /// <summary>Asserts <paramref name="check"/> holds on the state after the given events and the decided ones;
    /// <paramref name="what"/> names the check in the failure message.</summary>
    public WhenOutcome<TState, TKey> ThenState(Func<TState, bool> check, string what = "the state check")
    {
        var after = StateAfter("ThenState");
        if (!check(after))
            Fail("ThenState", what, Describe.Json(after!, json), "the state does not satisfy the check: compare it with the evolve functions");
        return this;
    }

    TState StateAfter(string step)
    {
        var events = Result.Match(
            Right: es => es,
            Left: e => Fail<IReadOnlyList<object>>(step, "an accepted decision", $"the decision refused with {Describe.Error(e)}",
                                                   "ThenState checks the state after an accepted decision; use ThenFails for a refusal"));
        var state = before;
        foreach (var e in events)
        {
            try
            {
                state = type.Evolve(state, e);
            }
            catch (Exception ex)
            {
                throw new SpecificationException(type.Table, step, "no exception", $"evolve threw on {Describe.Event(e, json)}: {ex.Message}",
                                                 "fix that event's On<...> function", ex);
            }
        }
        return state;
    }

    void Fail(string step, string expected, string actual, string hint) => Fail<LanguageExt.Unit>(step, expected, actual, hint);

    T Fail<T>(string step, string expected, string actual, string hint) =>
        throw new SpecificationException($"{type.Table} given {Describe.Events(history, json)}", step, expected, actual, hint);
}
