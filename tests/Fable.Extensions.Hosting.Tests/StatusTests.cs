// The read-only status API (every process manager stored, registered here or not) and progress reporting for
// CatchUp and Rebuild, on both interpreters.
using Fable.CSharp;
using Npgsql;
using Xunit;

namespace HostingTests;

/// <summary>Collects progress reports on the reporting thread (no synchronisation context involved).</summary>
public sealed class Reports<T> : IProgress<T>
{
    private readonly List<T> all = [];
    public void Report(T value) { lock (all) all.Add(value); }
    public IReadOnlyList<T> All { get { lock (all) return all.ToArray(); } }
}

public sealed class StatusTests
{
    private static async Task<FableApp> Build(string interpreter, PgSchema? pg, bool withOther, NpgsqlDataSource? source)
    {
        var b = Domain.Register(FableBuilder.Create(), new Behaviour());
        if (withOther) b = b.ProcessManager(ProcessManager<int>.Create("others", 0).On<Other>((n, _) => n + 1));
        b = interpreter == "in-memory" ? b.UseInMemory() : b.UsePostgres(source!, pg!.FableSchema);
        return await Expect.Right(b.Build());
    }

    [Fact]
    public async Task In_memory_ListStored_lists_the_engine_s_process_managers()
    {
        await using var app = await Build("in-memory", null, withOther: true, null);
        await Domain.Tick(app, 2);
        var all = await Expect.Right(app.ProcessManagers.ListStored());
        Assert.Equal(["others", "tally"], all.Select(s => s.Name));
        Assert.Equal(2L, all.Single(s => s.Name == "tally").Lag);
    }

    [PostgresFact]
    public async Task ListStored_lists_process_managers_another_app_registered_without_running_them()
    {
        var pg = await PgSchema.Create();
        await using var source = NpgsqlDataSource.Create(pg.ConnectionString);
        await using (var first = await Build("postgres", pg, withOther: true, source)) { }   // registers "others" and "tally"
        await using var app = await Build("postgres", pg, withOther: false, source);           // knows only "tally"
        await Expect.Right(app.ProcessManagers.Start());
        await Expect.Right(app.Emit(Domain.Counters, Guid.NewGuid(), _ => Events.Of(new Other(1))));
        await Expect.Right(app.ProcessManagers.CatchUp());

        var all = await Expect.Right(app.ProcessManagers.ListStored());
        Assert.Equal(["others", "tally"], all.Select(s => s.Name));
        var others = all.Single(s => s.Name == "others");
        Assert.Equal((1L, (string?)null, "0"), (others.Lag, others.Holder, others.StateJson));   // nobody runs it here
        Assert.Equal(0L, all.Single(s => s.Name == "tally").Lag);

        var read = await Expect.Right(FableStatus.ListStored(source, pg.FableSchema));
        Assert.Equal(all.Select(s => (s.Name, s.Position, s.Lag)), read.Select(s => (s.Name, s.Position, s.Lag)));
        await Expect.Right(app.ProcessManagers.Stop());
    }

    [PostgresFact]
    public async Task FableStatus_on_a_schema_without_Fable_says_so()
    {
        var pg = await PgSchema.Create();
        await using var source = NpgsqlDataSource.Create(pg.ConnectionString);
        var e = (await FableStatus.ListStored(source, pg.FableSchema).ToEither()).Match(Right: _ => null!, Left: l => l);
        Assert.Equal(FableErrors.InfrastructureCode, e.Code);
        Assert.Contains("has no process_managers table", e.Message);
    }

    [Theory, Interpreters]
    public async Task Rebuild_reports_progress_up_to_the_whole_log(string interpreter)
    {
        var pg = interpreter == "postgres" ? await PgSchema.Create() : null;
        await using var source = pg is null ? null : NpgsqlDataSource.Create(pg.ConnectionString);
        await using var app = await Build(interpreter, pg, withOther: false, source);
        await Domain.Tick(app, 30);
        await Expect.Right(app.ProcessManagers.CatchUp());

        var reports = new Reports<ProcessManagerProgress>();
        await Expect.Right(app.ProcessManagers.Rebuild(Domain.Tally, reports, TimeSpan.FromMilliseconds(10)));
        var last = reports.All[^1];
        Assert.Equal((Domain.Tally, 30L, 0L), (last.Name, last.Handled, last.Remaining));
        Assert.Equal((await Expect.Right(app.ProcessManagers.Status(Domain.Tally))).Position, last.Position);
        Assert.All(reports.All, r => Assert.InRange(r.Handled + r.Remaining, 0, 30));
    }

    [Theory, Interpreters]
    public async Task CatchUp_reports_progress_per_process_manager(string interpreter)
    {
        var pg = interpreter == "postgres" ? await PgSchema.Create() : null;
        await using var source = pg is null ? null : NpgsqlDataSource.Create(pg.ConnectionString);
        await using var app = await Build(interpreter, pg, withOther: false, source);
        await Domain.Tick(app, 12);
        var reports = new Reports<ProcessManagerProgress>();
        await Expect.Right(app.ProcessManagers.CatchUp(reports));
        Assert.Equal((Domain.Tally, 0L, 12L), (reports.All[0].Name, reports.All[0].Handled, reports.All[0].Remaining));
        Assert.Equal((12L, 0L), (reports.All[^1].Handled, reports.All[^1].Remaining));
    }

    [Fact]
    public async Task Progress_without_a_receiver_is_refused()
    {
        await using var app = await Build("in-memory", null, withOther: false, null);
        var e = (await app.ProcessManagers.CatchUp(null!).ToEither()).Match(Right: _ => null!, Left: l => l);
        Assert.Equal(FableErrors.InvalidDefinitionCode, e.Code);
    }
}
