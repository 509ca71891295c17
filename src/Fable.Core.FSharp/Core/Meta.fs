// Event metadata: a decision returns an event wrapped with a JSON object (who, why, correlation ids) instead of the
// bare event; the metadata is recorded in the event's `Meta`, the event itself is what evolve and handlers see.
namespace Fable.FSharp

open System
open System.Text.Json
open System.Text.Json.Nodes

/// An event to record with metadata (what `Meta.attach` returns; a decision lists it in place of the event).
[<Sealed; AllowNullLiteral>]
type EventWithMeta(event: obj, meta: string) =
    /// The event.
    member _.Event = event
    /// The metadata: the text of a JSON object.
    member _.Meta = meta

/// Attaching metadata to events, and what metadata must be.
module Meta =
    /// The metadata of an event recorded without any.
    [<Literal>]
    let Empty = "{}"

    /// `evt` to be recorded with `meta` (the text of a JSON object) as its metadata.
    let attach (meta: string) (evt: obj) : obj = box (EventWithMeta(evt, meta))

    /// `evt` to be recorded with the JSON object of `pairs` as its metadata (values written by System.Text.Json;
    /// a repeated name keeps its last value).
    let attachPairs (pairs: (string * obj) seq) (evt: obj) : obj =
        let o = JsonObject()
        for name, value in pairs do
            o[name] <- (if isNull value then null else JsonSerializer.SerializeToNode(value, value.GetType()))
        attach (o.ToJsonString()) evt

    /// Why `meta` cannot be recorded as metadata, or None: it must be one JSON object jsonb can store.
    let problem (meta: string) : string option =
        match Payload.problem meta with
        | Some why -> Some why
        // One JSON value: an object exactly when it opens with a brace.
        | None when meta.TrimStart().StartsWith '{' -> None
        | None -> Some "the metadata is not a JSON object"

    /// The event and metadata text of what a decision listed: a bare event has the empty object.
    let split (listed: obj) : struct (obj * string) =
        match listed with
        | :? EventWithMeta as w -> struct (w.Event, w.Meta)
        | e -> struct (e, Empty)
