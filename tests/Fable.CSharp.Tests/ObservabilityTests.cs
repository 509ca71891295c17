// Logging and tracing seen from C#: UseLoggerFactory receives the process managers' events with their level, event
// id and fields; the "Fable" ActivitySource traces an emit with its decision and handlers as children. Both
// interpreters (PostgreSQL when FABLE_PG_CONNECTION is set).
using System.Collections.Concurrent;
using System.Diagnostics;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.Extensions.Logging;
using Xunit;

namespace FacadeTests;

/// <summary>Keeps every log entry with its level, event id and structured fields.</summary>
public sealed class CapturingLoggerFactory : ILoggerFactory
{
    public sealed record Entry(string Category, LogLevel Level, EventId Event, IReadOnlyDictionary<string, object?> Fields, string Message);

    public ConcurrentQueue<Entry> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
    public void AddProvider(ILoggerProvider provider) { }
    public void Dispose() { }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state is IReadOnlyList<KeyValuePair<string, object?>> l ? l.ToDictionary(kv => kv.Key, kv => kv.Value) : [];
            owner.Entries.Enqueue(new Entry(category, level, id, fields, formatter(state, exception)));
        }
    }
}

public static class ObservabilityScenarios
{
    public static async Task A_stopping_process_manager_logs_takeover_and_stop_through_the_logger_factory(IHarness h)
    {
        var loggers = new CapturingLoggerFactory();
        var name = "cs-logged-" + Guid.NewGuid().ToString("N")[..8];
        var pm = ProcessManager<int>.Create(name, 0).WithErrorPolicy(ErrorPolicy.Stop)
            .On<Deposited>((_, _, _) => EitherAsync<Error, int>.Left(Error.New(55, "the ledger is closed")));
        await using (var app = await h.App(b => b.ProcessManager(pm).UseLoggerFactory(loggers)))
        {
            await Expect.Right(app.ProcessManagers.Start());
            await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(1))));
            await Expect.Right(app.ProcessManagers.CatchUp());
            await Expect.Right(app.ProcessManagers.Stop());
        }
        var mine = loggers.Entries.Where(e => e.Fields.TryGetValue("ProcessManager", out var n) && Equals(n, name)).ToList();
        Assert.All(mine, e => Assert.Equal("Fable.ProcessManagers", e.Category));
        var takeover = Assert.Single(mine, e => e.Event.Id == 1001);
        Assert.Equal((LogLevel.Information, "RunnerAcquired"), (takeover.Level, takeover.Event.Name));
        Assert.NotNull(takeover.Fields["Runner"]);
        var stop = Assert.Single(mine, e => e.Event.Id == 1004);
        Assert.Equal((LogLevel.Error, "ProcessManagerStopped"), (stop.Level, stop.Event.Name));
        Assert.Equal(1, stop.Fields["Attempts"]);
        Assert.Equal(7006, stop.Fields["ErrorCode"]);
        Assert.NotNull(stop.Fields["Position"]);
        Assert.Contains(mine, e => e.Event.Id == 1002 && e.Level == LogLevel.Information);
    }

    public static async Task An_emit_is_traced_with_its_decision_and_handler_as_children(IHarness h, string? db)
    {
        using var source = new ActivitySource("FacadeTests.Observability");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "Fable" or "FacadeTests.Observability",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        await using var app = await h.App();
        using (var root = source.StartActivity("test")!)
        {
            await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(7))));
            root.Stop();
            var mine = stopped.Where(a => a.TraceId == root.TraceId).ToList();
            var emits = mine.Where(a => a.OperationName == "fable.emit").ToList();
            Assert.Equal(2, emits.Count);
            Assert.All(emits, e =>
            {
                Assert.Equal(root.SpanId, e.ParentSpanId);
                Assert.Equal("accounts", e.GetTagItem("fable.aggregate.table"));
                Assert.Equal("uuid", e.GetTagItem("fable.aggregate.key_kind"));
                Assert.Equal("ok", e.GetTagItem("fable.outcome"));
                Assert.Equal(1, e.GetTagItem("fable.events.count"));
                Assert.Equal(db, e.GetTagItem("db.system.name"));
            });
            var decides = mine.Where(a => a.OperationName == "fable.decide").ToList();
            Assert.Equal(emits.Select(e => e.SpanId), decides.Select(d => d.ParentSpanId));
            var handler = Assert.Single(mine, a => a.OperationName == "fable.handler");
            Assert.Equal(emits[1].SpanId, handler.ParentSpanId);
            Assert.Equal("ledger", handler.GetTagItem("fable.handler.name"));
        }
    }
}

public sealed class InMemoryObservabilityTests
{
    private readonly IHarness h = new InMemoryHarness();

    [Fact] public Task A_stopping_process_manager_logs_takeover_and_stop_through_the_logger_factory() => ObservabilityScenarios.A_stopping_process_manager_logs_takeover_and_stop_through_the_logger_factory(h);
    [Fact] public Task An_emit_is_traced_with_its_decision_and_handler_as_children() => ObservabilityScenarios.An_emit_is_traced_with_its_decision_and_handler_as_children(h, null);
}

public sealed class PostgresObservabilityTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    [PostgresFact] public Task A_stopping_process_manager_logs_takeover_and_stop_through_the_logger_factory() => ObservabilityScenarios.A_stopping_process_manager_logs_takeover_and_stop_through_the_logger_factory(h);
    [PostgresFact] public Task An_emit_is_traced_with_its_decision_and_handler_as_children() => ObservabilityScenarios.An_emit_is_traced_with_its_decision_and_handler_as_children(h, "postgresql");
}
