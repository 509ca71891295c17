// /health as JSON: the overall status and each check's status, description and data (position, lag, attempts, error).
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TripsWeb;

internal static class HealthJson
{
    public static Task Write(HttpContext context, HealthReport report) =>
        context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        });
}
