// Given/When/Then for whole emits on a fresh in-memory app: the given events are recorded through the app (so their
// handlers ran), the When runs your emit or unit of work, and the Thens check the events it recorded, the rows of
// declared tables, a refusal that left nothing behind, and process managers after they caught up.
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.Testing;

/// <summary>A specification of whole emits (see <see cref="Specification.ForApp"/>). Immutable: each step returns a new
/// specification. Nothing runs until you <c>await</c> it (or call <see cref="Run"/>); it then builds a fresh in-memory
/// app, runs the steps in order and throws <see cref="SpecificationException"/> at the first that does not hold.</summary>
public sealed class AppSpecification
{
    private readonly Func<FableBuilder, FableBuilder> register;
    private readonly Func<DateTimeOffset>? clock;
    private readonly ImmutableList<Step> steps;

    private AppSpecification(Func<FableBuilder, FableBuilder> register, Func<DateTimeOffset>? clock, JsonSerializerOptions json,
                             ImmutableList<Step> steps)
    {
        this.register = register;
        this.clock = clock;
        Json = json;
        this.steps = steps;
    }

    internal static AppSpecification Start(Func<FableBuilder, FableBuilder> register, Func<DateTimeOffset>? clock, JsonSerializerOptions json) =>
        new(register ?? throw new ArgumentNullException(nameof(register)), clock, json, []);

    internal JsonSerializerOptions Json { get; }

    internal delegate Task Step(Run run);

    internal AppSpecification With(Step step) => new(register, clock, Json, steps.Add(step));

    // ---- Given ----

    /// <summary>Records <paramref name="events"/> on aggregate <paramref name="id"/> through the app (Append): evolve and
    /// the handlers run, so the rows they write exist for the When.</summary>
    public AppSpecification Given<TState, TKey>(AggregateType<TState, TKey> type, TKey id, params object[] events) where TKey : notnull =>
        With(run => run.Setup($"Given {type.Table}/{id} {Describe.Events(events, Json)}", app => app.Append(type, id, events)));

    /// <summary>Inserts <paramref name="rows"/> into declared table <paramref name="table"/> (reference data the
    /// decisions and handlers read), in one transaction.</summary>
    public AppSpecification GivenRows(string table, params IReadOnlyDictionary<string, object?>[] rows) =>
        With(run => run.Setup($"GivenRows({table})", app => app.Transact(u =>
            rows.Aggregate(EitherAsync<Error, LanguageExt.Unit>.Right(default), (acc, row) => acc.Bind(_ => u.Tables.Insert(table, row))))));

    /// <summary>Any setup through the app (emits, units of work, process-manager control); a Left fails the Given.</summary>
    public AppSpecification Given<T>(Func<FableApp, EitherAsync<Error, T>> setup) =>
        With(run => run.Setup("Given (setup)", setup));

    // ---- When ----

    /// <summary>The operation under test: an emit, a unit of work, anything on the app. What it records (on any
    /// aggregate) is what <see cref="Then(object[])"/> compares; what it writes is what <see cref="ThenRows"/> reads.</summary>
    public AppSpecification When<T>(Func<FableApp, EitherAsync<Error, T>> act) =>
        With(run => run.When(app => act(app).Map(r => (object?)r)));

    /// <summary>An emit on aggregate <paramref name="id"/> with a pure decision.</summary>
    public AppSpecification When<TState, TKey>(AggregateType<TState, TKey> type, TKey id, Func<TState, Either<Error, IEnumerable<object>>> decide)
        where TKey : notnull =>
        When(app => app.Emit(type, id, decide));

    /// <summary>An emit on aggregate <paramref name="id"/> with a decision that reads inside the transaction.</summary>
    public AppSpecification When<TState, TKey>(AggregateType<TState, TKey> type, TKey id,
                                               Func<DecideContext, TState, EitherAsync<Error, IEnumerable<object>>> decide) where TKey : notnull =>
        When(app => app.Emit(type, id, decide));

    // ---- Then ----

    /// <summary>Asserts the When succeeded and recorded exactly <paramref name="expected"/> (on any aggregate, in log
    /// order), compared by type and JSON after decoding through the app's codec.</summary>
    public AppSpecification Then(params object[] expected) => With(run => run.ThenEvents(expected ?? []));

    /// <summary>Asserts the When failed with <paramref name="code"/> (a FableErrors code or your own
    /// <c>Error.New(code, …)</c>) and left nothing: no event recorded and every declared table's rows as before it.</summary>
    public AppSpecification ThenFails(int code, string? messageContains = null) => With(run => run.ThenFails(code, messageContains));

    /// <summary>As <see cref="ThenFails(int, string)"/> with <paramref name="expected"/>'s code.</summary>
    public AppSpecification ThenFails(Error expected) => ThenFails(expected.Code);

    /// <summary>Asserts declared table <paramref name="table"/> holds exactly <paramref name="expected"/>, in <c>id</c>
    /// order, comparing only the columns each expected row names (so generated ids may be left out).</summary>
    public AppSpecification ThenRows(string table, params IReadOnlyDictionary<string, object?>[] expected) =>
        With(run => run.ThenRows(table, expected ?? []));

    /// <summary>Asserts <paramref name="check"/> holds on the app (e.g. a Get of an aggregate); a Left or false fails.</summary>
    public AppSpecification Then(string what, Func<FableApp, EitherAsync<Error, bool>> check) => With(run => run.ThenCheck(what, check));

    /// <summary>Runs the app's process managers until they have handled every committed event.</summary>
    public AppSpecification CatchUp() => With(run => run.CatchUp());

    /// <summary>Runs the process managers until caught up, then asserts <paramref name="processManager"/>'s state equals
    /// <paramref name="expected"/> (by JSON).</summary>
    public AppSpecification ThenState<TState>(ProcessManager<TState> processManager, TState expected) =>
        With(run => run.ThenPmState(processManager, expected));

    /// <summary>Builds the app and runs every step; throws <see cref="SpecificationException"/> at the first failure.</summary>
    public async Task Run()
    {
        var builder = register(FableBuilder.Create()).UseInMemory(clock);
        var app = await builder.Build().Match(
            Right: a => a,
            Left: e => throw new SpecificationException("the app", "Build", "the registration builds", Describe.Error(e),
                                                        "fix the registration (do not choose an interpreter: the kit uses the in-memory one)"));
        await using (app)
        {
            var run = new Run(app, Json);
            foreach (var step in steps) await step(run).ConfigureAwait(false);
        }
    }

    /// <summary>Lets you <c>await</c> the specification.</summary>
    public TaskAwaiter GetAwaiter() => Run().GetAwaiter();
}
