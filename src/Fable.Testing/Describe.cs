// How the kit shows events, errors and rows in failure messages, and how it compares events: by CLR type and the
// JSON text System.Text.Json writes for them, so records and classes compare by value.
using System.Text.Json;
using LanguageExt.Common;

namespace Fable.Testing;

internal static class Describe
{
    /// <summary>"Deposited {"amount":5}".</summary>
    public static string Event(object? e, JsonSerializerOptions json) =>
        e is null ? "null" : $"{e.GetType().Name} {Json(e, json)}";

    public static string Events(IEnumerable<object?> events, JsonSerializerOptions json)
    {
        var list = events.Select(e => Event(e, json)).ToArray();
        return list.Length == 0 ? "no events" : $"[{string.Join(", ", list)}]";
    }

    public static string Json(object e, JsonSerializerOptions json)
    {
        try
        {
            return JsonSerializer.Serialize(e, e.GetType(), json);
        }
        catch (Exception ex) when (ex is NotSupportedException or JsonException or InvalidOperationException)
        {
            return $"<not serializable: {ex.Message}>";
        }
    }

    /// <summary>True when both lists hold events of the same types with the same JSON, in order.</summary>
    public static bool SameEvents(IReadOnlyList<object?> expected, IReadOnlyList<object?> actual, JsonSerializerOptions json) =>
        expected.Count == actual.Count && Enumerable.Range(0, expected.Count).All(i => Event(expected[i], json) == Event(actual[i], json));

    /// <summary>The first place two event lists differ, for the message.</summary>
    public static string FirstDifference(IReadOnlyList<object?> expected, IReadOnlyList<object?> actual, JsonSerializerOptions json)
    {
        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
            if (Event(expected[i], json) != Event(actual[i], json))
                return $"event {i + 1} differs: expected {Event(expected[i], json)}, got {Event(actual[i], json)}";
        return expected.Count > actual.Count
            ? $"{expected.Count - actual.Count} expected event(s) missing from {Event(expected[actual.Count], json)} on"
            : $"{actual.Count - expected.Count} more event(s) than expected from {Event(actual[expected.Count], json)} on";
    }

    /// <summary>"error 1002 (the animal is on a trip)".</summary>
    public static string Error(Error e) => $"error {e.Code} ({e.Message})";

    public static string Row(IReadOnlyDictionary<string, object?> row) =>
        "{" + string.Join(", ", row.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}: {Value(kv.Value)}")) + "}";

    public static string Rows(IEnumerable<IReadOnlyDictionary<string, object?>> rows)
    {
        var list = rows.Select(Row).ToArray();
        return list.Length == 0 ? "no rows" : $"[{string.Join(", ", list)}]";
    }

    static string Value(object? v) => v switch
    {
        null => "null",
        string s => $"\"{s}\"",
        _ => RowValues.Normalize(v)?.ToString() ?? "null",
    };
}
