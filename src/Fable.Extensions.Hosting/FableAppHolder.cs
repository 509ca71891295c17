// Builds the app once per container (the hosted service at start, or the first resolution of FableApp, whichever comes
// first), runs the AddFable configuration with the container at hand, and disposes what it owns.
using Fable.CSharp;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fable.Extensions.Hosting;

/// <summary>The app of one container, built once.</summary>
internal sealed class FableAppHolder(IServiceProvider services, IOptions<FableOptions> options, Action<FableBuilder> configure) : IAsyncDisposable, IDisposable
{
    private readonly Lock gate = new();
    private Task<FableApp>? building;
    private NpgsqlDataSource? owned;

    /// <summary>The options in effect.</summary>
    public FableOptions Options => options.Value;

    /// <summary>The data source Fable made from a connection string (<see cref="OwnedDataSource"/>); null when it uses the
    /// container's or none.</summary>
    internal NpgsqlDataSource? Owned => owned;

    /// <summary>The app once built; null before (or when building failed).</summary>
    public FableApp? Current => building is { IsCompletedSuccessfully: true } b ? b.Result : null;

    /// <summary>Builds the app (migrating on PostgreSQL) or returns the one built; a failed or cancelled build is tried
    /// again on the next call. Throws <see cref="FableStartException"/> listing every problem.</summary>
    public Task<FableApp> Build(CancellationToken ct)
    {
        lock (gate)
        {
            if (building is null || building.IsFaulted || building.IsCanceled) building = BuildOnce(ct);
            return building;
        }
    }

    private async Task<FableApp> BuildOnce(CancellationToken ct)
    {
        var o = options.Value;
        var builder = FableBuilder.Create();
        HostingLogging.Apply(builder, services.GetService<ILoggerFactory>());
        var context = new HostingContext(o, DataSource);
        var problems = new List<string>();
        try
        {
            HostingContext.Run(context, () => configure(builder));
        }
        catch (Exception e)
        {
            problems.Add($"the AddFable configuration threw {e.GetType().Name}: {e.Message}");
        }
        problems.AddRange(context.Problems);
        var built = await builder.Build(ct).ToEither().ConfigureAwait(false);
        if (built.IsLeft)
        {
            var error = (LanguageExt.Common.Error)built;
            throw new FableStartException([.. problems, .. FableStartException.ProblemsOf(error)], error);
        }
        var app = (FableApp)built;
        if (problems.Count == 0) return app;
        await app.DisposeAsync().ConfigureAwait(false);
        throw new FableStartException(problems, null);
    }

    /// <summary>The container's NpgsqlDataSource, else one made from <paramref name="connectionString"/> or the
    /// options' (owned and disposed here, preparing statements automatically: <see cref="OwnedDataSource"/>); null when
    /// there is neither.</summary>
    private NpgsqlDataSource? DataSource(string? connectionString)
    {
        if (connectionString is null && services.GetService<NpgsqlDataSource>() is { } shared) return shared;
        var text = connectionString ?? options.Value.ConnectionString;
        if (string.IsNullOrWhiteSpace(text)) return null;
        lock (gate) return owned ??= OwnedDataSource.Create(text);
    }

    /// <summary>As <see cref="DisposeAsync"/>, blocking (a container disposed synchronously).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops the runners and disposes the data source Fable made itself.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Current is { } app) await app.DisposeAsync().ConfigureAwait(false);
        if (owned is not null) await owned.DisposeAsync().ConfigureAwait(false);
    }
}
