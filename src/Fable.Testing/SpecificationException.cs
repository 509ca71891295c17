// The one exception the kit throws: a specification that does not hold, with the step, what was expected, what
// happened and what to do. Any test framework reports it as a failure (the kit depends on none).
namespace Fable.Testing;

/// <summary>A specification did not hold. <see cref="Exception.Message"/> says which step failed, what was expected,
/// what happened instead and what to check; the parts are also properties.</summary>
public sealed class SpecificationException : Exception
{
    /// <summary>A failure of <paramref name="step"/> (e.g. "Then", "ThenRows(ledger)").</summary>
    public SpecificationException(string subject, string step, string expected, string actual, string hint, Exception? inner = null)
        : base(Text(subject, step, expected, actual, hint), inner)
    {
        Subject = subject;
        Step = step;
        Expected = expected;
        Actual = actual;
        Hint = hint;
    }

    /// <summary>What was specified: the aggregate table, the app or the process manager.</summary>
    public string Subject { get; }
    /// <summary>The step that failed: Given, When, Then, ThenFails, ThenState, ThenRows(table), ...</summary>
    public string Step { get; }
    /// <summary>What the specification expected.</summary>
    public string Expected { get; }
    /// <summary>What happened instead.</summary>
    public string Actual { get; }
    /// <summary>What to check or do.</summary>
    public string Hint { get; }

    static string Text(string subject, string step, string expected, string actual, string hint) =>
        $"""
        Specification of {subject} failed at {step}.
          expected: {expected}
          actual:   {actual}
          what to do: {hint}
        """;
}
