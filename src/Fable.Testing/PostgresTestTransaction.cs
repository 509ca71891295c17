// One test's work inside one PostgreSQL transaction that is rolled back at the end, so tests sharing a database
// never see each other's rows (the caller-transaction mode of FableApp.InTransaction: each emit in a savepoint).
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace Fable.Testing;

/// <summary>A test's transaction: run emits and units of work in it with <see cref="Run{T}"/>, read rows as it sees
/// them, and dispose it to roll everything back. Process managers do not see its events (they are never committed):
/// test them with <see cref="Specification.ForProcessManager{TState}"/> or on a <see cref="PostgresTestDatabase"/>
/// without this scope.</summary>
public sealed class PostgresTestTransaction : IAsyncDisposable
{
    private PostgresTestTransaction(FableApp app, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        App = app;
        Connection = connection;
        Transaction = transaction;
    }

    /// <summary>The app the work runs on.</summary>
    public FableApp App { get; }
    /// <summary>The test's connection (run your own SQL on it, in <see cref="Transaction"/>).</summary>
    public NpgsqlConnection Connection { get; }
    /// <summary>The test's transaction, rolled back on dispose.</summary>
    public NpgsqlTransaction Transaction { get; }

    /// <summary>Opens a connection from <paramref name="dataSource"/> and begins the test's transaction.</summary>
    public static async Task<PostgresTestTransaction> Begin(FableApp app, NpgsqlDataSource dataSource, CancellationToken ct = default)
    {
        var connection = await dataSource.OpenConnectionAsync(ct).ConfigureAwait(false);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct).ConfigureAwait(false);
            return new PostgresTestTransaction(app, connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in the test's transaction (each emit in a savepoint: a failed one leaves
    /// nothing and the transaction usable).</summary>
    public EitherAsync<Error, T> Run<T>(Func<UnitOfWork, EitherAsync<Error, T>> work, CancellationToken ct = default) =>
        App.InTransaction(Connection, Transaction, work, ct);

    /// <summary>The rows of declared table <paramref name="table"/> as the test's transaction sees them, in id order.</summary>
    public EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>> Rows(string table, CancellationToken ct = default) =>
        App.Rows(table, Connection, Transaction, ct);

    /// <summary>Asserts declared table <paramref name="table"/> holds exactly <paramref name="expected"/> in the test's
    /// transaction (in id order, comparing the columns each expected row names); throws <see cref="SpecificationException"/>.</summary>
    public async Task ThenRows(string table, params IReadOnlyDictionary<string, object?>[] expected)
    {
        var actual = await Rows(table).Match(
            Right: r => r,
            Left: e => throw new SpecificationException("the test transaction", $"ThenRows({table})", "the rows", Describe.Error(e),
                                                        "declare the table in the app's registration"));
        RowValues.AssertRows("the test transaction", $"ThenRows({table})", table, expected ?? [], actual);
    }

    /// <summary>Rolls the test's work back and closes its connection.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Connection.State == System.Data.ConnectionState.Open) await Transaction.RollbackAsync().ConfigureAwait(false);
        }
        finally
        {
            await Transaction.DisposeAsync().ConfigureAwait(false);
            await Connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
