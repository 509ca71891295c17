// The one exception Fable's hosting throws: the app could not be built or started; its message lists every problem.
using LanguageExt.Common;
using Fable.CSharp;

namespace Fable.Extensions.Hosting;

/// <summary>Fable could not start in the host (a definition problem, a migration, an aggregate table that does not
/// fit, an unreachable database). <see cref="Exception.Message"/> lists every problem, one a line.</summary>
public sealed class FableStartException : Exception
{
    internal FableStartException(IReadOnlyList<string> problems, Error? error)
        : base("Fable could not start; fix these and start again:" + string.Concat(problems.Select(p => "\n  - " + p)))
    {
        Problems = problems;
        Error = error;
    }

    /// <summary>Every problem found, in order.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>The builder's error (an <see cref="FableErrors.InvalidDefinition"/> or the single typed error), when
    /// the builder returned one; null when only the hosting's own configuration was wrong.</summary>
    public Error? Error { get; }

    /// <summary>The problems an error stands for: an InvalidDefinition's list, else its message with its code.</summary>
    internal static IEnumerable<string> ProblemsOf(Error error) =>
        error is FableErrors.InvalidDefinition d ? d.Problems : [$"{error.Message} (code {error.Code})"];
}
