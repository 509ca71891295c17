// Fable's IHealthCheck: the status of the app's process managers (or some of them), with their position, lag,
// attempts and last error as data.
using Fable.CSharp;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fable.Extensions.Hosting;

/// <summary>Checks process managers: Unhealthy when one stopped with an error (or its status cannot be read, or Fable
/// has not started), Degraded when one is past <see cref="FableHealthOptions"/>' lag or age threshold, else Healthy.</summary>
internal sealed class FableHealthCheck(FableAppHolder holder, FableHealthOptions options, TimeProvider clock) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failure = context.Registration?.FailureStatus ?? HealthStatus.Unhealthy;
        if (holder.Current is not { } app) return new HealthCheckResult(failure, "Fable has not started (the host builds it at start)");
        var all = app.ProcessManagers.Names;
        var names = options.ProcessManagers.Count > 0 ? options.ProcessManagers.SelectMany(n => Expand(n, all)).ToArray() : all.ToArray();
        var data = new Dictionary<string, object>();
        var found = new List<ProcessManagerHealth>();
        foreach (var name in names)
        {
            var status = await app.ProcessManagers.Status(name, cancellationToken).ToEither().ConfigureAwait(false);
            if (status.IsLeft)
            {
                found.Add(new(name, HealthStatus.Unhealthy, $"cannot read the status of {name}: {((LanguageExt.Common.Error)status).Message}"));
                continue;
            }
            var s = (ProcessManagerStatus)status;
            var age = await OldestWait(app, s, cancellationToken).ConfigureAwait(false);
            data[$"{name}.position"] = s.Position.ToString();
            data[$"{name}.lag"] = s.Lag;
            data[$"{name}.active"] = s.Active;
            data[$"{name}.attempts"] = s.Attempts;
            if (s.LastError is not null) data[$"{name}.last_error"] = s.LastError;
            if (s.Holder is not null) data[$"{name}.holder"] = s.Holder;
            if (age is { } a) data[$"{name}.oldest_unhandled_age_seconds"] = Math.Round(a.TotalSeconds, 3);
            found.Add(ProcessManagerHealth.Of(s, age, options));
        }
        var worst = found.Count == 0 ? HealthStatus.Healthy : found.Min(h => h.Status);
        var reasons = string.Join("; ", found.Where(h => h.Reason is not null).Select(h => h.Reason));
        var description = reasons.Length > 0 ? reasons : $"{names.Length} process manager(s) up to date";
        return new HealthCheckResult(worst == HealthStatus.Unhealthy ? failure : worst, description, data: data);
    }

    /// <summary>The configured <paramref name="name"/> as checked: a partitioned process manager's name stands for each
    /// of its partitions (<c>name#i/N</c>), each checked on its own; any other name as it is.</summary>
    private static IEnumerable<string> Expand(string name, IReadOnlyList<string> all)
    {
        if (all.Contains(name)) return [name];
        var partitions = all.Where(a => global::Fable.FSharp.Partitioning.tryParse(name, a) is not null).ToArray();
        return partitions.Length > 0 ? partitions : [name];
    }

    /// <summary>How long the first event after the checkpoint has waited; null when none waits, or when the events
    /// counted in the lag are still behind the follower horizon (an older transaction is open) or cannot be read.</summary>
    private async Task<TimeSpan?> OldestWait(FableApp app, ProcessManagerStatus s, CancellationToken ct)
    {
        if (s.Lag == 0 || options.DegradedAge is null) return null;
        var next = await app.ReadAll(s.Position, 1, ct).ToEither().ConfigureAwait(false);
        // (Not Match: LanguageExt refuses a null result, and "no age" is null here.)
        return next.Case is IReadOnlyList<RecordedEvent> { Count: > 0 } es ? clock.GetUtcNow() - es[0].InsertedAt : null;
    }
}
