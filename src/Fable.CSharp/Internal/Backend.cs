// What an interpreter choice produces: the core interpreter, its process-manager host, its name and, on
// PostgreSQL, the store (for emits inside the caller's transaction).
using Fable.FSharp;

namespace Fable.CSharp;

/// <summary>One running interpreter behind a <see cref="FableApp"/>.</summary>
internal sealed class Backend(string name, IInterpreter interpreter, IProcessManagerHost host, object? store, IReadOnlyList<string>? warnings = null)
{
    public string Name { get; } = name;
    public IInterpreter Interpreter { get; } = interpreter;
    public IProcessManagerHost Host { get; } = host;
    /// <summary>The PostgresStore on PostgreSQL; null in memory.</summary>
    public object? Store { get; } = store;
    /// <summary>What Build found that does not stop the app (on PostgreSQL: a table in Fable's own schema).</summary>
    public IReadOnlyList<string> Warnings { get; } = warnings ?? [];
}
