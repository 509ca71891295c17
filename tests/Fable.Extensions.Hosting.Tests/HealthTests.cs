// Fable's health check: Healthy when caught up, Degraded past the lag or age threshold, Unhealthy when a process
// manager stopped with an error or Fable has not started; with position, lag, attempts and last error as data.
using Fable.CSharp;
using LanguageExt.Common;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace HostingTests;

public sealed class HealthTests
{
    private static Task<HealthReport> Check(IHost host) => host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

    [Theory, Interpreters]
    public async Task Healthy_when_caught_up(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour());
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        await Domain.Tick(app, 3);
        await Expect.Right(app.ProcessManagers.CatchUp());
        var entry = (await Check(host)).Entries["fable"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal(0L, entry.Data["tally.lag"]);
        Assert.Equal(0, entry.Data["tally.attempts"]);
        Assert.Equal((await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Position.ToString(), entry.Data["tally.position"]);
        await host.StopAsync();
    }

    [Theory, Interpreters]
    public async Task A_partitioned_process_manager_is_checked_per_partition(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour(), new() { ["Fable:RunProcessManagers"] = "false" },
                                            health: o => { o.DegradedLag = 2; o.DegradedAge = null; o.ProcessManagers.Add(Domain.Tally); }, partitions: 2);
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        Assert.Equal([Domain.Tally + "#0/2", Domain.Tally + "#1/2"], app.ProcessManagers.Names);
        await Domain.Tick(app, 3);
        // Each partition reads the whole log (it passes over the other partition's events): both are 3 behind.
        var entry = (await Check(host)).Entries["fable"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal((3L, 3L), ((long)entry.Data[Domain.Tally + "#0/2.lag"], (long)entry.Data[Domain.Tally + "#1/2.lag"]));
        Assert.Contains(Domain.Tally + "#0/2 is 3 events behind", entry.Description);
        Assert.Contains(Domain.Tally + "#1/2 is 3 events behind", entry.Description);
        await Expect.Right(app.ProcessManagers.CatchUp());
        entry = (await Check(host)).Entries["fable"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);
        Assert.Equal((0L, 0L), ((long)entry.Data[Domain.Tally + "#0/2.lag"], (long)entry.Data[Domain.Tally + "#1/2.lag"]));
        await host.StopAsync();
    }

    [Theory, Interpreters]
    public async Task Degraded_past_the_lag_threshold(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour(), new() { ["Fable:RunProcessManagers"] = "false" },
                                            health: o => { o.DegradedLag = 2; o.DegradedAge = null; });
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        await Domain.Tick(app, 2);
        Assert.Equal(HealthStatus.Healthy, (await Check(host)).Status);      // at the threshold, not past it
        await Domain.Tick(app, 1);
        var entry = (await Check(host)).Entries["fable"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Equal(3L, entry.Data["tally.lag"]);
        Assert.Contains("3 events behind", entry.Description);
        await host.StopAsync();
    }

    [Theory, Interpreters]
    public async Task Degraded_past_the_age_threshold(string interpreter)
    {
        using var host = await Hosts.Create(interpreter, new Behaviour(), new() { ["Fable:RunProcessManagers"] = "false" },
                                            health: o => { o.DegradedLag = null; o.DegradedAge = TimeSpan.FromMilliseconds(200); });
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        await Domain.Tick(app, 1);
        await Task.Delay(400);
        var entry = (await Check(host)).Entries["fable"];
        Assert.True(entry.Status == HealthStatus.Degraded, $"{entry.Status}: {entry.Description}");
        Assert.True((double)entry.Data["tally.oldest_unhandled_age_seconds"] >= 0.2);
        await host.StopAsync();
    }

    [Theory, Interpreters]
    public async Task Unhealthy_when_stopped_with_an_error(string interpreter)
    {
        var failing = new Behaviour { Failure = Error.New(42, "the tally broke") };
        using var host = await Hosts.Create(interpreter, failing, policy: ErrorPolicy.Stop);
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        await Domain.Tick(app, 1);
        await Hosts.Eventually(async () => !(await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Active,
                               TimeSpan.FromSeconds(10), "the tally stops");
        var entry = (await Check(host)).Entries["fable"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("the tally broke", (string)entry.Data["tally.last_error"]);
        Assert.Equal(1, entry.Data["tally.attempts"]);
        Assert.Equal(false, entry.Data["tally.active"]);
        await host.StopAsync();
    }

    [Fact]
    public async Task Unhealthy_before_Fable_has_started_and_a_check_per_process_manager()
    {
        using var host = await Hosts.Create("in-memory", new Behaviour(),
                                            more: s => s.AddHealthChecks().AddFableHealthCheck(Domain.Tally, o => o.DegradedLag = 0));
        var before = await Check(host);
        Assert.Equal(HealthStatus.Unhealthy, before.Entries["fable"].Status);
        Assert.Contains("not started", before.Entries["fable"].Description);
        await host.StartAsync();
        var app = host.Services.GetRequiredService<FableApp>();
        await Expect.Right(app.ProcessManagers.Disable(Domain.Tally));
        await Domain.Tick(app, 1);
        var after = await Check(host);
        Assert.Equal(HealthStatus.Degraded, after.Entries["fable:tally"].Status);   // its own threshold: 0
        Assert.Equal(HealthStatus.Healthy, after.Entries["fable"].Status);        // disabled without an error, 1 behind
        await host.StopAsync();
    }
}
