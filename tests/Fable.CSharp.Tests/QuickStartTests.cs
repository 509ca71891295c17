// Runs the README's quick start (QuickStart.cs) in memory and, with its SQL, on PostgreSQL.
using FacadeTests;
using Npgsql;
using Xunit;

namespace QuickStart;

public sealed class QuickStartTests
{
    [Fact]
    public async Task The_README_quick_start_runs() => Assert.Equal("refused 1, balance 120", await Bank.Run());

    [PostgresFact]
    public async Task The_README_quick_start_runs_on_PostgreSQL_with_its_SQL()
    {
        await using var source = NpgsqlDataSource.Create(PostgresHarness.ConnectionString!);
        await using (var create = source.CreateCommand(Bank.Sql))
            await create.ExecuteNonQueryAsync();
        Assert.Equal("refused 1, balance 120", await Bank.Run(source));
    }
}
