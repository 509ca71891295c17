// Given events, then a process manager's state and writes once it caught up, on a fresh in-memory app.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using System.Runtime.CompilerServices;

namespace Fable.Testing;

/// <summary>A specification of one process manager (see <see cref="Specification.ForProcessManager{TState}"/>).
/// Immutable; runs when awaited. Every Then first runs the process managers until they handled every committed event.</summary>
public sealed class ProcessManagerSpecification<TState>
{
    private readonly AppSpecification app;
    private readonly ProcessManager<TState> processManager;

    internal ProcessManagerSpecification(AppSpecification app, ProcessManager<TState> processManager)
    {
        this.app = app;
        this.processManager = processManager ?? throw new ArgumentNullException(nameof(processManager));
    }

    ProcessManagerSpecification<TState> With(AppSpecification next) => new(next, processManager);

    /// <summary>Records <paramref name="events"/> on aggregate <paramref name="id"/> through the app (handlers run).</summary>
    public ProcessManagerSpecification<TState> Given<TAggregate, TKey>(AggregateType<TAggregate, TKey> type, TKey id, params object[] events)
        where TKey : notnull => With(app.Given(type, id, events));

    /// <summary>Inserts reference rows into a declared table.</summary>
    public ProcessManagerSpecification<TState> GivenRows(string table, params IReadOnlyDictionary<string, object?>[] rows) =>
        With(app.GivenRows(table, rows));

    /// <summary>Any setup through the app.</summary>
    public ProcessManagerSpecification<TState> Given<T>(Func<FableApp, EitherAsync<Error, T>> setup) => With(app.Given(setup));

    /// <summary>Asserts the process manager's state after catching up equals <paramref name="expected"/> (by JSON).</summary>
    public ProcessManagerSpecification<TState> ThenState(TState expected) => With(app.ThenState(processManager, expected));

    /// <summary>Asserts declared table <paramref name="table"/> holds exactly <paramref name="expected"/> after catching
    /// up (in id order, comparing the columns each expected row names): the process manager's writes.</summary>
    public ProcessManagerSpecification<TState> ThenRows(string table, params IReadOnlyDictionary<string, object?>[] expected) =>
        With(app.With(run => run.CatchUpFor($"ThenRows({table})", processManager.Name)).ThenRows(table, expected));

    /// <summary>Asserts the process manager failed on the given events (its last error, containing
    /// <paramref name="messageContains"/> when given).</summary>
    public ProcessManagerSpecification<TState> ThenFailed(string? messageContains = null) =>
        With(app.With(run => run.ThenPmFailed(processManager.Name, messageContains)));

    /// <summary>Builds the app and runs every step; throws <see cref="SpecificationException"/> at the first failure.</summary>
    public Task Run() => app.Run();

    /// <summary>Lets you <c>await</c> the specification.</summary>
    public TaskAwaiter GetAwaiter() => Run().GetAwaiter();
}
