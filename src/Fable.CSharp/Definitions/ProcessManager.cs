// A process manager as a C# definition: a named durable follower of the global log with its own state,
// handlers per event type (pure, or writing in the checkpoint's transaction), start position, batch size, error policy.
using System.Collections.Immutable;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Where a process manager starts reading when it is first registered or reset.</summary>
public sealed class StartPosition
{
    private StartPosition(int kind, Position after)
    {
        Kind = kind;
        AfterPosition = after;
    }

    internal int Kind { get; }
    internal Position AfterPosition { get; }

    /// <summary>From the first event ever recorded.</summary>
    public static StartPosition Origin { get; } = new(0, Position.Origin);
    /// <summary>After the last event committed when it is registered.</summary>
    public static StartPosition Head { get; } = new(1, Position.Origin);
    /// <summary>After <paramref name="position"/>.</summary>
    public static StartPosition After(Position position) => new(2, position);

    /// <inheritdoc />
    public override string ToString() => Kind switch { 0 => "origin", 1 => "head", _ => $"after {AfterPosition}" };
}

/// <summary>What a process manager does when handling an event fails.</summary>
public sealed class ErrorPolicy
{
    private ErrorPolicy(bool stop, TimeSpan interval, int? maxAttempts)
    {
        IsStop = stop;
        Interval = interval;
        MaxAttempts = maxAttempts;
    }

    internal bool IsStop { get; }
    internal TimeSpan Interval { get; }
    internal int? MaxAttempts { get; }

    /// <summary>Retry the same event after <paramref name="interval"/>; after <paramref name="maxAttempts"/> failures
    /// (when given) stop as <see cref="Stop"/> does. Attempts are counted and stored.</summary>
    public static ErrorPolicy Retry(TimeSpan interval, int? maxAttempts = null) => new(false, interval, maxAttempts);

    /// <summary>Disable the process manager and keep the error until it is enabled again.</summary>
    public static ErrorPolicy Stop { get; } = new(true, TimeSpan.Zero, null);
}

/// <summary>A process manager: a named, durable follower of the global log. Its state (JSON-serialised with the
/// app's options), checkpoint and the writes of its transactional handlers commit together. Events of types
/// without a handler leave the state unchanged. Immutable: each method returns a new definition.</summary>
/// <typeparam name="TState">Its state type (must round-trip through System.Text.Json).</typeparam>
public sealed class ProcessManager<TState>
{
    private readonly ImmutableDictionary<Type, Func<ProcessContext, TState, object, Task<Either<Error, TState>>>> handlers;
    private readonly ImmutableList<string> problems;

    private ProcessManager(string name, TState initial, StartPosition start, int batchSize, ErrorPolicy policy,
                           ImmutableDictionary<Type, Func<ProcessContext, TState, object, Task<Either<Error, TState>>>> handlers,
                           ImmutableList<string> problems)
    {
        Name = name;
        Initial = initial;
        Start = start;
        BatchSize = batchSize;
        ErrorPolicy = policy;
        this.handlers = handlers;
        this.problems = problems;
    }

    /// <summary>A process manager <paramref name="name"/> starting from <paramref name="initial"/>: from the origin,
    /// 500 events per batch, retrying every second.</summary>
    public static ProcessManager<TState> Create(string name, TState initial) =>
        new(name ?? "", initial, StartPosition.Origin, 500, ErrorPolicy.Retry(TimeSpan.FromSeconds(1)),
            ImmutableDictionary<Type, Func<ProcessContext, TState, object, Task<Either<Error, TState>>>>.Empty,
            ImmutableList<string>.Empty);

    /// <summary>Adds a pure handler: state + <typeparamref name="TEvent"/> → next state.</summary>
    public ProcessManager<TState> On<TEvent>(Func<TState, TEvent, TState> handle) =>
        Add<TEvent>(handle is null ? null : (_, s, e) => Task.FromResult(Prelude.Right<Error, TState>(handle(s, (TEvent)e))));

    /// <summary>Adds a handler that may write and emit in the checkpoint's transaction; a Left fails the batch
    /// (nothing of it commits) and the error policy applies.</summary>
    public ProcessManager<TState> On<TEvent>(Func<ProcessContext, TState, TEvent, EitherAsync<Error, TState>> handle) =>
        Add<TEvent>(handle is null ? null : (ctx, s, e) => handle(ctx, s, (TEvent)e).ToEither());

    /// <summary>As the handler returning <c>EitherAsync</c>, for <c>async</c>/<c>await</c> code: it returns a <c>Task</c>
    /// of the next state or of your error (a Left or an exception fails the batch and the error policy applies).</summary>
    public ProcessManager<TState> On<TEvent>(Func<ProcessContext, TState, TEvent, Task<Either<Error, TState>>> handle) =>
        Add<TEvent>(handle is null ? null : (ctx, s, e) => handle(ctx, s, (TEvent)e));

    /// <summary>Where it starts reading when first registered or reset.</summary>
    public ProcessManager<TState> WithStart(StartPosition start) =>
        start is null ? With(problems.Add($"process manager {Name} has a null start position"))
                      : new(Name, Initial, start, BatchSize, ErrorPolicy, handlers, problems);

    /// <summary>How many events it reads per batch (1 or more).</summary>
    public ProcessManager<TState> WithBatchSize(int batchSize) =>
        new(Name, Initial, Start, batchSize, ErrorPolicy, handlers, problems);

    /// <summary>What it does when handling fails.</summary>
    public ProcessManager<TState> WithErrorPolicy(ErrorPolicy policy) =>
        policy is null ? With(problems.Add($"process manager {Name} has a null error policy"))
                       : new(Name, Initial, Start, BatchSize, policy, handlers, problems);

    /// <summary>The stable name (its row in the store).</summary>
    public string Name { get; }
    /// <summary>The state before any event.</summary>
    public TState Initial { get; }
    /// <summary>Where it starts.</summary>
    public StartPosition Start { get; }
    /// <summary>Events read per batch.</summary>
    public int BatchSize { get; }
    /// <summary>What it does on failure.</summary>
    public ErrorPolicy ErrorPolicy { get; }
    /// <summary>The event types it handles.</summary>
    public IReadOnlyCollection<Type> EventTypes => handlers.Keys.ToArray();

    internal IReadOnlyDictionary<Type, Func<ProcessContext, TState, object, Task<Either<Error, TState>>>> Handlers => handlers;
    internal IReadOnlyList<string> Problems => problems;

    private ProcessManager<TState> Add<TEvent>(Func<ProcessContext, TState, object, Task<Either<Error, TState>>>? handle)
    {
        if (handle is null) return With(problems.Add($"process manager {Name} has a null handler for {typeof(TEvent).Name}"));
        if (handlers.ContainsKey(typeof(TEvent)))
            return With(problems.Add($"process manager {Name} handles {typeof(TEvent).Name} twice"));
        return new(Name, Initial, Start, BatchSize, ErrorPolicy, handlers.Add(typeof(TEvent), handle), problems);
    }

    private ProcessManager<TState> With(ImmutableList<string> p) => new(Name, Initial, Start, BatchSize, ErrorPolicy, handlers, p);
}
