// Every error Fable returns, as LanguageExt errors: one Expected subtype per case with its stable code,
// and Infrastructure as an Exceptional. Match on the type or on Code, never on Message.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>The errors Fable returns and their stable codes. A decision's own rejection is not listed here:
/// it comes back to the caller as the caller's own <see cref="Error"/>.</summary>
public static class FableErrors
{
    /// <summary>Code of <see cref="Rejected"/>.</summary>
    public const int RejectedCode = 7001;
    /// <summary>Code of <see cref="Conflict"/>.</summary>
    public const int ConflictCode = 7002;
    /// <summary>Code of <see cref="NotFound"/>.</summary>
    public const int NotFoundCode = 7003;
    /// <summary>Code of <see cref="UnknownEventType"/>.</summary>
    public const int UnknownEventTypeCode = 7004;
    /// <summary>Code of <see cref="UndecodablePayload"/>.</summary>
    public const int UndecodablePayloadCode = 7005;
    /// <summary>Code of <see cref="HandlerFailed"/>.</summary>
    public const int HandlerFailedCode = 7006;
    /// <summary>Code of <see cref="NoRoute"/>.</summary>
    public const int NoRouteCode = 7007;
    /// <summary>Code of <see cref="DuplicateRoute"/>.</summary>
    public const int DuplicateRouteCode = 7008;
    /// <summary>Code of <see cref="InvalidDefinition"/>.</summary>
    public const int InvalidDefinitionCode = 7009;
    /// <summary>Code of <see cref="Infrastructure"/>.</summary>
    public const int InfrastructureCode = 7010;
    /// <summary>Code of <see cref="Cancelled"/>.</summary>
    public const int CancelledCode = 7011;
    /// <summary>Code of <see cref="Unstorable"/>.</summary>
    public const int UnstorableCode = 7012;
    /// <summary>Code of <see cref="Thrown"/>.</summary>
    public const int ThrownCode = 7013;

    /// <summary>A refusal whose reason is not a LanguageExt <see cref="Error"/> (from F# code).</summary>
    public sealed record Rejected : LanguageExt.Common.Expected
    {
        /// <summary>A refusal for <paramref name="reason"/>.</summary>
        public Rejected(object reason, string message) : base(message, RejectedCode, Option<Error>.None) => Reason = reason;
        /// <summary>The refusing code's own reason value.</summary>
        public object Reason { get; }
    }

    /// <summary>The aggregate was not at the expected version (a stale snapshot, a guard mismatch, a serialization
    /// failure or a deadlock).</summary>
    public sealed record Conflict : LanguageExt.Common.Expected
    {
        /// <summary>A conflict on <paramref name="table"/>/<paramref name="key"/>.</summary>
        internal Conflict(string? table, object? key, long? expectedEventId, long? actualEventId, bool retryable, string message)
            : base(message, ConflictCode, Option<Error>.None)
        {
            Table = table;
            Key = key;
            ExpectedEventId = expectedEventId;
            ActualEventId = actualEventId;
            Retryable = retryable;
        }
        /// <summary>The aggregate table, when known.</summary>
        public string? Table { get; }
        /// <summary>The aggregate key (Guid, long or string), when known.</summary>
        public object? Key { get; }
        /// <summary>The last event id the caller expected (null: no event).</summary>
        public long? ExpectedEventId { get; }
        /// <summary>The last event id found (null: no event).</summary>
        public long? ActualEventId { get; }
        /// <summary>Whether running the same command again may succeed.</summary>
        public bool Retryable { get; }
    }

    /// <summary>The aggregate does not exist where it must.</summary>
    public sealed record NotFound : LanguageExt.Common.Expected
    {
        /// <summary>Aggregate <paramref name="key"/> of <paramref name="table"/> is missing.</summary>
        internal NotFound(string table, object key) : base($"aggregate {table}/{key} does not exist", NotFoundCode, Option<Error>.None)
        {
            Table = table;
            Key = key;
        }
        /// <summary>The aggregate table.</summary>
        public string Table { get; }
        /// <summary>The aggregate key (Guid, long or string).</summary>
        public object Key { get; }
    }

    /// <summary>An event's type (a recorded name/version, or an emitted CLR type) is not registered.</summary>
    public sealed record UnknownEventType : LanguageExt.Common.Expected
    {
        /// <summary>Type <paramref name="typeName"/> at <paramref name="version"/> (0 for an unregistered CLR type).</summary>
        public UnknownEventType(string typeName, int version)
            : base(version <= 0
                       ? $"event type {typeName} is not registered with this app, so nothing was recorded: register it with FableBuilder.Event<{typeName}>(\"stable-name\") before Build"
                       : $"event type {typeName} v{version} is not registered with this app (recorded by another version of it?): register that name with FableBuilder.Event<T>(\"{typeName}\", {version}), or a later version with an upcaster from v{version}",
                   UnknownEventTypeCode, Option<Error>.None)
        {
            TypeName = typeName;
            Version = version;
        }
        /// <summary>The stable name, or the CLR name of an unregistered type.</summary>
        public string TypeName { get; }
        /// <summary>The stored version (0 for an unregistered CLR type).</summary>
        public int Version { get; }
    }

    /// <summary>A key, row value or table value PostgreSQL cannot store (a NUL character or a lone surrogate in a string,
    /// or a .NET value the declared column does not take); refused before anything was sent, alike in memory.</summary>
    public sealed record Unstorable : LanguageExt.Common.Expected
    {
        /// <summary>The value at <paramref name="where"/> cannot be stored because of <paramref name="reason"/>.</summary>
        public Unstorable(string where, string reason)
            : base($"{where} cannot be stored: {reason}; nothing was written", UnstorableCode, Option<Error>.None)
        {
            Where = where;
            Reason = reason;
        }
        /// <summary>Where the value was going (a key, a column of a table).</summary>
        public string Where { get; }
        /// <summary>Why it cannot be stored.</summary>
        public string Reason { get; }
    }

    /// <summary>A payload could not be encoded or decoded.</summary>
    public sealed record UndecodablePayload : LanguageExt.Common.Expected
    {
        /// <summary>The payload of <paramref name="typeName"/> v<paramref name="version"/> failed for <paramref name="reason"/>.</summary>
        public UndecodablePayload(string typeName, int version, string reason)
            : base($"payload of {typeName} v{version} cannot be read: {reason}", UndecodablePayloadCode, Option<Error>.None)
        {
            TypeName = typeName;
            Version = version;
            Reason = reason;
        }
        /// <summary>The stable type name.</summary>
        public string TypeName { get; }
        /// <summary>The payload version.</summary>
        public int Version { get; }
        /// <summary>Why it failed (for logs).</summary>
        public string Reason { get; }
    }

    /// <summary>A handler (or evolve, or the decision) returned an error or threw. <c>Inner</c> holds the handler's
    /// own error, or an Exceptional with the exception.</summary>
    public sealed record HandlerFailed : LanguageExt.Common.Expected
    {
        /// <summary>Handler <paramref name="handler"/> failed on <paramref name="eventType"/>.</summary>
        public HandlerFailed(string eventType, string handler, string message, Option<Error> inner)
            : base(Text(eventType, handler, message), HandlerFailedCode, inner)
        {
            EventType = eventType;
            Handler = handler;
        }
        // What happened, where and what to do; a message that already names this handler is not prefixed again.
        private static string Text(string eventType, string handler, string message)
        {
            var prefix = $"handler {handler} for {eventType} failed: ";
            while (message?.StartsWith(prefix, StringComparison.Ordinal) == true) message = message[prefix.Length..];
            return handler == "decide" && eventType == "decide"
                ? $"the decision threw, so nothing was recorded: {message}. Return a Left (Events.Reject) to refuse; fix the decision if it was not meant to throw"
                : prefix + message;
        }

        /// <summary>The stable name of the event type ("decide" when the decision threw).</summary>
        public string EventType { get; }
        /// <summary>The handler's registered name ("evolve" or "decide" for those steps).</summary>
        public string Handler { get; }
    }

    /// <summary>An emitted event's type has no route.</summary>
    public sealed record NoRoute : LanguageExt.Common.Expected
    {
        /// <summary>No route for <paramref name="eventType"/>.</summary>
        public NoRoute(string eventType) : base($"no route for event type {eventType}", NoRouteCode, Option<Error>.None) =>
            EventType = eventType;
        /// <summary>The stable name of the event type.</summary>
        public string EventType { get; }
    }

    /// <summary>The same handler name is registered twice for one event type.</summary>
    public sealed record DuplicateRoute : LanguageExt.Common.Expected
    {
        /// <summary>Handler <paramref name="handler"/> is registered twice for <paramref name="eventType"/>.</summary>
        public DuplicateRoute(string eventType, string handler)
            : base($"handler {handler} is registered twice for {eventType}", DuplicateRouteCode, Option<Error>.None)
        {
            EventType = eventType;
            Handler = handler;
        }
        /// <summary>The event type's name.</summary>
        public string EventType { get; }
        /// <summary>The handler name.</summary>
        public string Handler { get; }
    }

    /// <summary>A registration or argument is invalid; every problem found is listed.</summary>
    public sealed record InvalidDefinition : LanguageExt.Common.Expected
    {
        /// <summary>The <paramref name="problems"/> found, in order.</summary>
        public InvalidDefinition(IReadOnlyList<string> problems)
            : base("invalid definition: " + string.Join("; ", problems), InvalidDefinitionCode, Option<Error>.None) =>
            Problems = problems;
        /// <summary>Each problem as a sentence (for people; match on the type, not these texts).</summary>
        public IReadOnlyList<string> Problems { get; }
    }

    /// <summary>The database or another dependency failed.</summary>
    public sealed record Infrastructure : Exceptional
    {
        /// <summary>A failure described by <paramref name="message"/>, caused by <paramref name="cause"/> when known.</summary>
        public Infrastructure(string message, Exception? cause) : base(message, InfrastructureCode) => Cause = cause;
        /// <summary>The exception behind the failure, when there is one.</summary>
        public Exception? Cause { get; }
        /// <summary>The underlying exception when there is one.</summary>
        public override Exception ToException() => Cause ?? base.ToException();
    }

    /// <summary>Your code threw (a handler, a process-manager handler, the work of a unit of work): an Exceptional
    /// with the stable code 7013 holding the exception (its HResult is not the code).</summary>
    public sealed record Thrown : Exceptional
    {
        /// <summary><paramref name="where"/> threw <paramref name="exception"/>.</summary>
        public Thrown(string where, Exception exception)
            : base($"{where} threw {exception.GetType().Name}: {exception.Message}", ThrownCode) =>
            Cause = exception;
        /// <summary>The exception your code threw.</summary>
        public Exception Cause { get; }
        /// <summary>The exception your code threw.</summary>
        public override Exception ToException() => Cause;
    }

    /// <summary>The operation was cancelled; nothing of it was committed.</summary>
    public sealed record Cancelled : LanguageExt.Common.Expected
    {
        /// <summary>The cancellation error.</summary>
        public Cancelled() : base("the operation was cancelled", CancelledCode, Option<Error>.None) { }
    }
}
