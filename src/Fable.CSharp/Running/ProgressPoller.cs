// Progress of a long catch-up or rebuild: reads the process managers' status while the call runs and reports
// position, handled and remaining, then once more when it ends. It only reads, on both interpreters alike.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

internal static class ProgressPoller
{
    /// <summary>Runs <paramref name="before"/> (if any), reports, then runs <paramref name="work"/>, reporting the progress
    /// of <paramref name="names"/> every <paramref name="every"/> until it ends, then a last time. Handled counts by how
    /// much each lag shrank from the largest seen, so <paramref name="before"/> sets the baseline (a rebuild's reset).</summary>
    public static async Task<Either<Error, Unit>> While(IReadOnlyList<string> names, Func<string, EitherAsync<Error, ProcessManagerStatus>> status,
        IProgress<ProcessManagerProgress> progress, TimeSpan? every, Func<Task<Either<Error, Unit>>> work, CancellationToken ct,
        Func<Task<Either<Error, Unit>>>? before = null)
    {
        if (progress is null) return new FableErrors.InvalidDefinition(["the progress receiver is null"]);
        var interval = every ?? TimeSpan.FromMilliseconds(500);
        if (interval <= TimeSpan.Zero) return new FableErrors.InvalidDefinition([$"the progress interval must be positive (was {interval})"]);
        var largest = new Dictionary<string, long>(StringComparer.Ordinal);

        async Task Report()
        {
            foreach (var name in names)
            {
                var s = await status(name).ToEither().ConfigureAwait(false);
                s.IfRight(st =>
                {
                    var most = Math.Max(largest.GetValueOrDefault(name), st.Lag);
                    largest[name] = most;
                    progress.Report(new ProcessManagerProgress(name, st.Position, most - st.Lag, st.Lag));
                });
            }
        }

        using var done = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (before is not null && await before().ConfigureAwait(false) is { IsLeft: true } failed) return failed;
        await Report().ConfigureAwait(false);
        var running = work();
        var poller = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                try { await Task.Delay(interval, done.Token).ConfigureAwait(false); }
                catch (OperationCanceledException) { return; }
                await Report().ConfigureAwait(false);
            }
        }, CancellationToken.None);
        var result = await running.ConfigureAwait(false);
        await done.CancelAsync().ConfigureAwait(false);
        await poller.ConfigureAwait(false);
        await Report().ConfigureAwait(false);
        return result;
    }
}
