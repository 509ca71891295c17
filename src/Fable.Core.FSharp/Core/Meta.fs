// Event metadata: a decision returns an event wrapped with a JSON object (who, why, correlation ids) instead of the
// bare event; the metadata is recorded in the event's `Meta` (in jsonb's normal text form), the event itself is
// what evolve and handlers see.
namespace Fable.FSharp

open System
open System.Collections.Generic
open System.Text.Json

/// An event to record with metadata (what `Meta.attach` returns; a decision lists it in place of the event).
[<Sealed; AllowNullLiteral>]
type internal EventWithMeta (event: obj, meta: string, problem: string) =
    /// `event` with `meta` (the text of a JSON object) as its metadata.
    new(event: obj, meta: string) = EventWithMeta(event, meta, null)
    /// The event.
    member _.Event = event
    /// The metadata: the text of a JSON object.
    member _.Meta = meta
    /// Why the metadata could not even be written (null when it was).
    member internal _.Problem = problem

/// Metadata to record with the events of a typed decision (a JSON object: who, why, correlation ids). Build it with
/// `EventMeta.Json` or `EventMeta.Of`; it is checked when the emit records it, and metadata that is not one JSON object
/// jsonb can store fails the emit (UndecodablePayload) with nothing recorded.
[<Sealed>]
type EventMeta internal (text: string, problem: string) =
    // System.Text.Json's own defaults, refusing lone surrogates (see `StorableStringConverter`).
    static let options = StorableJson.options JsonSerializerOptions.Default
    member internal _.Text = text
    /// Why the metadata could not even be written (null when it was).
    member internal _.Problem = problem
    /// The metadata given as the text of a JSON object, e.g. `{"by": "ada"}`.
    static member Json(text: string) : EventMeta = EventMeta(text, (if isNull text then "the metadata is null" else null))
    /// `value` written by System.Text.Json (an anonymous record `{| by = "ada" |}`, a record, a dictionary): it must
    /// write a JSON object.
    static member Of<'M>(value: 'M) : EventMeta =
        match (try Ok(JsonSerializer.Serialize<'M>(value, options)) with
               | :? JsonException as e -> Error e.Message
               | :? NotSupportedException as e -> Error e.Message) with
        | Ok json -> EventMeta(json, null)
        | Error why -> EventMeta(null, why)
    override _.ToString() = if isNull problem then text else "invalid metadata: " + problem

/// Attaching metadata to events, and what metadata must be.
module internal Meta =
    /// The metadata of an event recorded without any.
    [<Literal>]
    let Empty = "{}"

    /// `evt` to be recorded with `meta` (the text of a JSON object) as its metadata.
    let attach (meta: string) (evt: obj) : obj = box (EventWithMeta(evt, meta))

    /// `evt` to be recorded with the JSON object of `pairs` as its metadata (values written by System.Text.Json;
    /// a repeated name keeps its last value). A name or string holding a lone surrogate fails the emit (the
    /// serializer would write U+FFFD instead).
    let attachPairs (pairs: (string * obj) seq) (evt: obj) : obj =
        let o = Dictionary<string, obj>(StringComparer.Ordinal)
        for name, value in pairs do
            o[name] <- value
        let m = EventMeta.Of o
        box (EventWithMeta(evt, m.Text, m.Problem))

    /// The metadata `meta` as it is recorded (jsonb's normal text form), or why it cannot be: it must be one JSON
    /// object jsonb can store.
    let normalize (meta: string) : Result<string, string> =
        if String.Equals(meta, Empty, StringComparison.Ordinal) then Ok Empty
        elif isNull meta then Error "the metadata is null"
        else
            match JsonbText.normalize meta with
            | Ok text when text.StartsWith '{' -> Ok text
            | Ok _ -> Error "the metadata is not a JSON object"
            | Error why -> Error why

    /// Why `meta` cannot be recorded as metadata, or None: it must be one JSON object jsonb can store.
    let problem (meta: string) : string option =
        match normalize meta with
        | Ok _ -> None
        | Error why -> Some why

    /// The event, metadata text and problem (why the metadata could not be written; null when none) of what a
    /// decision listed: a bare event has the empty object.
    let split (listed: obj) : struct (obj * string * string) =
        match listed with
        | :? EventWithMeta as w -> struct (w.Event, w.Meta, w.Problem)
        | e -> struct (e, Empty, null)

    /// `evt` to be recorded with `m` as its metadata, unless it already has metadata of its own (the innermost wins).
    let attachTyped (m: EventMeta) (evt: obj) : obj =
        match evt with
        | :? EventWithMeta -> evt
        | _ -> box (EventWithMeta(evt, m.Text, m.Problem))
