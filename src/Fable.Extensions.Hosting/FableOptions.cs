// The settings a host gives Fable through IOptions<FableOptions> (bound from configuration, section "Fable").
namespace Fable.Extensions.Hosting;

/// <summary>How <c>services.AddFable(...)</c> sets Fable up. Bind it from configuration (<c>"Fable"</c> section) or
/// configure it in code; every property maps to an argument of <c>FableBuilder.UsePostgres</c> or
/// <c>UseInMemory</c>. A process manager's batch size is part of its definition (<c>WithBatchSize</c>).</summary>
public sealed class FableOptions
{
    /// <summary>The configuration section <c>AddFable(configuration, ...)</c> reads by default.</summary>
    public const string Section = "Fable";

    /// <summary>Fable's own schema on PostgreSQL (events, process managers); created when missing. Default <c>fable</c>.</summary>
    public string Schema { get; set; } = "fable";

    /// <summary>Whether emits wake process-manager runners with NOTIFY (they also poll). Default true.</summary>
    public bool Notify { get; set; } = true;

    /// <summary>This process's name as a process-manager runner (default: machine, process id and a random suffix).</summary>
    public string? RunnerId { get; set; }

    /// <summary>How long a runner waits without a notification before reading again (default 1 s).</summary>
    public TimeSpan? PollInterval { get; set; }

    /// <summary>In memory: how long a unit of work waits for a locked aggregate before a retryable conflict (default 10 s).</summary>
    public TimeSpan? LockTimeout { get; set; }

    /// <summary>The PostgreSQL connection string <c>UsePostgres()</c> uses when the container has no
    /// <c>NpgsqlDataSource</c> (Fable then owns the data source it creates and disposes it).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The test switch: <c>UsePostgres()</c> runs on the in-memory interpreter instead (same semantics).</summary>
    public bool InMemory { get; set; }

    /// <summary>Whether the hosted service starts the process-manager runners (default true). Turn it off in a process
    /// that only serves requests while another one runs the process managers.</summary>
    public bool RunProcessManagers { get; set; } = true;
}
