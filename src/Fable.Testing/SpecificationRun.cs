// One run of an app specification: the app, what the When returned and recorded, and the tables as they were
// before it (so a refusal can be shown to have left nothing). Each step method throws SpecificationException.
using System.Text.Json;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.Testing;

using RowList = IReadOnlyList<IReadOnlyDictionary<string, object?>>;

/// <summary>The state of a running <see cref="AppSpecification"/>.</summary>
internal sealed class Run(FableApp app, JsonSerializerOptions json)
{
    private int givens;
    private Option<WhenResult> when;

    private sealed record WhenResult(Either<Error, object?> Result, IReadOnlyList<RecordedEvent> Recorded, AppSnapshot Before);

    public FableApp App => app;

    public async Task Setup<T>(string step, Func<FableApp, EitherAsync<Error, T>> setup)
    {
        givens++;
        var result = await Guard(step, () => setup(app).ToEither());
        result.IfLeft(e => throw Fail($"{step} (given step {givens})", "the setup succeeds", $"it failed with {Describe.Error(e)}",
                                      "the Given itself was refused: the history it records must be one your decisions and handlers accept"));
    }

    public async Task When(Func<FableApp, EitherAsync<Error, object?>> act)
    {
        if (when.IsSome) throw Fail("When", "one When", "a second When", "a specification has one When; put earlier operations in Given");
        var before = await Expect("When", AppSnapshot.Of(app));
        var result = await Guard("When", () => act(app).ToEither());
        var recorded = await Expect("When", app.ReadAll(before.Head, 100_000));
        when = new WhenResult(result, recorded, before);
    }

    public async Task ThenEvents(IReadOnlyList<object> expected)
    {
        var w = When("Then");
        var shown = Describe.Events(expected, json);
        w.Result.IfLeft(e => throw Fail("Then", shown, $"the When failed with {Describe.Error(e)}",
                                        "the operation was refused: check the Given history and the rule that refused"));
        var actual = new List<object?>();
        foreach (var r in w.Recorded)
            actual.Add(app.Decode(r).Match(
                Right: e => e,
                Left: e => throw Fail("Then", shown, $"event {r} cannot be decoded: {Describe.Error(e)}", "register the event type and its upcasters")));
        if (!Describe.SameEvents(expected, actual, json))
            throw Fail("Then", shown, $"{Describe.Events(actual, json)} ({Describe.FirstDifference(expected, actual, json)})",
                       "compare the events field by field; if the operation is right, change the expected events");
        await Task.CompletedTask;
    }

    public async Task ThenFails(int code, string? messageContains)
    {
        var w = When("ThenFails");
        var wanted = messageContains is null ? $"a failure with code {code}" : $"a failure with code {code} saying \"{messageContains}\"";
        w.Result.Match(
            Right: r => throw Fail("ThenFails", wanted, $"the When succeeded ({r}) and recorded {w.Recorded.Count} event(s)",
                                   "the rule that should refuse did not: check its condition against the Given history"),
            Left: e =>
            {
                if (e.Code != code || (messageContains is not null && !e.Message.Contains(messageContains, StringComparison.Ordinal)))
                    throw Fail("ThenFails", wanted, $"it failed with {Describe.Error(e)}",
                               e.Code != code ? "another rule refused first, or the code is wrong: check the order of the checks"
                                              : "the code matches but the message does not: check the message text");
            });
        if (w.Recorded.Count > 0)
            throw Fail("ThenFails", "nothing recorded by the failed operation", $"{w.Recorded.Count} event(s) committed: {string.Join(", ", w.Recorded)}",
                       "a failed operation must leave nothing: the When committed part of its work (two transactions?) — do it in one unit of work");
        var changes = await Expect("ThenFails", w.Before.ChangesIn(app));
        changes.IfSome(change => throw Fail("ThenFails", "every declared table as before the When", change,
                                            "a failed operation must leave nothing: the When committed a write outside the failed transaction"));
    }

    public async Task ThenRows(string table, IReadOnlyList<IReadOnlyDictionary<string, object?>> expected)
    {
        var step = $"ThenRows({table})";
        var actual = await Expect(step, app.Rows(table));
        Compare(step, table, expected, actual);
    }

    public async Task ThenCheck(string what, Func<FableApp, EitherAsync<Error, bool>> check)
    {
        var ok = await Guard($"Then {what}", () => check(app).ToEither());
        ok.Match(
            Right: holds => { if (!holds) throw Fail($"Then {what}", what, "false", "the app's state does not satisfy the check"); },
            Left: e => throw Fail($"Then {what}", what, $"the check failed with {Describe.Error(e)}", "the check itself was refused: see the error"));
    }

    /// <summary>How long a catch-up may take: a handler that keeps failing under a retry policy never catches up.</summary>
    static readonly TimeSpan CatchUpLimit = TimeSpan.FromSeconds(5);

    public async Task CatchUp() => await Expect("CatchUp", CatchUpWithin());

    EitherAsync<Error, LanguageExt.Unit> CatchUpWithin()
    {
        var limit = new CancellationTokenSource(CatchUpLimit);
        return app.ProcessManagers.CatchUp(limit.Token);
    }

    public async Task ThenPmState<TState>(ProcessManager<TState> pm, TState expected)
    {
        var step = $"ThenState({pm.Name})";
        await CatchUpFor(step, pm.Name);
        var state = await Expect(step, app.ProcessManagers.State(pm));
        var (e, a) = (Describe.Json(expected!, json), Describe.Json(state!, json));
        if (e != a) throw Fail(step, e, a, "one of its handlers changes the state differently from what the test assumes: check its On<...> functions");
    }

    public async Task ThenPmFailed(string name, string? messageContains)
    {
        var step = $"ThenFailed({name})";
        await CatchUpWithin().ToEither();
        var status = await Expect(step, app.ProcessManagers.Status(name));
        var wanted = messageContains is null ? "a handler failure" : $"a handler failure saying \"{messageContains}\"";
        if (status.LastError is null || (messageContains is not null && !status.LastError.Contains(messageContains, StringComparison.Ordinal)))
            throw Fail(step, wanted, status.LastError is null ? $"no error (handled up to {status.Position})" : $"the error \"{status.LastError}\"",
                       "the handler accepted the events: check its error condition");
    }

    /// <summary>Catches up and fails when the process manager stopped on an error.</summary>
    public async Task CatchUpFor(string step, string name)
    {
        var caught = await CatchUpWithin().ToEither();
        var status = await Expect(step, app.ProcessManagers.Status(name));
        if (status.LastError is { } error)
            throw Fail(step, "the process manager handles every event", $"it failed: {error} (at {status.Position}, {status.Attempts} attempt(s))",
                       "its handler refused or threw on the given events: fix the handler or the Given");
        caught.IfLeft(e => throw Fail(step, "the process managers catch up", $"catch-up failed with {Describe.Error(e)}", "see the error"));
    }

    static void Compare(string step, string table, IReadOnlyList<IReadOnlyDictionary<string, object?>> expected, RowList actual) =>
        RowValues.AssertRows("the app", step, table, expected, actual);

    WhenResult When(string step) =>
        when.IfNone(() => throw Fail(step, "a When before it", "no When", "add .When(...) with the operation under test before the Then steps"));

    async Task<T> Expect<T>(string step, EitherAsync<Error, T> op) =>
        (await op.ToEither()).Match(Right: r => r, Left: e => throw Fail(step, "the app answers", Describe.Error(e), "the app itself failed: see the error"));

    async Task<Either<Error, T>> Guard<T>(string step, Func<Task<Either<Error, T>>> f)
    {
        try
        {
            return await f().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not SpecificationException)
        {
            throw new SpecificationException("the app", step, "no exception", $"{ex.GetType().Name}: {ex.Message}",
                                             "operations return a Left, they do not throw: the exception came from your code around them", ex);
        }
    }

    static SpecificationException Fail(string step, string expected, string actual, string hint) =>
        new("the app", step, expected, actual, hint);
}
