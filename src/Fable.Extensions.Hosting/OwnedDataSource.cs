// The data source Fable makes itself from a connection string: Npgsql's defaults, except that statements are
// prepared automatically (Npgsql leaves that off), which halves an emit's server time; the string can say otherwise.
using System.Data.Common;
using Npgsql;

namespace Fable.Extensions.Hosting;

/// <summary>Builds the data source Fable owns when it is given a connection string rather than a data source.</summary>
internal static class OwnedDataSource
{
    /// <summary>How many statements each connection prepares automatically when the connection string does not say:
    /// Fable's own hot statements (lock, record and write, guard, commit, the runners' reads) and the application's.</summary>
    internal const int AutoPrepare = 64;

    /// <summary><paramref name="connectionString"/> with <c>Max Auto Prepare</c> set to <see cref="AutoPrepare"/> unless it
    /// sets it itself (<c>Max Auto Prepare=0</c> behind a pooler that cannot keep prepared statements, such as PgBouncer
    /// in transaction mode before 1.21).</summary>
    internal static string WithAutoPrepare(string connectionString)
    {
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        foreach (string key in given.Keys)
            if (string.Equals(key.Replace(" ", ""), "MaxAutoPrepare", StringComparison.OrdinalIgnoreCase))
                return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = AutoPrepare }.ConnectionString;
    }

    /// <summary>A data source for <paramref name="connectionString"/> (see <see cref="WithAutoPrepare"/>).</summary>
    internal static NpgsqlDataSource Create(string connectionString) => NpgsqlDataSource.Create(WithAutoPrepare(connectionString));
}
