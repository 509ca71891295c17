// Partitioned process managers through the C# facade: `.Partitions(n)` runs n partitions named `name#i/n`, listed by
// the host, each handling exactly the events of the accounts that hash to it (the Core's stable hash).
using Fable.CSharp;
using Xunit;

namespace FacadeTests;

public static class PartitionScenarios
{
    public static async Task A_partitioned_process_manager_runs_one_partition_per_hash_bucket(IHarness h)
    {
        var counting = ProcessManager<long>.Create("split-count", 0).On<Deposited>((n, _) => n + 1).Partitions(4);
        Assert.Equal(4, counting.PartitionCount);
        await using var app = await h.App(b => b.ProcessManager(counting));
        Assert.Equal(["account-totals", "split-count#0/4", "split-count#1/4", "split-count#2/4", "split-count#3/4"], app.ProcessManagers.Names);
        var ids = Enumerable.Range(0, 12).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var id in ids)
            await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(1))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        var statuses = await Expect.Right(app.ProcessManagers.List());
        for (var i = 0; i < 4; i++)
        {
            var s = Assert.Single(statuses, s => s.Name == $"split-count#{i}/4");
            var own = ids.Count(id => global::Fable.FSharp.Partitioning.partitionOf(4, global::Fable.FSharp.AggregateIdModule.uuid("accounts", id)) == i);
            Assert.Equal((0L, own.ToString()), (s.Lag, s.StateJson));
        }
    }

    public static async Task A_partition_count_out_of_range_is_InvalidDefinition()
    {
        var bad = ProcessManager<long>.Create("split-bad", 0).On<Deposited>((n, _) => n + 1).Partitions(0);
        var error = await Expect.Left(Accounts.Register(FableBuilder.Create()).UseInMemory().ProcessManager(bad).Build());
        Assert.Contains(Assert.IsType<FableErrors.InvalidDefinition>(error).Problems, p => p.Contains("declares 0 partitions", StringComparison.Ordinal));
    }
}

public sealed class PartitionInMemoryTests
{
    private readonly IHarness h = new InMemoryHarness();

    [Fact] public Task A_partitioned_process_manager_runs_one_partition_per_hash_bucket() => PartitionScenarios.A_partitioned_process_manager_runs_one_partition_per_hash_bucket(h);
    [Fact] public Task A_partition_count_out_of_range_is_InvalidDefinition() => PartitionScenarios.A_partition_count_out_of_range_is_InvalidDefinition();
}

public sealed class PartitionPostgresTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    [PostgresFact]
    public async Task A_changed_partition_count_fails_the_build_until_Repartition_is_asked_for()
    {
        var (source, schema) = await h.Schema();
        FableBuilder With(int n) =>
            Accounts.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable")
                .ProcessManager(ProcessManager<long>.Create("split-count", 0).On<Deposited>((c, _) => c + 1).Partitions(n));
        var ids = Enumerable.Range(0, 8).Select(_ => Guid.NewGuid()).ToArray();
        await using (var two = await Expect.Right(With(2).Build()))
        {
            foreach (var id in ids)
                await Expect.Right(two.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")).Bind(a => two.Emit(a, Accounts.Deposit(1))));
            await Expect.Right(two.ProcessManagers.CatchUp());
        }
        var refused = Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(With(4).Build()));
        Assert.Contains(refused.Problems, p => p.Contains("declared 4 partitions but stored 2 partitions", StringComparison.Ordinal)
                                               && p.Contains("Repartition", StringComparison.Ordinal));
        await using var four = await Expect.Right(With(4).Repartition("split-count", RepartitionStart.Drained).Build());
        Assert.Equal(["account-totals", "split-count#0/4", "split-count#1/4", "split-count#2/4", "split-count#3/4"], four.ProcessManagers.Names);
        foreach (var id in ids) await Expect.Right(four.Emit(Accounts.Type, id, a => Accounts.Deposit(2)(a)));
        await Expect.Right(four.ProcessManagers.CatchUp());
        // Drained: the new partitions start after the old events; each counts the new deposits of its accounts only.
        var statuses = await Expect.Right(four.ProcessManagers.List());
        Assert.Equal(ids.Length, statuses.Where(s => s.Name.StartsWith("split-count#", StringComparison.Ordinal)).Sum(s => long.Parse(s.StateJson)));
        // Asking again is harmless: the stored layout is the declared one.
        await using var again = await Expect.Right(With(4).Repartition("split-count", RepartitionStart.Drained).Build());
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    [PostgresFact] public Task A_partitioned_process_manager_runs_one_partition_per_hash_bucket() => PartitionScenarios.A_partitioned_process_manager_runs_one_partition_per_hash_bucket(h);
}
