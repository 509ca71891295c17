// Checks a codec's output before it is recorded, the same way on every interpreter: a type name, a version of 1 or
// more, and a payload PostgreSQL can store as jsonb (one JSON value; no \u0000 and no lone surrogate in its strings).
namespace Fable.FSharp

open System
open System.Text
open System.Text.Json

/// What a stored payload must be.
module Payload =
    let private strictUtf8 = UTF8Encoding(false, true)

    /// Why `data` cannot be stored as a jsonb payload, or None when it can: it must be one JSON value (no
    /// comments, no trailing commas) whose strings and property names hold no NUL character and no lone surrogate.
    let problem (data: string) : string option =
        if isNull data then Some "the payload is null"
        else
            match (try Ok(strictUtf8.GetBytes data) with :? EncoderFallbackException -> Error "the text holds a lone surrogate") with
            | Error m -> Some m
            | Ok bytes ->
                try
                    let mutable reader = Utf8JsonReader(ReadOnlySpan bytes, JsonReaderOptions())
                    let mutable found = None
                    while found.IsNone && reader.Read() do
                        match reader.TokenType with
                        | JsonTokenType.String
                        | JsonTokenType.PropertyName when reader.ValueIsEscaped ->
                            match (try Ok(reader.GetString()) with :? InvalidOperationException -> Error()) with
                            | Ok s when s.Contains '\000' -> found <- Some "a string holds the NUL character (\\u0000), which jsonb cannot store"
                            | Ok s when not (Storable.hasLoneSurrogate s) -> ()
                            | _ -> found <- Some "a string escapes a lone surrogate, which jsonb cannot store"
                        | _ -> ()
                    found
                with :? JsonException as e ->
                    Some("the payload is not one JSON value: " + e.Message)

    /// The codec's output `enc` when it can be recorded; UndecodablePayload saying why otherwise. `trusted`: the
    /// payload comes from Fable's own JSON codec, so only its escapes need a look.
    let check (trusted: bool) (enc: EncodedEvent) : Result<EncodedEvent, FableError> =
        if isNull (box enc) then Error(UndecodablePayload("?", 0, "the codec returned no encoded event"))
        elif String.IsNullOrWhiteSpace enc.TypeName then Error(UndecodablePayload("?", enc.TypeVersion, "the codec returned a blank type name"))
        elif enc.TypeVersion < 1 then
            Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, sprintf "the codec returned version %d (must be 1 or more)" enc.TypeVersion))
        elif trusted && not (isNull enc.Data) && enc.Data.IndexOf '\\' < 0 then Ok enc
        else
            match problem enc.Data with
            | None -> Ok enc
            | Some why -> Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, "the payload cannot be stored: " + why))
