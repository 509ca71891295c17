// Every committed row of one declared table, ordered by id: from the in-memory store, or by one quoted SELECT on
// PostgreSQL. For tests and inspection (FableApp.Rows); handlers and decisions read through ctx.Tables.
using Fable.FSharp;
using Fable.FSharp.InMemory;
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.CSharp;

internal static class TableRows
{
    public static EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>> All(
        IInterpreter interpreter, string table,
        Func<Func<UnitOfWork, EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>>, EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>> transact,
        CancellationToken ct) =>
        interpreter is InMemoryStore store
            ? Prelude.RightAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>(
                store.Rows(table).Select(r => (IReadOnlyDictionary<string, object?>)r.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal)).ToArray())
            : transact(u => u.Postgres.ToAsync().Bind(pg => Select(pg.Connection, pg.Transaction, table, ct).ToAsync()));

    /// <summary>The rows of <paramref name="table"/> (unqualified or schema.table) ordered by id, read in
    /// <paramref name="transaction"/>.</summary>
    public static async Task<Either<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>> Select(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string table, CancellationToken ct)
    {
        try
        {
            await using var command = new NpgsqlCommand($"SELECT * FROM {Quoted(table)} ORDER BY id", connection, transaction);
            await using var reader = await command.ExecuteReaderAsync(ct).ConfigureAwait(false);
            var rows = new List<IReadOnlyDictionary<string, object?>>();
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var row = new Dictionary<string, object?>(StringComparer.Ordinal);
                for (var i = 0; i < reader.FieldCount; i++) row[reader.GetName(i)] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                rows.Add(row);
            }
            return rows;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return new FableErrors.Cancelled();
        }
        catch (NpgsqlException ex)
        {
            return new FableErrors.Infrastructure($"reading the rows of table {table} failed: {ex.Message}", ex);
        }
    }

    static string Quoted(string table)
    {
        static string Q(string n) => "\"" + n.Replace("\"", "\"\"") + "\"";
        var dot = table.IndexOf('.');
        return dot < 0 ? Q(table) : Q(table[..dot]) + "." + Q(table[(dot + 1)..]);
    }
}
