// The trips API end to end (WebApplicationFactory): reference data, start/refuse/end a trip, a grant, the trip with its
// log, process-manager status and /health, in memory and on PostgreSQL; and a graceful shutdown while the statistics
// runner is busy leaves nothing half-committed and a checkpoint the next start carries on from.
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fable.CSharp;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Xunit;

namespace TripsWebTests;

public sealed class InterpretersAttribute : Xunit.Sdk.DataAttribute
{
    public override IEnumerable<object[]> GetData(System.Reflection.MethodInfo testMethod)
    {
        yield return ["in-memory"];
        if (Api.PgConnection is not null) yield return ["postgres"];
    }
}

/// <summary>The API on a fresh PostgreSQL schema (or in memory), without console telemetry.</summary>
public sealed class Api : WebApplicationFactory<Program>
{
    public static string? PgConnection => Environment.GetEnvironmentVariable("FABLE_PG_CONNECTION") is { Length: > 0 } c ? c : null;

    private readonly Dictionary<string, string?> settings;

    public Api(Dictionary<string, string?> settings) => this.settings = settings;

    /// <summary>A fresh schema (search path) with Fable's schema next to it: the settings of the API on it.</summary>
    public static async Task<Dictionary<string, string?>> Postgres()
    {
        var schema = "web_" + Guid.NewGuid().ToString("N")[..16];
        var cs = new NpgsqlConnectionStringBuilder(PgConnection) { SearchPath = schema }.ConnectionString;
        await using var source = NpgsqlDataSource.Create(cs);
        await using var create = source.CreateCommand($"CREATE SCHEMA \"{schema}\"");
        await create.ExecuteNonQueryAsync();
        return new() { ["ConnectionStrings:Trips"] = cs, ["Fable:Schema"] = schema + "_fable" };
    }

    public static async Task<Api> On(string interpreter) => new(interpreter == "postgres" ? await Postgres() : []);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Telemetry:Console", "false");
        builder.UseSetting("Fable:PollInterval", "00:00:00.050");
        foreach (var (k, v) in settings) builder.UseSetting(k, v);
    }
}

public sealed class TripsWebTests
{
    private static async Task<JsonObject> Json(HttpResponseMessage r, HttpStatusCode expected)
    {
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == expected, $"{r.StatusCode}, expected {expected}: {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static async Task<(Guid Owner, Guid Animal, Guid Tracker)> Reference(HttpClient http)
    {
        var owner = Guid.NewGuid();
        var animal = await Json(await http.PostAsJsonAsync("/animals", new { name = "Rex", ownerId = owner }), HttpStatusCode.OK);
        var tracker = await Json(await http.PostAsJsonAsync("/trackers", new { serial = "T-100", registered = true }), HttpStatusCode.OK);
        return (owner, (Guid)animal["id"]!, (Guid)tracker["id"]!);
    }

    [Theory, Interpreters]
    public async Task A_trip_from_start_to_end_with_its_log_status_and_health(string interpreter)
    {
        await using var api = await Api.On(interpreter);
        var http = api.CreateClient();
        var (owner, animal, tracker) = await Reference(http);

        var started = await Json(await http.PostAsJsonAsync("/trips", new { userId = owner, animalId = animal, trackerId = tracker }),
                                 HttpStatusCode.Created);
        var trip = (Guid)started["id"]!;
        Assert.Equal("Active", started["status"]!.ToString());

        var refused = await Json(await http.PostAsJsonAsync("/trips", new { userId = Guid.NewGuid(), animalId = animal, trackerId = tracker }),
                                 HttpStatusCode.UnprocessableEntity);
        Assert.Equal(1001, (int)refused["code"]!);                         // not permitted: not the owner

        await Json(await http.PostAsJsonAsync($"/trips/{trip}/grants", new { userId = Guid.NewGuid(), role = "viewer" }), HttpStatusCode.OK);
        await Json(await http.PostAsJsonAsync($"/trips/{trip}/end", new { }), HttpStatusCode.OK);
        await Json(await http.PostAsJsonAsync($"/trips/{trip}/end", new { }), HttpStatusCode.UnprocessableEntity);
        await Json(await http.GetAsync($"/trips/{Guid.NewGuid()}"), HttpStatusCode.NotFound);

        var read = await Json(await http.GetAsync($"/trips/{trip}"), HttpStatusCode.OK);
        Assert.Equal("Ended", read["trip"]!["status"]!.ToString());
        Assert.Equal(["trip_started", "trip_grant_issued", "trip_ended"], read["log"]!.AsArray().Select(e => e!["type"]!.ToString()));
        Assert.Equal((long)read["log"]![2]!["id"]!, (long)read["lastEventId"]!);

        await Expect.Eventually(async () =>
        {
            var pms = JsonNode.Parse(await http.GetStringAsync("/process-managers"))!.AsArray();
            var stats = pms.Single(p => p!["name"]!.ToString() == "trip-statistics")!;
            return (long)stats["lag"]! == 0 && (int)stats["state"]!["ended"]! == 1;
        }, "the statistics runner handles the trip");

        var health = await Json(await http.GetAsync("/health"), HttpStatusCode.OK);
        Assert.Equal("Healthy", health["status"]!.ToString());
        Assert.Equal(0L, (long)health["checks"]!["fable"]!["data"]!["trip-statistics.lag"]!);
    }

    [Fact]
    public async Task A_graceful_shutdown_while_the_runner_is_busy_leaves_a_consistent_checkpoint()
    {
        if (Api.PgConnection is null) return;                             // PostgreSQL only: the database outlives the app
        var settings = await Api.Postgres();
        const int trips = 40;
        await using (var api = new Api(settings))
        {
            var http = api.CreateClient();
            for (var i = 0; i < trips; i++)
            {
                var (owner, animal, tracker) = await Reference(http);
                var started = await Json(await http.PostAsJsonAsync("/trips", new { userId = owner, animalId = animal, trackerId = tracker }),
                                         HttpStatusCode.Created);
                await Json(await http.PostAsJsonAsync($"/trips/{(Guid)started["id"]!}/alarms", new { kind = "geofence" }), HttpStatusCode.OK);
                await Json(await http.PostAsJsonAsync($"/trips/{(Guid)started["id"]!}/end", new { }), HttpStatusCode.OK);
            }
        }                                                                   // the host stops while the runner catches up

        var cs = settings["ConnectionStrings:Trips"]!;
        var fable = settings["Fable:Schema"]!;
        await using var source = NpgsqlDataSource.Create(cs);
        await AssertConsistent(source, fable);

        await using (var again = new Api(settings))
        {
            var http = again.CreateClient();
            await Expect.Eventually(async () =>
            {
                var stats = JsonNode.Parse(await http.GetStringAsync("/process-managers"))!.AsArray()
                    .Single(p => p!["name"]!.ToString() == "trip-statistics")!;
                return (long)stats["lag"]! == 0;
            }, "the next start carries on");
        }
        var (started2, ended, alarms) = await AssertConsistent(source, fable);
        Assert.Equal((trips, trips, trips), (started2, ended, alarms));       // each event handled exactly once
    }

    /// <summary>The process manager's stored state agrees with the table it writes in the same transaction.</summary>
    private static async Task<(int, int, int)> AssertConsistent(NpgsqlDataSource source, string fableSchema)
    {
        var status = (await FableStatus.ListStored(source, fableSchema).ToEither())
            .Match(Right: all => all.Single(s => s.Name == "trip-statistics"), Left: e => throw new Xunit.Sdk.XunitException(e.Message));
        using var state = JsonDocument.Parse(status.StateJson);
        int Field(string name) => state.RootElement.GetProperty(name).GetInt32();
        await using var sum = source.CreateCommand("SELECT coalesce(sum(trips), 0)::int, coalesce(sum(ended), 0)::int, coalesce(sum(alarms), 0)::int FROM trip_statistics");
        await using var r = await sum.ExecuteReaderAsync();
        await r.ReadAsync();
        var table = (r.GetInt32(0), r.GetInt32(1), r.GetInt32(2));
        Assert.Equal((Field("started"), Field("ended"), Field("alarms")), table);
        return table;
    }
}

public static class Expect
{
    public static async Task Eventually(Func<Task<bool>> done, string what)
    {
        var until = DateTime.UtcNow.AddSeconds(20);
        while (!await done())
        {
            if (DateTime.UtcNow > until) throw new Xunit.Sdk.XunitException("not within 20 s: " + what);
            await Task.Delay(50);
        }
    }
}
