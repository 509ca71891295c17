// The trips API: Fable registered with AddFable (built and migrated at start, runners stopped on shutdown), the
// trips domain of samples/Trips, /health and OpenTelemetry console export of Fable's spans and metrics.
// In memory by default; on PostgreSQL when ConnectionStrings:Trips is set (the sample's tables are created at start).
using System.Text.Json.Serialization;
using Fable.Extensions.Hosting;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using TripsSample.Domain;
using TripsWeb;

var builder = WebApplication.CreateBuilder(args);
var connectionString = builder.Configuration.GetConnectionString("Trips");
var onPostgres = !string.IsNullOrWhiteSpace(connectionString);
if (onPostgres)
{
    // Automatic preparation: Fable's statements parsed and planned once per connection (docs/postgres.md).
    builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 64 }.ConnectionString));
    builder.Services.AddHostedService<TripsTables>();               // before AddFable: the tables exist when Fable checks them
}
builder.Services.AddFable(builder.Configuration.GetSection(FableOptions.Section), b => TripsApp.Register(b).UsePostgres());
builder.Services.PostConfigure<FableOptions>(o => o.InMemory |= !onPostgres);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new JsonStringEnumConverter()));
builder.Services.AddHealthChecks().AddFableHealthChecks();
if (builder.Configuration.GetValue("Telemetry:Console", true))
    builder.Services.AddOpenTelemetry()
        .WithTracing(t => t.AddSource("Fable").AddConsoleExporter())
        .WithMetrics(m => m.AddMeter("Fable").AddConsoleExporter());

var app = builder.Build();
app.MapTripsApi();
app.MapHealthChecks("/health", new() { ResponseWriter = HealthJson.Write });
app.Run();

/// <summary>The entry point (public for WebApplicationFactory in the tests).</summary>
public partial class Program;
