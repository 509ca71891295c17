// FsCheck properties for your aggregates, run on fresh in-memory apps with your own generators: replaying the log
// gives the row, and a refused decision leaves nothing. A counterexample throws SpecificationException.
using Fable.CSharp;
using FsCheck;
using FsCheck.Fluent;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.Testing;

/// <summary>Properties every aggregate should have, checked with FsCheck on generated command sequences.</summary>
public static class AggregateProperties
{
    /// <summary>For generated sequences of <paramref name="commands"/> emitted on one generated key (refusals included),
    /// the stored row equals <c>ToRow</c> of the state folded from its log through evolve, and <c>Replay</c> rebuilds the
    /// same row. Throws <see cref="SpecificationException"/> with FsCheck's (shrunk) counterexample.</summary>
    /// <param name="register">Your registration (it must register <paramref name="type"/>); the kit adds the in-memory interpreter.</param>
    /// <param name="type">The aggregate type under test.</param>
    /// <param name="keys">Generates the aggregate's key.</param>
    /// <param name="commands">Generates one command (show it well: FsCheck prints counterexamples with ToString).</param>
    /// <param name="decide">The decision of a command.</param>
    /// <param name="maxTest">How many sequences to try.</param>
    public static void ReplayGivesTheRow<TState, TKey, TCommand>(Func<FableBuilder, FableBuilder> register, AggregateType<TState, TKey> type,
                                                                 Gen<TKey> keys, Gen<TCommand> commands,
                                                                 Func<TCommand, Func<TState, Either<Error, IEnumerable<object>>>> decide,
                                                                 int maxTest = 100) where TKey : notnull =>
        Check($"replaying the log of {type.Table} gives the row", keys, commands, maxTest, (key, list) =>
            Sync(async () =>
            {
                await using var app = await Build(register);
                foreach (var command in list) await app.Emit(type, key, decide(command)).ToEither();
                await ReplayMatches(app, type, key);
            }));

    /// <summary>For generated histories of <paramref name="histories"/> appended on one generated key, the stored row
    /// equals <c>ToRow</c> of the folded state and <c>Replay</c> rebuilds it (events instead of commands).</summary>
    public static void ReplayGivesTheRow<TState, TKey>(Func<FableBuilder, FableBuilder> register, AggregateType<TState, TKey> type,
                                                       Gen<TKey> keys, Gen<object[]> histories, int maxTest = 100) where TKey : notnull =>
        Check($"replaying the log of {type.Table} gives the row", keys, histories, maxTest, (key, list) =>
            Sync(async () =>
            {
                await using var app = await Build(register);
                foreach (var events in list) await app.Append(type, key, events).ToEither();
                await ReplayMatches(app, type, key);
            }));

    /// <summary>For generated sequences of <paramref name="commands"/> on one generated key, every emit that is refused
    /// leaves nothing: no event and every declared table's rows as before it.</summary>
    public static void RefusedDecisionLeavesNothing<TState, TKey, TCommand>(Func<FableBuilder, FableBuilder> register,
                                                                            AggregateType<TState, TKey> type, Gen<TKey> keys,
                                                                            Gen<TCommand> commands,
                                                                            Func<TCommand, Func<TState, Either<Error, IEnumerable<object>>>> decide,
                                                                            int maxTest = 100) where TKey : notnull =>
        Check($"a refused decision on {type.Table} leaves nothing", keys, commands, maxTest, (key, list) =>
            Sync(async () =>
            {
                await using var app = await Build(register);
                foreach (var command in list)
                {
                    var before = await Expect(AppSnapshot.Of(app), "reading the app before the emit");
                    var result = await app.Emit(type, key, decide(command)).ToEither();
                    if (result.IsRight) continue;
                    var changes = await Expect(before.ChangesIn(app), "reading the app after the refused emit");
                    changes.IfSome(change => throw new SpecificationException(type.Table, $"command {command}", "a refusal that leaves nothing",
                        $"refused with {Describe.Error((Error)result)} but {change}",
                        "a handler or decision wrote outside the emit's transaction, or the refusal came after a commit"));
                }
            }));

    static async Task ReplayMatches<TState, TKey>(FableApp app, AggregateType<TState, TKey> type, TKey key) where TKey : notnull
    {
        var log = await Expect(app.Log(type, key), "reading the log");
        if (log.Count == 0) return;
        var state = type.Initial(key);
        foreach (var recorded in log)
            state = type.Evolve(state, await Expect(app.Decode(recorded).ToAsync(), $"decoding {recorded}"));
        var stored = await Row(app, type, key, "the stored row");
        var folded = type.ToRow(state);
        if (!RowValues.Matches(folded, stored, out var difference))
            throw new SpecificationException(type.Table, $"{type.Table}/{key}", $"the row of the folded state {Describe.Row(folded)}",
                                             $"the stored row {Describe.Row(stored)} ({difference})",
                                             "a handler writes the aggregate's row, or ToRow/OfRow lose something a state needs: keep every column in the state");
        await Expect(app.Replay(type, key), "replaying");
        var replayed = await Row(app, type, key, "the replayed row");
        if (!RowValues.Matches(stored, replayed, out difference))
            throw new SpecificationException(type.Table, $"Replay {type.Table}/{key}", Describe.Row(stored), Describe.Row(replayed),
                                             $"Replay rebuilt another row ({difference}): evolve or OfRow depend on something outside the log");
    }

    static async Task<IReadOnlyDictionary<string, object?>> Row<TState, TKey>(FableApp app, AggregateType<TState, TKey> type, TKey key, string what)
        where TKey : notnull
    {
        var rows = await Expect(app.Rows(type.Table), $"reading {what}");
        return rows.FirstOrDefault(r => RowValues.Same(key, r["id"]))
               ?? throw new SpecificationException(type.Table, $"{type.Table}/{key}", what, "no row although the aggregate has events",
                                                   "a handler deleted the aggregate's row");
    }

    static void Check<TKey, T>(string name, Gen<TKey> keys, Gen<T> items, int maxTest, Action<TKey, T[]> property)
    {
        var cases = keys.Zip(items.ArrayOf()).ToArbitrary();
        SpecificationException? last = null;
        void Checked((TKey, T[]) c)
        {
            try
            {
                property(c.Item1, c.Item2);
            }
            catch (SpecificationException s)
            {
                last = s;
                throw;
            }
        }
        try
        {
            global::FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(maxTest).WithName(name).WithQuietOnSuccess(true),
                                      Prop.ForAll(cases, Checked));
        }
        catch (Exception ex) when (ex is not SpecificationException)
        {
            throw new SpecificationException(name, "property", "it holds for every generated case", ex.Message,
                                             last is null ? "read FsCheck's counterexample above" : $"{last.Hint} (the smallest counterexample is above)", ex);
        }
    }

    static void Sync(Func<Task> f) => f().GetAwaiter().GetResult();

    static async Task<FableApp> Build(Func<FableBuilder, FableBuilder> register) =>
        await Expect(register(FableBuilder.Create()).UseInMemory().Build(), "building the app");

    static async Task<T> Expect<T>(EitherAsync<Error, T> op, string what) =>
        (await op.ToEither()).Match(Right: r => r, Left: e => throw new SpecificationException("the app", what, "success", Describe.Error(e), "see the error"));
}
