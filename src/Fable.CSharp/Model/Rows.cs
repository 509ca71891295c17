// Rows of ordinary tables as read-only dictionaries, with helpers to build them and read typed columns
// the same way on every interpreter (Postgres returns DateTime for timestamptz, int for integer, ...).
using System.Globalization;

namespace Fable.CSharp;

/// <summary>Builds rows and reads their columns.</summary>
public static class Rows
{
    /// <summary>A row from column/value pairs (ordinal column names).</summary>
    public static IReadOnlyDictionary<string, object?> Of(params (string Column, object? Value)[] columns)
    {
        var row = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (column, value) in columns) row[column] = value;
        return row;
    }

    /// <summary>The value of <paramref name="column"/> as <typeparamref name="T"/>; default when absent or null.
    /// Numbers are converted between widths; a <see cref="DateTime"/> reads as a UTC <see cref="DateTimeOffset"/>.</summary>
    public static T? Value<T>(this IReadOnlyDictionary<string, object?> row, string column)
    {
        if (!row.TryGetValue(column, out var value) || value is null || value is DBNull) return default;
        if (value is T t) return t;
        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        if (target == typeof(DateTimeOffset) && value is DateTime dt)
            return (T)(object)new DateTimeOffset(DateTime.SpecifyKind(dt, dt.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : dt.Kind));
        if (target == typeof(DateTime) && value is DateTimeOffset dto) return (T)(object)dto.UtcDateTime;
        if (target == typeof(Guid) && value is string s) return (T)(object)Guid.Parse(s);
        return (T)Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
    }
}
