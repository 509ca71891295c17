// Small helpers for decisions: the events to record (with metadata when wanted), as a LanguageExt result that
// composes with Bind.
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

    /// <summary>
    /// <paramref name="evt"/> to be recorded with <paramref name="meta"/> (the text of a JSON object) as its
    /// metadata: list it in a decision in place of the event. Evolve and handlers see the event itself; the recorded
    /// event's <c>Meta</c> holds the metadata. Metadata that is not a JSON object fails the emit with
    /// <c>fable.undecodable_payload</c>.
    /// </summary>
    public static object WithMeta(object evt, string meta) => Fable.FSharp.Meta.attach(meta, evt);

    /// <summary>
    /// <paramref name="evt"/> to be recorded with the JSON object of <paramref name="meta"/> as its metadata (values
    /// written by System.Text.Json); see <see cref="WithMeta(object, string)"/>.
    /// </summary>
    public static object WithMeta(object evt, IReadOnlyDictionary<string, object?> meta) =>
        Fable.FSharp.Meta.attachPairs(meta.Select(kv => Tuple.Create(kv.Key, kv.Value!)), evt);
}
