// A primary with a synchronous hot standby for one test class, run by scripts/pg-replicated.sh; the connection string
// names both hosts with Target Session Attributes=primary, so connections find whichever server is the primary.
using System.Diagnostics;
using Npgsql;

namespace FailoverTests;

/// <summary>A throwaway replicated pair; <see cref="Failover"/> stops the primary and promotes the standby.</summary>
public sealed class Replicated : IAsyncDisposable
{
    private readonly string dir;

    private Replicated(string dir, int primaryPort, int standbyPort)
    {
        this.dir = dir;
        PrimaryPort = primaryPort;
        StandbyPort = standbyPort;
    }

    public int PrimaryPort { get; }
    public int StandbyPort { get; }

    /// <summary>Both servers, the primary first, as the application's connection string would name them.</summary>
    public string ConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = $"127.0.0.1:{PrimaryPort},127.0.0.1:{StandbyPort}",
        Username = "fable_app",
        Database = "fable_app",
        TargetSessionAttributes = "primary",
        Timeout = 3,
        CommandTimeout = 10,
        MaxPoolSize = 50,
    }.ConnectionString;

    /// <summary>The standby alone (read-only until promoted).</summary>
    public string StandbyConnectionString => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1", Port = StandbyPort, Username = "fable_app", Database = "fable_app", Pooling = false,
    }.ConnectionString;

    public static bool ServerBinariesPresent =>
        Directory.Exists("/usr/lib/postgresql") && Directory.GetDirectories("/usr/lib/postgresql")
            .Any(d => File.Exists(Path.Combine(d, "bin", "initdb")));

    public static async Task<Replicated> Start()
    {
        var dir = Directory.CreateTempSubdirectory("fable-failover.").FullName;
        var output = await Script("start", dir);
        var ports = output.Trim().Split(' ');
        return new Replicated(dir, int.Parse(ports[0]), int.Parse(ports[1]));
    }

    /// <summary>Stops the primary at once (no shutdown checkpoint, connections cut) and promotes the standby.</summary>
    public Task Failover() => Script("failover", dir);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await Script("stop", dir);
    }

    private static async Task<string> Script(string command, string dir)
    {
        var script = Path.Combine(RepositoryRoot(), "scripts", "pg-replicated.sh");
        var info = new ProcessStartInfo("bash", [script, command, dir])
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg-replicated.sh {command} failed ({process.ExitCode}): {await stderr}");
        return await stdout;
    }

    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fable.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (with Fable.sln) was not found above the test binaries");
    }
}
