// The closed set of errors Fable returns, each with a stable numeric code and a stable name.
// Callers match on the case or the code, never on the message.
namespace Fable.FSharp

open System

/// Every error Fable can return. Codes and names are stable across versions.
type FableError =
    /// The caller's decision refused the command; `Reason` is the caller's own error value.
    | Rejected of reason: obj * message: string
    /// The aggregate was not at the expected version (stale input, a guard mismatch, a serialization
    /// failure or a deadlock). `Retryable` says whether running the same command again may succeed.
    | Conflict of aggregate: AggregateId option * expected: int64 option * actual: int64 option * retryable: bool * message: string
    /// The aggregate does not exist where it must.
    | NotFound of aggregate: AggregateId
    /// A recorded event has a type name/version that no registration knows.
    | UnknownEventType of typeName: string * version: int
    /// A payload could not be encoded or decoded.
    | UndecodablePayload of typeName: string * version: int * reason: string
    /// A handler returned an error or threw.
    | HandlerFailed of eventType: string * handler: string * message: string * inner: exn option
    /// An emitted event has no route in the router.
    | NoRoute of eventType: string
    /// The same handler was registered twice for one event type (or one name twice elsewhere).
    | DuplicateRoute of eventType: string * handler: string
    /// A definition (aggregate, event type, process manager, table) is invalid; every problem is listed.
    | InvalidDefinition of problems: string list
    /// The database or another dependency failed.
    | Infrastructure of message: string * inner: exn option
    /// The operation was cancelled; nothing of it was committed.
    | Cancelled
    /// A key, row value or table value that PostgreSQL cannot store (a NUL character or a lone surrogate in a
    /// string, or a .NET value the declared column does not take). Refused before anything is sent, alike in memory.
    | Unstorable of where: string * reason: string

    /// The stable numeric code of this error.
    member this.Code =
        match this with
        | Rejected _ -> ErrorCodes.Rejected
        | Conflict _ -> ErrorCodes.Conflict
        | NotFound _ -> ErrorCodes.NotFound
        | UnknownEventType _ -> ErrorCodes.UnknownEventType
        | UndecodablePayload _ -> ErrorCodes.UndecodablePayload
        | HandlerFailed _ -> ErrorCodes.HandlerFailed
        | NoRoute _ -> ErrorCodes.NoRoute
        | DuplicateRoute _ -> ErrorCodes.DuplicateRoute
        | InvalidDefinition _ -> ErrorCodes.InvalidDefinition
        | Infrastructure _ -> ErrorCodes.Infrastructure
        | Cancelled -> ErrorCodes.Cancelled
        | Unstorable _ -> ErrorCodes.Unstorable

    /// The stable symbolic name of this error ("fable.conflict", ...).
    member this.Name = ErrorCodes.nameOf this.Code

    /// A human-readable message (for logs only; never parse it).
    member this.Message =
        match this with
        | Rejected(_, m) -> m
        | Conflict(_, _, _, _, m) -> m
        | NotFound a -> sprintf "aggregate %O does not exist" a
        | UnknownEventType(n, v) -> sprintf "unknown event type %s v%d" n v
        | UndecodablePayload(n, v, r) -> sprintf "payload of %s v%d cannot be read: %s" n v r
        | HandlerFailed(t, h, m, _) -> sprintf "handler %s for %s failed: %s" h t m
        | NoRoute t -> sprintf "no route for event type %s" t
        | DuplicateRoute(t, h) -> sprintf "handler %s is registered twice for %s" h t
        | InvalidDefinition ps -> "invalid definition: " + String.Join("; ", ps)
        | Infrastructure(m, _) -> m
        | Cancelled -> "the operation was cancelled"
        | Unstorable(w, r) -> sprintf "%s cannot be stored: %s; nothing was written" w r

    override this.ToString() = sprintf "%s (%d): %s" this.Name this.Code this.Message

/// Stable codes of `FableError` cases.
and [<AbstractClass; Sealed>] ErrorCodes =
    /// `Rejected`.
    static member Rejected = 7001
    /// `Conflict`.
    static member Conflict = 7002
    /// `NotFound`.
    static member NotFound = 7003
    /// `UnknownEventType`.
    static member UnknownEventType = 7004
    /// `UndecodablePayload`.
    static member UndecodablePayload = 7005
    /// `HandlerFailed`.
    static member HandlerFailed = 7006
    /// `NoRoute`.
    static member NoRoute = 7007
    /// `DuplicateRoute`.
    static member DuplicateRoute = 7008
    /// `InvalidDefinition`.
    static member InvalidDefinition = 7009
    /// `Infrastructure`.
    static member Infrastructure = 7010
    /// `Cancelled`.
    static member Cancelled = 7011
    /// `Unstorable`.
    static member Unstorable = 7012
    /// Application code (a C# handler, a process-manager handler, a unit of work's work) threw: the C# face's
    /// `FableErrors.Thrown`, which holds the exception. No `FableError` case: the core carries the exception itself.
    static member Thrown = 7013

    /// The symbolic name of a code.
    static member nameOf(code: int) =
        match code with
        | 7001 -> "fable.rejected"
        | 7002 -> "fable.conflict"
        | 7003 -> "fable.not_found"
        | 7004 -> "fable.unknown_event_type"
        | 7005 -> "fable.undecodable_payload"
        | 7006 -> "fable.handler_failed"
        | 7007 -> "fable.no_route"
        | 7008 -> "fable.duplicate_route"
        | 7009 -> "fable.invalid_definition"
        | 7010 -> "fable.infrastructure"
        | 7011 -> "fable.cancelled"
        | 7012 -> "fable.unstorable_value"
        | 7013 -> "fable.thrown"
        | _ -> "fable.unknown"

/// Constructors and combinators for errors.
module FableError =
    /// A rejection carrying the caller's reason; the message is the reason's text.
    let reject (reason: obj) = Rejected(reason, string reason)

    /// A conflict on `aggregate` between the `expected` and `actual` last event ids.
    let conflict aggregate expected actual =
        Conflict(Some aggregate, expected, actual, false,
                 sprintf "aggregate %O: expected last event %A, found %A" aggregate expected actual)

    /// Whether retrying the same operation may succeed.
    let isRetryable =
        function
        | Conflict(_, _, _, r, _) -> r
        | _ -> false
