// When a process manager counts as degraded: too many events behind, or its oldest unhandled event too old.
namespace Fable.Extensions.Hosting;

/// <summary>Thresholds of Fable's health check (named options: the check's registration name).</summary>
public sealed class FableHealthOptions
{
    /// <summary>Degraded when more committed events than this wait after a process manager's checkpoint (default 1,000;
    /// null: no lag threshold).</summary>
    public long? DegradedLag { get; set; } = 1_000;

    /// <summary>Degraded when the oldest event a process manager has not handled was recorded longer ago than this
    /// (default 1 minute; null: no age threshold).</summary>
    public TimeSpan? DegradedAge { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The process managers checked (empty: every one the app registers).</summary>
    public IList<string> ProcessManagers { get; } = new List<string>();
}
