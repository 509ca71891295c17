// Monitoring without an app: the process managers stored in a Fable schema on PostgreSQL, read only.
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.CSharp;

/// <summary>Reads the status of process managers stored in a database, for a monitoring tool or an operations page
/// that must not run them: no definition is needed, nothing is registered, locked or handled.</summary>
public static class FableStatus
{
    /// <summary>Every process manager stored in <paramref name="schema"/> (by name): position, lag, active, last error,
    /// attempts, holder (while its runner holds it) and the stored state JSON. <see cref="FableErrors.Infrastructure"/>
    /// when the schema has no process-manager table (no app migrated it, or the name is wrong).</summary>
    public static EitherAsync<Error, IReadOnlyList<ProcessManagerStatus>> ListStored(NpgsqlDataSource dataSource, string schema = "fable",
                                                                                     CancellationToken ct = default) =>
        InterpreterCalls.ListStored(dataSource, schema, ct).ToAsync();
}
