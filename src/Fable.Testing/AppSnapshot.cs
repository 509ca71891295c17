// What an app has committed at one moment: the log head and every declared table's rows. Comparing two snapshots
// shows whether an operation left anything behind.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.Testing;

using RowList = IReadOnlyList<IReadOnlyDictionary<string, object?>>;

internal sealed record AppSnapshot(Position Head, IReadOnlyDictionary<string, RowList> Tables)
{
    public static EitherAsync<Error, AppSnapshot> Of(FableApp app) =>
        app.Head().Bind(head => app.DeclaredTables.Aggregate(
                EitherAsync<Error, Dictionary<string, RowList>>.Right(new Dictionary<string, RowList>(StringComparer.Ordinal)),
                (acc, table) => acc.Bind(d => app.Rows(table).Map(rows => { d[table] = rows; return d; })))
            .Map(d => new AppSnapshot(head, d)));

    /// <summary>What <paramref name="app"/> committed beyond this snapshot, or None when nothing.</summary>
    public EitherAsync<Error, Option<string>> ChangesIn(FableApp app) =>
        app.ReadAll(Head, 1000).Bind(events => events.Count > 0
            ? EitherAsync<Error, Option<string>>.Right(Option<string>.Some($"{events.Count} event(s) committed: {string.Join(", ", events)}"))
            : Of(app).Map(now => Tables.Keys
                .Where(t => !SameRows(Tables[t], now.Tables[t]))
                .Select(t => $"table {t} changed from {Describe.Rows(Tables[t])} to {Describe.Rows(now.Tables[t])}")
                .HeadOrNone()));

    public static bool SameRows(RowList a, RowList b) =>
        a.Count == b.Count && Enumerable.Range(0, a.Count).All(i => a[i].Count == b[i].Count && RowValues.Matches(a[i], b[i], out _));
}
