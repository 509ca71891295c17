// Marten 9.58 as the benchmark's peer: the bench's account domain (a Deposited event, an inline snapshot of the
// balance) emitted in a closed loop; run by bench/Fable.Bench as its own process and printing one result line per mode.
using System.Diagnostics;
using System.Globalization;
using JasperFx;
using JasperFx.Events;
using JasperFx.Events.Projections;
using Marten;
using Marten.Exceptions;
using Npgsql;

namespace Fable.Bench.Marten;

/// <summary>The bench's only event: the same payload Fable and the hand-written baselines store.</summary>
public sealed record Deposited(long Amount);

/// <summary>The account aggregate, kept as an inline snapshot (Marten's equivalent of Fable's aggregate row).</summary>
public sealed class Account
{
    /// <summary>The stream id.</summary>
    public Guid Id { get; set; }

    /// <summary>The balance: the sum of the deposits.</summary>
    public long Balance { get; set; }

    /// <summary>Applies a deposit.</summary>
    public void Apply(Deposited e) => Balance += e.Amount;
}

/// <summary>The command line: `setup` or `run`, with `--name value` options.</summary>
internal sealed record Options(
    string Command, string Connection, string Schema, int Aggregates, string Workload, int Writers,
    string[] Modes, double Warmup, double Duration, int Rounds)
{
    public static Options Parse(string[] args)
    {
        if (args.Length == 0 || (args[0] != "setup" && args[0] != "run"))
            throw new ArgumentException("usage: setup|run --connection CS [--schema marten_bench] [--aggregates 10000] [--workload random|hot|batch10] [--writers 1] [--modes M,MX] [--warmup 0.5] [--duration 2] [--rounds 2]");
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }
        double D(string name, string fallback) => double.Parse(Get(name, fallback), CultureInfo.InvariantCulture);
        var connection = Get("connection", Environment.GetEnvironmentVariable("FABLE_BENCH_CONNECTION") ?? "");
        if (connection.Length == 0) throw new ArgumentException("--connection is required (or FABLE_BENCH_CONNECTION)");
        return new Options(args[0], connection, Get("schema", "marten_bench"), int.Parse(Get("aggregates", "10000"), CultureInfo.InvariantCulture),
            Get("workload", "random"), int.Parse(Get("writers", "1"), CultureInfo.InvariantCulture),
            Get("modes", "M,MX").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            D("warmup", "0.5"), D("duration", "2"), int.Parse(Get("rounds", "2"), CultureInfo.InvariantCulture));
    }
}

internal static class Program
{
    /// <summary>Stream id of account i (1-based), the same on every run.</summary>
    private static Guid StreamId(long i) => new(0x4d617274, 0, 0, BitConverter.GetBytes(i));

    private static DocumentStore Store(Options o, bool create) =>
        DocumentStore.For(opts =>
        {
            opts.Connection(o.Connection);
            opts.DatabaseSchemaName = o.Schema;
            opts.Events.DatabaseSchemaName = o.Schema;
            opts.AutoCreateSchemaObjects = create ? AutoCreate.All : AutoCreate.None;
            opts.Events.StreamIdentity = StreamIdentity.AsGuid;
            opts.Projections.Snapshot<Account>(SnapshotLifecycle.Inline);
            opts.DisableNpgsqlLogging = true;
        });

    /// <summary>Drops and re-creates the schema, then starts every account's stream with one deposit.</summary>
    private static async Task Setup(Options o)
    {
        await using (var ds = NpgsqlDataSource.Create(o.Connection))
        await using (var drop = ds.CreateCommand($"DROP SCHEMA IF EXISTS \"{o.Schema.Replace("\"", "\"\"")}\" CASCADE"))
            await drop.ExecuteNonQueryAsync();
        await using var store = Store(o, create: true);
        await store.Storage.ApplyAllConfiguredChangesToDatabaseAsync();
        for (var from = 1L; from <= o.Aggregates; from += 500)
        {
            await using var session = store.LightweightSession();
            for (var i = from; i < from + 500 && i <= o.Aggregates; i++)
                session.Events.StartStream<Account>(StreamId(i), new Deposited(0));
            await session.SaveChangesAsync();
        }
        Console.WriteLine($"marten-setup schema={o.Schema} aggregates={o.Aggregates}");
    }

    /// <summary>One emit: fetch the account for writing (M) or with a row lock (MX), append, save; events recorded.</summary>
    private static async Task<int> Emit(DocumentStore store, bool exclusive, Guid id, Deposited[] events)
    {
        await using var session = store.LightweightSession();
        var stream = exclusive
            ? await session.Events.FetchForExclusiveWriting<Account>(id)
            : await session.Events.FetchForWriting<Account>(id);
        stream.AppendMany(events);
        try
        {
            await session.SaveChangesAsync();
            return events.Length;
        }
        catch (ConcurrencyException)
        {
            // A lost optimistic race (M on a hot aggregate): counted as a conflict, like Fable's Conflict.
            return 0;
        }
    }

    private sealed class Totals
    {
        public long Events;
        public long Conflicts;
        public double Seconds;
        public readonly List<double> Latencies = new();
    }

    /// <summary>Closed loop on `writers` tasks: warm up, then count for `seconds`.</summary>
    private static async Task Load(Options o, DocumentStore store, bool exclusive, double warmup, double seconds, Totals into)
    {
        var batch = o.Workload == "batch10" ? 10 : 1;
        var events = Enumerable.Range(0, batch).Select(_ => new Deposited(1)).ToArray();
        var stop = false;
        var measuring = false;
        var perWriter = Enumerable.Range(0, o.Writers).Select(_ => (Events: 0L, Conflicts: 0L, Lat: new List<double>())).ToArray();
        async Task Writer(int w)
        {
            var rnd = new Random(w * 7919 + Environment.TickCount);
            var (ev, conf, lat) = (0L, 0L, perWriter[w].Lat);
            while (!Volatile.Read(ref stop))
            {
                var id = o.Workload == "hot" ? StreamId(1) : StreamId(rnd.Next(1, o.Aggregates + 1));
                var t0 = Stopwatch.GetTimestamp();
                var n = await Emit(store, exclusive, id, events);
                if (Volatile.Read(ref measuring))
                {
                    ev += n;
                    if (n == 0) conf++;
                    lat.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                }
            }
            perWriter[w] = (ev, conf, lat);
        }
        var tasks = Enumerable.Range(0, o.Writers).Select(w => Task.Run(() => Writer(w))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(warmup));
        Volatile.Write(ref measuring, true);
        var sw = Stopwatch.StartNew();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        Volatile.Write(ref measuring, false);
        into.Seconds += sw.Elapsed.TotalSeconds;
        Volatile.Write(ref stop, true);
        await Task.WhenAll(tasks);
        foreach (var p in perWriter)
        {
            into.Events += p.Events;
            into.Conflicts += p.Conflicts;
            into.Latencies.AddRange(p.Lat);
        }
    }

    /// <summary>Every mode in interleaved rounds (M MX, MX M, ...), each adding up to `duration`; one line per mode.</summary>
    private static async Task Run(Options o)
    {
        await using var store = Store(o, create: false);
        var totals = o.Modes.ToDictionary(m => m, _ => new Totals());
        // Marten generates and compiles its session code at first use (seconds, longer than a quick warm-up): emit
        // 20 times per mode before anything is timed, so the timed slices measure a running service.
        var started = Stopwatch.StartNew();
        foreach (var mode in o.Modes)
            for (var i = 1; i <= 20; i++)
                await Emit(store, mode == "MX", StreamId(i), [new Deposited(1)]);
        Console.Error.WriteLine($"marten-warm first 20 emits per mode took {started.Elapsed.TotalSeconds:0.0} s");
        for (var round = 0; round < o.Rounds; round++)
        {
            var warm = round == 0 ? o.Warmup : o.Warmup / 4;
            var order = round % 2 == 0 ? o.Modes : o.Modes.Reverse().ToArray();
            foreach (var mode in order)
                await Load(o, store, mode == "MX", warm, o.Duration / o.Rounds, totals[mode]);
        }
        foreach (var mode in o.Modes)
        {
            var t = totals[mode];
            t.Latencies.Sort();
            double P(double q) => t.Latencies.Count == 0 ? double.NaN : t.Latencies[Math.Min(t.Latencies.Count - 1, (int)(q * t.Latencies.Count))];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"marten-result mode={mode} workload={o.Workload} writers={o.Writers} events={t.Events} seconds={t.Seconds:0.000} events_per_s={t.Events / t.Seconds:0.0} p50_ms={P(0.5):0.00} p99_ms={P(0.99):0.00} conflicts={t.Conflicts}"));
        }
    }

    private static async Task<int> Main(string[] args)
    {
        try
        {
            var o = Options.Parse(args);
            if (o.Modes.Any(m => m != "M" && m != "MX")) throw new ArgumentException("--modes takes M and/or MX");
            if (o.Command == "setup") await Setup(o);
            else await Run(o);
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"marten-error {e.GetType().Name}: {e.Message}");
            Console.Error.WriteLine(e);
            return 1;
        }
    }
}
