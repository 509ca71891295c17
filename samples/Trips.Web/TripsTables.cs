// Creates the sample's own tables on PostgreSQL at start (Fable creates only its schema; your tables are yours).
using Microsoft.Extensions.Hosting;
using Npgsql;
using TripsSample.Domain;

namespace TripsWeb;

/// <summary>Runs <see cref="TripsApp.Ddl"/> (idempotent) before Fable starts and checks the tables.</summary>
internal sealed class TripsTables(NpgsqlDataSource dataSource) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var ddl = dataSource.CreateCommand(TripsApp.Ddl);
        await ddl.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
