// A small domain for the hosting tests: counters that tick, a process manager that tallies ticks and records each one
// in a table in its batch's transaction, and switches to make its handler slow or failing.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace HostingTests;

public sealed record Ticked(int N);
public sealed record Other(int N);
public sealed record Counter(Guid Id, long Ticks);

/// <summary>What a test wants the tally's handler to do.</summary>
public sealed class Behaviour
{
    /// <summary>How long each event takes (ignoring cancellation, like a slow outside call).</summary>
    public TimeSpan Delay { get; set; }
    /// <summary>Fails every event with this error when set.</summary>
    public Error? Failure { get; set; }
    /// <summary>Signalled when the handler starts on an event.</summary>
    public TaskCompletionSource Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

public static class Domain
{
    public const string Tally = "tally";

    public static readonly AggregateType<Counter, Guid> Counters =
        AggregateType.Create<Counter, Guid>("counters",
                initial: id => new Counter(id, 0),
                toRow: c => Rows.Of(("ticks", c.Ticks)),
                ofRow: r => new Counter(r.Value<Guid>("id"), r.Value<long>("ticks")))
            .Columns(t => t.BigInt("ticks"))
            .On<Ticked>((c, _) => c with { Ticks = c.Ticks + 1 })
            .On<Other>((c, _) => c);

    public const string Ddl = """
        CREATE TABLE counters (id uuid PRIMARY KEY, last_event_id bigint NULL, ticks bigint NOT NULL);
        CREATE TABLE seen (id bigint PRIMARY KEY, n integer NOT NULL);
        """;

    /// <summary>The tally: its state counts ticks, and each tick writes a <c>seen</c> row in the same transaction.</summary>
    public static ProcessManager<long> TallyOf(Behaviour behaviour, ErrorPolicy? policy = null, int batchSize = 100, int partitions = 1) =>
        ProcessManager<long>.Create(Tally, 0L)
            .On<Ticked>(async (ProcessContext ctx, long n, Ticked e) =>
            {
                behaviour.Started.TrySetResult();
                if (behaviour.Delay > TimeSpan.Zero) await Task.Delay(behaviour.Delay);
                if (behaviour.Failure is { } failure) return Prelude.Left<Error, long>(failure);
                return await ctx.Tables.Upsert("seen", Rows.Of(("id", ctx.Recorded.Id), ("n", e.N))).Map(_ => n + 1).ToEither();
            })
            .WithErrorPolicy(policy ?? ErrorPolicy.Retry(TimeSpan.FromMilliseconds(50), 3))
            .WithBatchSize(batchSize)
            .Partitions(partitions);

    /// <summary>Registers the domain with the tally.</summary>
    public static FableBuilder Register(FableBuilder b, Behaviour behaviour, ErrorPolicy? policy = null, int partitions = 1) =>
        b.Event<Ticked>("ticked")
         .Event<Other>("other")
         .Aggregate(Counters)
         .Table("seen", KeyKind.Int, t => t.Integer("n"))
         .Routes(Routes.Empty.On<Ticked>().On<Other>())
         .ProcessManager(TallyOf(behaviour, policy, partitions: partitions));

    /// <summary>Records <paramref name="count"/> ticks on one new counter, one emit each.</summary>
    public static async Task Tick(FableApp app, int count)
    {
        var id = Guid.NewGuid();
        for (var i = 0; i < count; i++)
        {
            var n = i;
            await Expect.Right(app.Emit(Counters, id, _ => Events.Of(new Ticked(n))));
        }
    }
}

/// <summary>Unwraps results in tests.</summary>
public static class Expect
{
    public static async Task<T> Right<T>(EitherAsync<Error, T> e) =>
        (await e.ToEither()).Match(Right: v => v, Left: l => throw new Xunit.Sdk.XunitException($"expected Right, got {l} (code {l.Code})"));
}
