// A process manager as a C# definition: a named durable follower of the global log with its own state,
// handlers per event type (pure, or writing in the checkpoint's transaction), start position, batch size, error policy.
using System.Collections.Immutable;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Where a process manager starts reading when it is first registered or reset: one of
/// <see cref="FromOrigin"/>, <see cref="FromHead"/> or <see cref="AfterPosition"/> (no other case can exist).</summary>
public abstract class StartPosition
{
    private StartPosition() { }

    /// <summary>From the first event ever recorded.</summary>
    public sealed class FromOrigin : StartPosition
    {
        internal FromOrigin() { }

        /// <inheritdoc />
        public override string ToString() => "origin";
    }

    /// <summary>After the last event committed when it is registered.</summary>
    public sealed class FromHead : StartPosition
    {
        internal FromHead() { }

        /// <inheritdoc />
        public override string ToString() => "head";
    }

    /// <summary>After a given position.</summary>
    public sealed class AfterPosition : StartPosition, IEquatable<AfterPosition>
    {
        internal AfterPosition(Position position) => Position = position;

        /// <summary>The last position not to handle.</summary>
        public Position Position { get; }

        /// <summary>Deconstructs into the position (for <c>AfterPosition(var p)</c> patterns).</summary>
        public void Deconstruct(out Position position) => position = Position;

        /// <inheritdoc />
        public bool Equals(AfterPosition? other) => other is not null && other.Position == Position;
        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as AfterPosition);
        /// <inheritdoc />
        public override int GetHashCode() => Position.GetHashCode();
        /// <inheritdoc />
        public override string ToString() => $"after {Position}";
    }

    /// <summary>From the first event ever recorded.</summary>
    public static StartPosition Origin { get; } = new FromOrigin();
    /// <summary>After the last event committed when it is registered.</summary>
    public static StartPosition Head { get; } = new FromHead();
    /// <summary>After <paramref name="position"/>.</summary>
    public static StartPosition After(Position position) => new AfterPosition(position);
}

/// <summary>What a process manager does when handling an event fails: <see cref="Retrying"/> or
/// <see cref="Stopping"/> (no other case can exist).</summary>
public abstract class ErrorPolicy
{
    private ErrorPolicy() { }

    /// <summary>Retry the same event after <see cref="Interval"/>; after <see cref="MaxAttempts"/> failures (when
    /// given) stop as <see cref="Stopping"/> does.</summary>
    public sealed class Retrying : ErrorPolicy, IEquatable<Retrying>
    {
        internal Retrying(TimeSpan interval, int? maxAttempts)
        {
            Interval = interval;
            MaxAttempts = maxAttempts;
        }

        /// <summary>The wait before the next attempt.</summary>
        public TimeSpan Interval { get; }
        /// <summary>The failures after which it stops; null retries for ever.</summary>
        public int? MaxAttempts { get; }

        /// <summary>Deconstructs into the interval and the maximum attempts.</summary>
        public void Deconstruct(out TimeSpan interval, out int? maxAttempts) => (interval, maxAttempts) = (Interval, MaxAttempts);

        /// <inheritdoc />
        public bool Equals(Retrying? other) => other is not null && other.Interval == Interval && other.MaxAttempts == MaxAttempts;
        /// <inheritdoc />
        public override bool Equals(object? obj) => Equals(obj as Retrying);
        /// <inheritdoc />
        public override int GetHashCode() => HashCode.Combine(Interval, MaxAttempts);
        /// <inheritdoc />
        public override string ToString() => $"retry every {Interval}{(MaxAttempts is { } n ? $", at most {n} attempts" : "")}";
    }

    /// <summary>Disable the process manager and keep the error until it is enabled again.</summary>
    public sealed class Stopping : ErrorPolicy
    {
        internal Stopping() { }

        /// <inheritdoc />
        public override string ToString() => "stop";
    }

    /// <summary>Retry the same event after <paramref name="interval"/>; after <paramref name="maxAttempts"/> failures
    /// (when given) stop as <see cref="Stop"/> does. Attempts are counted and stored.</summary>
    public static ErrorPolicy Retry(TimeSpan interval, int? maxAttempts = null) => new Retrying(interval, maxAttempts);

    /// <summary>Disable the process manager and keep the error until it is enabled again.</summary>
    public static ErrorPolicy Stop { get; } = new Stopping();
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
                           ImmutableList<string> problems, int partitions = 1)
    {
        PartitionCount = partitions;
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
                      : new(Name, Initial, start, BatchSize, ErrorPolicy, handlers, problems, PartitionCount);

    /// <summary>How many events it reads per batch (1 or more) when live, in a runner's or catch-up's first batch
    /// and after a failure; while it is behind, each full batch doubles the next, up to 16 times this
    /// (see docs/process-managers.md).</summary>
    public ProcessManager<TState> WithBatchSize(int batchSize) =>
        new(Name, Initial, Start, batchSize, ErrorPolicy, handlers, problems, PartitionCount);

    /// <summary>What it does when handling fails.</summary>
    public ProcessManager<TState> WithErrorPolicy(ErrorPolicy policy) =>
        policy is null ? With(problems.Add($"process manager {Name} has a null error policy"))
                       : new(Name, Initial, Start, BatchSize, policy, handlers, problems, PartitionCount);

    /// <summary>Splits it into <paramref name="count"/> partitions (1 to 1024; 1, the default, is unpartitioned). Partition
    /// <c>i</c> is stored and run as <c>Name#i/count</c> with its own checkpoint, state and runner, and follows only the
    /// events of the aggregates whose (table, key) hashes to it (FNV-1a 32-bit, a stable contract: docs/scaling.md);
    /// chain order holds per aggregate, not across aggregates. Runners in several processes share the partitions
    /// fairly. Changing the count of a stored process manager is the explicit <c>Repartition</c> operation.</summary>
    public ProcessManager<TState> Partitions(int count) =>
        new(Name, Initial, Start, BatchSize, ErrorPolicy, handlers, problems, count);

    /// <summary>The number of partitions (1: unpartitioned).</summary>
    public int PartitionCount { get; }

    /// <summary>The stable name (its row in the store).</summary>
    public string Name { get; }
    /// <summary>The state before any event.</summary>
    public TState Initial { get; }
    /// <summary>Where it starts.</summary>
    public StartPosition Start { get; }
    /// <summary>Events read per batch when live (up to 16 times more while behind).</summary>
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
        return new(Name, Initial, Start, BatchSize, ErrorPolicy, handlers.Add(typeof(TEvent), handle), problems, PartitionCount);
    }

    private ProcessManager<TState> With(ImmutableList<string> p) => new(Name, Initial, Start, BatchSize, ErrorPolicy, handlers, p, PartitionCount);
}
