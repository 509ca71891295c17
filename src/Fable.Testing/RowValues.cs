// Comparing row values as a person means them: integers of any width, a Guid and its text, a DateTime and a
// DateTimeOffset of the same instant, JSON texts by content. Rows compare on the columns the expected row names.
using System.Globalization;
using System.Text.Json;

namespace Fable.Testing;

/// <summary>Row comparison used by <c>ThenRows</c>; public so your own assertions can use the same rules.</summary>
public static class RowValues
{
    /// <summary>The value in a canonical form: integers as <see cref="long"/>, other numbers as <see cref="decimal"/>,
    /// Guid text as <see cref="Guid"/>, times as UTC <see cref="DateTimeOffset"/>, enums by name, DBNull as null.</summary>
    public static object? Normalize(object? value) => value switch
    {
        null or DBNull => null,
        sbyte or byte or short or ushort or int or uint or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        ulong u => (decimal)u,
        float f => (decimal)f,
        double d => double.IsFinite(d) ? (decimal)d : d,
        decimal m => m,
        string s when Guid.TryParseExact(s, "D", out var g) => g,
        DateTime t => new DateTimeOffset(DateTime.SpecifyKind(t, t.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : t.Kind)).ToUniversalTime(),
        DateTimeOffset t => t.ToUniversalTime(),
        Enum e => e.ToString(),
        JsonElement j => j.GetRawText(),
        _ => value,
    };

    /// <summary>True when the values are equal after <see cref="Normalize"/>.</summary>
    public static bool Same(object? expected, object? actual)
    {
        var (e, a) = (Normalize(expected), Normalize(actual));
        if (e is null || a is null) return e is null && a is null;
        if (e is long or decimal && a is long or decimal) return Convert.ToDecimal(e, CultureInfo.InvariantCulture) == Convert.ToDecimal(a, CultureInfo.InvariantCulture);
        if (e is string es && a is string @as && LooksLikeJson(es) && LooksLikeJson(@as)) return SameJson(es, @as);
        return e.Equals(a) || (e is byte[] eb && a is byte[] ab && eb.AsSpan().SequenceEqual(ab));
    }

    /// <summary>True when every column <paramref name="expected"/> names has the same value in <paramref name="actual"/>
    /// (other columns of <paramref name="actual"/> are not compared). <paramref name="difference"/> names the first mismatch.</summary>
    public static bool Matches(IReadOnlyDictionary<string, object?> expected, IReadOnlyDictionary<string, object?> actual, out string difference)
    {
        foreach (var (column, value) in expected)
        {
            if (!actual.TryGetValue(column, out var got))
            {
                difference = $"column {column} is not in the row (its columns: {string.Join(", ", actual.Keys)})";
                return false;
            }
            if (!Same(value, got))
            {
                difference = $"column {column}: expected {Show(value)}, got {Show(got)}";
                return false;
            }
        }
        difference = "";
        return true;
    }

    /// <summary>Throws <see cref="SpecificationException"/> unless <paramref name="actual"/> has as many rows as
    /// <paramref name="expected"/> and each matches its expected row (see <see cref="Matches"/>), in order.</summary>
    public static void AssertRows(string subject, string step, string table, IReadOnlyList<IReadOnlyDictionary<string, object?>> expected,
                                  IReadOnlyList<IReadOnlyDictionary<string, object?>> actual)
    {
        if (expected.Count != actual.Count)
            throw new SpecificationException(subject, step, $"{expected.Count} row(s) {Describe.Rows(expected)}", $"{actual.Count} row(s) {Describe.Rows(actual)}",
                                             $"more or fewer rows of {table} were written than the test assumes (rows are compared in id order)");
        for (var i = 0; i < expected.Count; i++)
            if (!Matches(expected[i], actual[i], out var difference))
                throw new SpecificationException(subject, step, Describe.Rows(expected), Describe.Rows(actual),
                                                 $"row {i + 1} of {table} (in id order) differs: {difference}");
    }

    static string Show(object? v) => v is null ? "null" : $"{Normalize(v)} ({v.GetType().Name})";

    static bool LooksLikeJson(string s) => s.Length > 1 && (s[0] == '{' || s[0] == '[');

    static bool SameJson(string a, string b)
    {
        try
        {
            using var x = JsonDocument.Parse(a);
            using var y = JsonDocument.Parse(b);
            return JsonElement.DeepEquals(x.RootElement, y.RootElement);
        }
        catch (JsonException)
        {
            return a == b;
        }
    }
}
