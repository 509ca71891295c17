// The host's side of Fable: build and migrate at start (failing start with every problem listed), start the
// process-manager runners, and stop them within the host's shutdown timeout.
using Fable.CSharp;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fable.Extensions.Hosting;

/// <summary>Builds the app when the host starts and runs its process managers until the host stops.</summary>
internal sealed class FableHostedService(FableAppHolder holder, ILogger<FableHostedService>? logger = null) : IHostedService
{
    private readonly ILogger log = logger ?? NullLogger<FableHostedService>.Instance;

    /// <summary>Builds and migrates (throwing <see cref="FableStartException"/> listing every problem, which fails the
    /// host's start), then starts the runners unless <see cref="FableOptions.RunProcessManagers"/> is off.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var app = await holder.Build(cancellationToken).ConfigureAwait(false);
        if (!holder.Options.RunProcessManagers || app.ProcessManagers.Names.Count == 0) return;
        var started = await app.ProcessManagers.Start(cancellationToken).ToEither().ConfigureAwait(false);
        started.IfLeft(e => throw new FableStartException([.. FableStartException.ProblemsOf(e)], e));
        log.LogInformation("Fable started {Count} process-manager runners on the {Interpreter} interpreter",
                           app.ProcessManagers.Names.Count, app.Interpreter);
    }

    /// <summary>Stops the runners: a batch in flight commits whole or not at all. When the host's shutdown timeout
    /// cancels <paramref name="cancellationToken"/>, the host stops waiting (the runners still stop; nothing is half
    /// committed, and the next start carries on from the last committed checkpoint).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (holder.Current is not { } app) return;
        var stopped = await app.ProcessManagers.Stop(cancellationToken).ToEither().ConfigureAwait(false);
        stopped.IfLeft(e => log.LogWarning("Fable's process-manager runners did not stop within the host's shutdown timeout ({Error}); " +
                                           "a batch in flight commits whole or rolls back", e.Message));
    }
}
