// A throwaway PostgreSQL database for one test class: created from a server connection string, your tables
// created in it, Fable's schema migrated by building an app on it, and dropped (with its connections) on dispose.
using Fable.CSharp;
using Npgsql;

namespace Fable.Testing;

/// <summary>A database of its own for one test class (or one test run), dropped on <see cref="DisposeAsync"/>.
/// Framework-neutral: hold one in an xunit class fixture (<c>IAsyncLifetime</c>), an NUnit <c>[OneTimeSetUp]</c>, an
/// MSTest <c>[ClassInitialize]</c> or an Expecto <c>testFixtureAsync</c>.</summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    private readonly string server;
    private readonly List<FableApp> apps = [];

    private PostgresTestDatabase(string server, string name, NpgsqlDataSource dataSource, string connectionString)
    {
        this.server = server;
        Name = name;
        DataSource = dataSource;
        ConnectionString = connectionString;
    }

    /// <summary>The database's name (<c>prefix_</c> and a random suffix).</summary>
    public string Name { get; }
    /// <summary>A connection string to the new database.</summary>
    public string ConnectionString { get; }
    /// <summary>A data source on the new database (disposed with it).</summary>
    public NpgsqlDataSource DataSource { get; }

    /// <summary>Creates a database on the server <paramref name="serverConnectionString"/> points at (its user needs
    /// CREATEDB) and runs <paramref name="ddl"/> (your tables) in it.</summary>
    /// <param name="serverConnectionString">Any database on the server, e.g. FABLE_PG_CONNECTION.</param>
    /// <param name="ddl">SQL creating your aggregate and ordinary tables (schema-qualify them, or they land in the
    /// first schema of the role's search path).</param>
    /// <param name="prefix">The database name's prefix (lower case letters, digits and underscores).</param>
    /// <param name="ct">Cancels the creation.</param>
    public static async Task<PostgresTestDatabase> Create(string serverConnectionString, string? ddl = null, string prefix = "fable_test",
                                                          CancellationToken ct = default)
    {
        if (string.IsNullOrWhiteSpace(serverConnectionString))
            throw new SpecificationException("a PostgreSQL test database", "Create", "a server connection string", "none",
                                             "set FABLE_PG_CONNECTION (or pass your server's connection string)");
        if (string.IsNullOrEmpty(prefix) || !prefix.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_'))
            throw new ArgumentException($"the database prefix \"{prefix}\" must be lower case letters, digits and underscores", nameof(prefix));
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];
        await Server(serverConnectionString, $"CREATE DATABASE \"{name}\"", ct).ConfigureAwait(false);
        var connectionString = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = name }.ConnectionString;
        var dataSource = NpgsqlDataSource.Create(connectionString);
        var db = new PostgresTestDatabase(serverConnectionString, name, dataSource, connectionString);
        try
        {
            if (!string.IsNullOrWhiteSpace(ddl))
            {
                await using var command = dataSource.CreateCommand(ddl);
                await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            return db;
        }
        catch
        {
            await db.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Builds an app on this database with <paramref name="register"/> (Build migrates Fable's
    /// <paramref name="schema"/> and checks your tables). The app is disposed with the database; a Left throws
    /// <see cref="SpecificationException"/>.</summary>
    public async Task<FableApp> BuildApp(Func<FableBuilder, FableBuilder> register, string schema = "fable", CancellationToken ct = default)
    {
        var app = await register(FableBuilder.Create()).UsePostgres(DataSource, schema).Build(ct).Match(
            Right: a => a,
            Left: e => throw new SpecificationException($"database {Name}", "BuildApp", "the registration builds on PostgreSQL", Describe.Error(e),
                                                        "create the tables the app declares in the ddl (with last_event_id on aggregate tables)"))
            .ConfigureAwait(false);
        apps.Add(app);
        return app;
    }

    /// <summary>Opens a connection and a transaction for one test; everything the test does through
    /// <see cref="PostgresTestTransaction.Run{T}"/> is rolled back when it is disposed.</summary>
    public Task<PostgresTestTransaction> BeginTest(FableApp app, CancellationToken ct = default) => PostgresTestTransaction.Begin(app, DataSource, ct);

    /// <summary>Disposes the apps built on it, closes its connections and drops the database.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var app in apps) await app.DisposeAsync().ConfigureAwait(false);
        apps.Clear();
        await DataSource.DisposeAsync().ConfigureAwait(false);
        NpgsqlConnection.ClearAllPools();
        await Server(server, $"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", default).ConfigureAwait(false);
    }

    static async Task Server(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }
}
