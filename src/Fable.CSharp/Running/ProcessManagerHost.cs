// Runtime control of an app's process managers: catch up, status, enable/disable/reset/rebuild, start/stop.
using Fable.FSharp;
using System.Text.Json;
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>The stored state of one process manager.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Position">The last position handled.</param>
/// <param name="Lag">Committed events after <paramref name="Position"/>.</param>
/// <param name="Active">False when disabled (by the Stop policy or by hand).</param>
/// <param name="LastError">The last failure, if any.</param>
/// <param name="Attempts">Failures of the current event so far.</param>
/// <param name="Holder">The runner that holds it now, if any.</param>
/// <param name="StateJson">Its state as JSON.</param>
public sealed record ProcessManagerStatus(string Name, Position Position, long Lag, bool Active, string? LastError, int Attempts,
                                          string? Holder, string StateJson);

/// <summary>How far a <see cref="ProcessManagerHost.CatchUp(IProgress{ProcessManagerProgress}, TimeSpan?, CancellationToken)"/>
/// or <see cref="ProcessManagerHost.Rebuild(string, IProgress{ProcessManagerProgress}, TimeSpan?, CancellationToken)"/> is.</summary>
/// <param name="Name">The process manager.</param>
/// <param name="Position">Its checkpoint now.</param>
/// <param name="Handled">Events handled since the call began (by how much its lag shrank from the largest seen).</param>
/// <param name="Remaining">Committed events still after its checkpoint (its lag now).</param>
public sealed record ProcessManagerProgress(string Name, Position Position, long Handled, long Remaining);

/// <summary>Runs an app's process managers and controls them at runtime.</summary>
public sealed class ProcessManagerHost
{
    private readonly IProcessManagerHost host;
    private readonly JsonSerializerOptions json;

    internal ProcessManagerHost(IProcessManagerHost host, JsonSerializerOptions json, IReadOnlyList<string> names)
    {
        this.host = host;
        this.json = json;
        Names = names;
    }

    /// <summary>The names of the app's process managers, in registration order.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Starts background runners for every registered process manager (idempotent).</summary>
    public EitherAsync<Error, Unit> Start(CancellationToken ct = default) => InterpreterCalls.Start(host, ct).ToAsync();

    /// <summary>Stops the runners; a batch in flight commits whole or not at all. Cancelling <paramref name="ct"/> stops
    /// the wait (a <see cref="FableErrors.Cancelled"/>), not the stopping.</summary>
    public EitherAsync<Error, Unit> Stop(CancellationToken ct = default) => InterpreterCalls.Stop(host, ct).ToAsync();

    /// <summary>The stored status of every process manager of the app, in registration order.</summary>
    public EitherAsync<Error, IReadOnlyList<ProcessManagerStatus>> List(CancellationToken ct = default) =>
        Names.Aggregate(EitherAsync<Error, IReadOnlyList<ProcessManagerStatus>>.Right(Array.Empty<ProcessManagerStatus>()),
                        (acc, name) => acc.Bind(list => Status(name, ct).Map(s => (IReadOnlyList<ProcessManagerStatus>)[.. list, s])));

    /// <summary>Completes once every active process manager has handled every event committed before the call
    /// (in memory and without started runners: deterministically, on this call).</summary>
    public EitherAsync<Error, Unit> CatchUp(CancellationToken ct = default) => InterpreterCalls.CatchUp(host, ct).ToAsync();

    /// <summary>As <see cref="CatchUp(CancellationToken)"/>, reporting each active process manager's progress every
    /// <paramref name="every"/> (default 500 ms) and once more at the end.</summary>
    public EitherAsync<Error, Unit> CatchUp(IProgress<ProcessManagerProgress> progress, TimeSpan? every = null, CancellationToken ct = default) =>
        ProgressPoller.While(Names, n => Status(n, ct), progress, every, () => InterpreterCalls.CatchUp(host, ct), ct).ToAsync();

    /// <summary>Every process manager stored in the store (PostgreSQL: the process-manager table of the app's schema;
    /// in memory: the engine's), registered by this app or not, by name. It only reads: nothing is run or locked. The
    /// state of one this app does not register is the stored JSON as is. To read a schema without an app, see
    /// <see cref="FableStatus.ListStored"/>.</summary>
    public EitherAsync<Error, IReadOnlyList<ProcessManagerStatus>> ListStored(CancellationToken ct = default) =>
        InterpreterCalls.ListStored(host, ct).ToAsync();

    /// <summary>The stored status of process manager <paramref name="name"/>.</summary>
    public EitherAsync<Error, ProcessManagerStatus> Status(string name, CancellationToken ct = default) =>
        InterpreterCalls.Status(host, name, ct).ToAsync();

    /// <summary>The stored state of <paramref name="processManager"/>.</summary>
    public EitherAsync<Error, TState> State<TState>(ProcessManager<TState> processManager, CancellationToken ct = default) =>
        Status(processManager.Name, ct).Bind(s =>
        {
            try
            {
                return EitherAsync<Error, TState>.Right(JsonSerializer.Deserialize<TState>(s.StateJson, json)!);
            }
            catch (JsonException ex)
            {
                return EitherAsync<Error, TState>.Left(new FableErrors.UndecodablePayload(processManager.Name, 0, ex.Message));
            }
        });

    /// <summary>Enables process manager <paramref name="name"/> (clears its error and attempts).</summary>
    public EitherAsync<Error, Unit> Enable(string name, CancellationToken ct = default) => InterpreterCalls.Enable(host, name, ct).ToAsync();

    /// <summary>Disables process manager <paramref name="name"/>; its runner stops after the current batch.</summary>
    public EitherAsync<Error, Unit> Disable(string name, CancellationToken ct = default) => InterpreterCalls.Disable(host, name, ct).ToAsync();

    /// <summary>Moves <paramref name="name"/>'s checkpoint to <paramref name="start"/> and resets its state to the initial one.</summary>
    public EitherAsync<Error, Unit> Reset(string name, StartPosition start, CancellationToken ct = default) =>
        InterpreterCalls.Reset(host, name, start, ct).ToAsync();

    /// <summary>Resets <paramref name="name"/> to the origin with the initial state; it handles the whole log again.</summary>
    public EitherAsync<Error, Unit> Rebuild(string name, CancellationToken ct = default) => InterpreterCalls.Rebuild(host, name, ct).ToAsync();

    /// <summary>As <see cref="Rebuild(string, CancellationToken)"/>, reporting its progress every <paramref name="every"/>
    /// (default 500 ms) and once more at the end, so a long rebuild shows how far it is.</summary>
    public EitherAsync<Error, Unit> Rebuild(string name, IProgress<ProcessManagerProgress> progress, TimeSpan? every = null, CancellationToken ct = default) =>
        // The reset first (Rebuild resets again, activates and catches up), so the first report shows the whole log to go.
        ProgressPoller.While([name], n => Status(n, ct), progress, every, () => InterpreterCalls.Rebuild(host, name, ct), ct,
                             () => InterpreterCalls.Reset(host, name, StartPosition.Origin, ct)).ToAsync();
}
