// The health rule of one process manager, from its status: Unhealthy when stopped with an error, Degraded past the
// lag or age threshold, Healthy otherwise.
using Fable.CSharp;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Fable.Extensions.Hosting;

/// <summary>One process manager's health and why.</summary>
internal sealed record ProcessManagerHealth(string Name, HealthStatus Status, string? Reason)
{
    /// <summary>Classifies <paramref name="s"/>; <paramref name="age"/> is how long its oldest unhandled event waits.</summary>
    public static ProcessManagerHealth Of(ProcessManagerStatus s, TimeSpan? age, FableHealthOptions o)
    {
        if (!s.Active && s.LastError is not null)
            return new(s.Name, HealthStatus.Unhealthy, $"{s.Name} stopped after {s.Attempts} failed attempt(s): {s.LastError}");
        if (o.DegradedLag is { } lag && s.Lag > lag)
            return new(s.Name, HealthStatus.Degraded, $"{s.Name} is {s.Lag} events behind (threshold {lag})");
        if (o.DegradedAge is { } most && age > most)
            return new(s.Name, HealthStatus.Degraded, $"{s.Name}'s oldest unhandled event waits for {age.Value.TotalSeconds:0.#} s (threshold {most.TotalSeconds:0.#} s)");
        if (s.Attempts > 0)
            return new(s.Name, HealthStatus.Healthy, $"{s.Name} is retrying (attempt {s.Attempts}): {s.LastError}");
        return new(s.Name, HealthStatus.Healthy, null);
    }
}
