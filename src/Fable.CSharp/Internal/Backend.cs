// What an interpreter choice produces: the core interpreter, its process-manager host and its name.
namespace Fable.CSharp;

/// <summary>One running interpreter behind a <see cref="FableApp"/>.</summary>
internal sealed class Backend(string name, IInterpreter interpreter, IProcessManagerHost host)
{
    public string Name { get; } = name;
    public IInterpreter Interpreter { get; } = interpreter;
    public IProcessManagerHost Host { get; } = host;
}
