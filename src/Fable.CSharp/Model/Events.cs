// Small helpers for decisions: the events to record, as a LanguageExt result that composes with Bind.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Builds decision results.</summary>
public static class Events
{
    /// <summary>Record <paramref name="events"/>, in order.</summary>
    public static Either<Error, IEnumerable<object>> Of(params object[] events) => events;

    /// <summary>Record <paramref name="events"/>, in order.</summary>
    public static Either<Error, IEnumerable<object>> Of(IEnumerable<object> events) => Prelude.Right<Error, IEnumerable<object>>(events.ToArray());

    /// <summary>Record nothing (the aggregate is left as it is).</summary>
    public static Either<Error, IEnumerable<object>> None => Array.Empty<object>();

    /// <summary>Refuse with the caller's own <paramref name="error"/>; the emit returns exactly this error.</summary>
    public static Either<Error, IEnumerable<object>> Reject(Error error) => error;
}
