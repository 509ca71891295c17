// Writers and a process-manager runner against a multi-host connection string while the primary is stopped and its
// synchronous standby promoted: writers get typed errors ("outcome unknown" only when a COMMIT was in flight) and
// succeed on the new primary; the runner reconnects and resumes from its last committed checkpoint; nothing a writer
// was told is committed is lost; every surviving event is audited exactly once, in chain order.
using System.Collections.Concurrent;
using Fable.CSharp;
using LanguageExt.Common;
using Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace FailoverTests;

/// <summary>A fact that needs the PostgreSQL server binaries (skipped, saying so, when they are missing).</summary>
public sealed class ServerFactAttribute : FactAttribute
{
    public ServerFactAttribute()
    {
        if (!Replicated.ServerBinariesPresent) Skip = "PostgreSQL server binaries (initdb, pg_basebackup) are not installed";
    }
}

public sealed class FailoverTests(ITestOutputHelper output)
{
    private sealed record Outcome(Guid Account, long Serial, bool AfterFailover, Error? Error);

    [ServerFact]
    public async Task Writers_and_a_runner_survive_a_promoted_standby_and_nothing_acknowledged_is_lost()
    {
        await using var servers = await Replicated.Start();
        var connection = new NpgsqlConnectionStringBuilder(servers.ConnectionString) { HostRecheckSeconds = 1 }.ConnectionString;
        await using (var setup = new NpgsqlConnection(connection))
        {
            await setup.OpenAsync();
            await using var ddl = new NpgsqlCommand(Bank.Ddl, setup);
            await ddl.ExecuteNonQueryAsync();
        }
        await using var source = NpgsqlDataSource.Create(connection);
        var app = (await Bank.Register(FableBuilder.Create())
            .UsePostgres(source, "fable_events", pollInterval: TimeSpan.FromMilliseconds(100)).Build().ToEither())
            .Match(a => a, e => throw new InvalidOperationException($"build: {e}"));
        await using var _ = app;
        (await app.ProcessManagers.Start().ToEither()).IfLeft(e => throw new InvalidOperationException($"start: {e}"));

        var outcomes = new ConcurrentQueue<Outcome>();
        var failedOver = 0;
        using var stop = new CancellationTokenSource();
        var accounts = Enumerable.Range(0, 4).Select(_ => Guid.NewGuid()).ToArray();
        var writers = accounts.Select(account => Task.Run(async () =>
        {
            for (var serial = 1L; !stop.IsCancellationRequested; serial++)
            {
                var after = Volatile.Read(ref failedOver) == 1;
                var s = serial;
                var result = await app.Emit(Bank.Accounts, account, _ => Events.Of(new Deposited(s))).ToEither();
                // (LanguageExt's Match refuses a null result: take the Left from Case.)
                outcomes.Enqueue(new Outcome(account, serial, after, result.Case as Error));
                if (result.IsLeft) await Task.Delay(50);
            }
        })).ToArray();

        bool EachWriterAcked(bool afterFailover, int atLeast) =>
            accounts.All(a => outcomes.Count(o => o.Account == a && o.Error is null && o.AfterFailover == afterFailover) >= atLeast);

        string Summary() =>
            $"{outcomes.Count(o => o.Error is null)} acknowledged, {outcomes.Count(o => o.Error is not null)} refused; last error: " +
            (outcomes.LastOrDefault(o => o.Error is not null)?.Error?.ToString() ?? "none");
        await Until(() => EachWriterAcked(false, 20), TimeSpan.FromSeconds(60), "every writer committed 20 deposits on the first primary", Summary);
        await servers.Failover();
        Volatile.Write(ref failedOver, 1);
        await Until(() => EachWriterAcked(true, 20), TimeSpan.FromSeconds(90), "every writer committed 20 deposits on the promoted standby", Summary);
        stop.Cancel();
        await Task.WhenAll(writers);

        // Every error is typed: a lost connection (Infrastructure) or a conflict worth retrying.
        var errors = outcomes.Where(o => o.Error is not null).ToList();
        output.WriteLine($"{outcomes.Count} emits, {errors.Count} errors; first: {errors.FirstOrDefault()?.Error}");
        foreach (var o in errors)
            Assert.True(o.Error is FableErrors.Infrastructure || o.Error is FableErrors.Conflict { Retryable: true },
                        $"deposit {o.Serial} failed with an error that is not a connection failure or a retryable conflict: {o.Error}");
        Assert.All(errors.Where(o => !o.AfterFailover), o => Assert.IsType<FableErrors.Infrastructure>(o.Error));

        // The log on the new primary: nothing acknowledged is lost; an emit refused without "outcome unknown" left nothing.
        await CatchUp(app);
        var events = new Dictionary<long, (Guid Account, int Index)>();
        foreach (var account in accounts)
        {
            var log = (await app.Log(Bank.Accounts, account).ToEither()).Match(l => l, e => throw new InvalidOperationException($"log: {e}"));
            var serials = new HashSet<long>();
            for (var i = 0; i < log.Count; i++)
            {
                events[log[i].Id] = (account, i);
                serials.Add(System.Text.Json.JsonDocument.Parse(log[i].Data).RootElement.GetProperty("serial").GetInt64());
            }
            foreach (var o in outcomes.Where(o => o.Account == account))
            {
                if (o.Error is null)
                    Assert.True(serials.Contains(o.Serial), $"deposit {o.Serial} of {account} was acknowledged but is not in the log after the failover");
                else if (!o.Error.Message.Contains("outcome is unknown", StringComparison.Ordinal))
                    Assert.False(serials.Contains(o.Serial), $"deposit {o.Serial} of {account} was refused ({o.Error.Message}) but is in the log");
            }
        }

        // The auditor: every surviving event exactly once, numbered in chain order per account; running again.
        var audit = new List<(long EventId, Guid Account, long N)>();
        await using (var read = new NpgsqlConnection(connection))
        {
            await read.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT event_id, account_id, n FROM bank.audit", read);
            await using var rows = await cmd.ExecuteReaderAsync();
            while (await rows.ReadAsync()) audit.Add((rows.GetInt64(0), rows.GetGuid(1), rows.GetInt64(2)));
        }
        Assert.Equal(events.Count, audit.Count);
        Assert.Equal(events.Keys.Order(), audit.Select(a => a.EventId).Order());
        foreach (var account in accounts)
        {
            var numbers = audit.Where(a => a.Account == account).OrderBy(a => events[a.EventId].Index).Select(a => a.N).ToList();
            Assert.True(numbers.Zip(numbers.Skip(1)).All(p => p.Item1 < p.Item2), $"the auditor handled {account}'s events out of chain order");
        }
        Assert.Equal(audit.Count, audit.Select(a => a.N).Distinct().Count());
        var status = (await app.ProcessManagers.Status("auditor").ToEither()).Match(s => s, e => throw new InvalidOperationException($"status: {e}"));
        Assert.True(status.Active);
        Assert.Null(status.LastError);
        Assert.Equal(0L, status.Lag);
        (await app.ProcessManagers.Stop().ToEither()).IfLeft(e => throw new InvalidOperationException($"stop: {e}"));
    }

    private static async Task CatchUp(FableApp app)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var r = await app.ProcessManagers.CatchUp().ToEither();
            if (r.IsRight) return;
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"catch-up: {r}");
            await Task.Delay(200);
        }
    }

    private static async Task Until(Func<bool> done, TimeSpan timeout, string what, Func<string> summary)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!done())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting until {what}: {summary()}");
            await Task.Delay(50);
        }
    }
}
