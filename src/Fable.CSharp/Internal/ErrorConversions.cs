// Errors between the F# core and C#: FableError <-> the FableErrors records, and a C# error carried through the
// core as an exception.
using Fable.FSharp;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace Fable.CSharp;

/// <summary>Carries a C# error through the F# core (as a HandlerFailed's inner exception) and back.</summary>
internal sealed class CarriedError(Error error) : Exception(error.Message)
{
    public Error Error { get; } = error;
}

internal static class ErrorConversions
{
    public static Error ToError(FableError e) => e switch
    {
        FableError.Rejected r => r.reason as Error ?? new FableErrors.Rejected(r.reason, r.message),
        FableError.Conflict c => new FableErrors.Conflict(c.aggregate?.Value.Table, c.aggregate?.Value.Key.Value,
                                                          Conversions.Opt(c.expected), Conversions.Opt(c.actual), c.retryable, c.message),
        FableError.NotFound n => new FableErrors.NotFound(n.aggregate.Table, n.aggregate.Key.Value),
        FableError.UnknownEventType u => new FableErrors.UnknownEventType(u.typeName, u.version),
        FableError.UndecodablePayload p => new FableErrors.UndecodablePayload(p.typeName, p.version, p.reason),
        FableError.Unstorable u => new FableErrors.Unstorable(u.where, u.reason),
        FableError.HandlerFailed h => new FableErrors.HandlerFailed(h.eventType, h.handler, h.message,
            h.inner?.Value switch
            {
                null => Option<Error>.None,
                CarriedError c => c.Error,
                var ex => new FableErrors.Thrown($"handler {h.handler} for {h.eventType}", ex),
            }),
        FableError.NoRoute n => new FableErrors.NoRoute(n.eventType),
        FableError.DuplicateRoute d => new FableErrors.DuplicateRoute(d.eventType, d.handler),
        FableError.InvalidDefinition d => new FableErrors.InvalidDefinition(d.problems.ToArray()),
        FableError.Infrastructure i => new FableErrors.Infrastructure(i.message, i.inner?.Value),
        _ when e.IsCancelled => new FableErrors.Cancelled(),
        _ => new FableErrors.Infrastructure(e.Message, null),
    };

    public static FableError ToFable(Error e) => e switch
    {
        FableErrors.Rejected r => FableError.NewRejected(r.Reason, r.Message),
        FableErrors.Conflict c => FableError.NewConflict(Conversions.AggregateOf(c.Table, c.Key), Conversions.Opt(c.ExpectedEventId), Conversions.Opt(c.ActualEventId), c.Retryable, c.Message),
        FableErrors.NotFound n => Conversions.AggregateOf(n.Table, n.Key) is { } a ? FableError.NewNotFound(a.Value) : FableError.NewRejected(e, e.Message),
        FableErrors.UnknownEventType u => FableError.NewUnknownEventType(u.TypeName, u.Version),
        FableErrors.UndecodablePayload p => FableError.NewUndecodablePayload(p.TypeName, p.Version, p.Reason),
        FableErrors.Unstorable u => FableError.NewUnstorable(u.Where, u.Reason),
        FableErrors.HandlerFailed h => FableError.NewHandlerFailed(h.EventType, h.Handler, h.Message,
            h.Inner.Case is Error inner ? FSharpOption<Exception>.Some(new CarriedError(inner)) : null),
        FableErrors.NoRoute n => FableError.NewNoRoute(n.EventType),
        FableErrors.DuplicateRoute d => FableError.NewDuplicateRoute(d.EventType, d.Handler),
        FableErrors.InvalidDefinition d => FableError.NewInvalidDefinition(ListModule.OfSeq(d.Problems)),
        FableErrors.Infrastructure i => FableError.NewInfrastructure(i.Message, Conversions.Some(i.Cause)),
        FableErrors.Cancelled => FableError.Cancelled,
        _ => FableError.NewRejected(e, e.Message),
    };

    public static Error Thrown(Exception ex) => ex is OperationCanceledException ? new FableErrors.Cancelled() : new FableErrors.Infrastructure(ex.Message, ex);
}
