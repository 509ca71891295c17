// The hosting package: start fails listing every problem, runners start and stop with the host, the shutdown
// timeout is honoured without half-committed batches, and options bind from configuration.
using System.Diagnostics;
using Fable.CSharp;
using Fable.Extensions.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace HostingTests;

public sealed class HostingTests
{
    private static FableApp App(IHost host) => host.Services.GetRequiredService<FableApp>();

    [Fact]
    public async Task Start_fails_listing_every_problem()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddFable(b => b.Event<Ticked>("ticked")
                                        .Aggregate(Domain.Counters)                                   // evolves Other: not registered
                                        .Routes(Routes.Empty.On<Ticked>())
                                        .ProcessManager(ProcessManager<int>.Create("p", 0).On<Other>((n, _) => n + 1))
                                        .UsePostgres());                                              // no data source, no connection string
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<FableStartException>(() => host.StartAsync());
        Assert.Contains("no PostgreSQL data source", e.Message);
        Assert.Contains("aggregate counters evolves Other, which is not a registered event type", e.Message);
        Assert.Contains("process manager p handles Other, which is not a registered event type", e.Message);
        Assert.True(e.Problems.Count >= 3, string.Join(" | ", e.Problems));
        Assert.Null(host.Services.GetRequiredService<FableAppHolder>().Current);
    }

    [Theory]
    [InlineData("Host=db;Username=app", 64)]
    [InlineData("Host=db;Username=app;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;Username=app;maxautoprepare=5", 5)]
    [InlineData("Host=db;Username=app;MAX AUTO PREPARE=7", 7)]
    public void A_data_source_Fable_makes_prepares_statements_unless_the_connection_string_says(string given, int expected)
    {
        var made = new Npgsql.NpgsqlConnectionStringBuilder(OwnedDataSource.WithAutoPrepare(given));
        Assert.Equal(expected, made.MaxAutoPrepare);
        Assert.Equal("db", made.Host);
        Assert.Equal("app", made.Username);
    }

    [PostgresFact]
    public async Task The_hosts_own_data_source_prepares_statements_and_emits_run_on_it()
    {
        using var host = await Hosts.Create("postgres", new Behaviour());
        await host.StartAsync();
        var app = App(host);
        await Domain.Tick(app, 12);
        var owned = host.Services.GetRequiredService<FableAppHolder>().Owned;
        Assert.NotNull(owned);
        Assert.Equal(OwnedDataSource.AutoPrepare, new Npgsql.NpgsqlConnectionStringBuilder(owned!.ConnectionString).MaxAutoPrepare);
        await host.StopAsync();
    }

    [PostgresFact]
    public async Task Start_fails_when_an_aggregate_table_does_not_fit_and_says_so()
    {
        var pg = await PgSchema.Create();
        await using (var source = Npgsql.NpgsqlDataSource.Create(pg.ConnectionString))
        await using (var drop = source.CreateCommand("ALTER TABLE counters DROP COLUMN ticks"))
            await drop.ExecuteNonQueryAsync();
        using var host = await Hosts.Create("postgres", new Behaviour(), pg: pg);
        var e = await Assert.ThrowsAsync<FableStartException>(() => host.StartAsync());
        Assert.Contains("ticks", e.Message);
    }

    [Theory, Interpreters]
    public async Task Runners_start_and_stop_with_the_host(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour());
        await host.StartAsync();
        var app = App(host);
        Assert.Equal(interpreter, app.Interpreter);
        await Domain.Tick(app, 5);
        // No CatchUp here: only started runners move the checkpoint.
        await Hosts.Eventually(async () => (await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Lag == 0,
                               TimeSpan.FromSeconds(10), "the runners handle the ticks");
        Assert.Equal(5L, await Expect.Right(app.ProcessManagers.State(Domain.TallyOf(new Behaviour()))));
        Assert.NotNull((await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Holder);

        await host.StopAsync();
        Assert.Null((await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Holder);
        await Domain.Tick(app, 2);
        await Task.Delay(300);
        Assert.Equal(2L, (await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Lag);
    }

    [Theory, Interpreters]
    public async Task Runners_stay_off_when_the_options_say_so(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour(), new() { ["Fable:RunProcessManagers"] = "false" });
        await host.StartAsync();
        var app = App(host);
        await Domain.Tick(app, 3);
        await Task.Delay(300);
        var status = await Expect.Right(app.ProcessManagers.Status(Domain.Tally));
        Assert.Equal(3L, status.Lag);
        Assert.Null(status.Holder);
        await host.StopAsync();
    }

    [Theory, Interpreters]
    public async Task Shutdown_timeout_is_honoured_and_a_batch_in_flight_commits_whole_or_not_at_all(string interpreter)
    {
        var slow = new Behaviour { Delay = TimeSpan.FromSeconds(2) };
        PgSchema? pg = interpreter == "postgres" ? await PgSchema.Create() : null;
        using var host = await Hosts.Create(interpreter, slow, pg: pg, shutdown: TimeSpan.FromMilliseconds(200));
        await host.StartAsync();
        var app = App(host);
        await Domain.Tick(app, 3);
        await slow.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        await host.StopAsync();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"StopAsync took {clock.Elapsed} with a 200 ms shutdown timeout");
        await Expect.Right(app.ProcessManagers.Stop());               // now wait for the runners to end

        // Whatever the runner got to commit, its seen rows, state and checkpoint agree.
        var status = await Expect.Right(app.ProcessManagers.Status(Domain.Tally));
        var state = await Expect.Right(app.ProcessManagers.State(Domain.TallyOf(new Behaviour())));
        Assert.Equal(state, await Hosts.Seen(app, 3));
        Assert.Equal(3 - state, status.Lag);

        if (pg is null) return;
        // A new host on the same database carries on from the checkpoint: every tick handled exactly once.
        using var again = await Hosts.Create(interpreter, new Behaviour(), pg: pg);
        await again.StartAsync();
        var next = App(again);
        await Expect.Right(next.ProcessManagers.CatchUp());
        Assert.Equal(3L, await Expect.Right(next.ProcessManagers.State(Domain.TallyOf(new Behaviour()))));
        Assert.Equal(3, await Hosts.Seen(next, 3));
        await again.StopAsync();
    }

    [Fact]
    public async Task Options_are_bound_from_configuration()
    {
        using var host = await Hosts.Create("in-memory", new Behaviour(), new()
        {
            ["Fable:Schema"] = "billing",
            ["Fable:Notify"] = "false",
            ["Fable:RunnerId"] = "api-7",
            ["Fable:PollInterval"] = "00:00:00.250",
            ["Fable:LockTimeout"] = "00:00:03",
            ["Fable:ConnectionString"] = "Host=nowhere",
            ["Fable:RunProcessManagers"] = "false",
        });
        var o = host.Services.GetRequiredService<IOptions<FableOptions>>().Value;
        Assert.Equal(("billing", false, "api-7", TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(3), "Host=nowhere", true, false),
                     (o.Schema, o.Notify, o.RunnerId, o.PollInterval, o.LockTimeout, o.ConnectionString, o.InMemory, o.RunProcessManagers));
        await host.StartAsync();
        Assert.Equal("in-memory", App(host).Interpreter);           // the test switch wins over the connection string
        await host.StopAsync();
    }

    [Fact]
    public async Task The_app_resolves_before_the_host_starts_and_is_one_singleton()
    {
        using var host = await Hosts.Create("in-memory", new Behaviour());
        var early = App(host);
        await host.StartAsync();
        Assert.Same(early, App(host));
        await host.StopAsync();
    }

    [Fact]
    public void UsePostgres_without_a_data_source_outside_AddFable_says_where_it_works()
    {
        var e = Assert.Throws<InvalidOperationException>(() => FableBuilder.Create().UsePostgres());
        Assert.Contains("services.AddFable", e.Message);
    }

    [Fact]
    public void AddFable_twice_is_refused()
    {
        var services = new ServiceCollection();
        services.AddFable(b => b.UseInMemory());
        Assert.Throws<InvalidOperationException>(() => services.AddFable(b => b.UseInMemory()));
    }
}
