// Checks a codec's output before it is recorded, the same way on every interpreter: a type name, a version of 1 or
// more, and a payload PostgreSQL can store as jsonb, turned into jsonb's normal text form (what both return).
namespace Fable.FSharp

open System

/// What a stored payload must be.
module internal Payload =
    /// Why `data` cannot be stored as a jsonb payload, or None when it can: it must be one JSON value (no
    /// comments, no trailing commas) whose strings and property names hold no NUL character and no lone surrogate
    /// and whose numbers fit PostgreSQL's numeric.
    let problem (data: string) : string option =
        if isNull data then Some "the payload is null"
        else
            match JsonbText.normalize data with
            | Ok _ -> None
            | Error why -> Some why

    /// The codec's output `enc` as it is recorded, its payload in jsonb's normal text form (`JsonbText`);
    /// UndecodablePayload saying why when it cannot be recorded.
    let check (enc: EncodedEvent) : Result<EncodedEvent, FableError> =
        if isNull (box enc) then Error(UndecodablePayload("?", 0, "the codec returned no encoded event"))
        elif String.IsNullOrWhiteSpace enc.TypeName then Error(UndecodablePayload("?", enc.TypeVersion, "the codec returned a blank type name"))
        elif enc.TypeVersion < 1 then
            Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, sprintf "the codec returned version %d (must be 1 or more)" enc.TypeVersion))
        elif isNull enc.Data then Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, "the payload cannot be stored: the payload is null"))
        else
            match JsonbText.normalize enc.Data with
            | Ok data when obj.ReferenceEquals(data, enc.Data) -> Ok enc
            | Ok data -> Ok { enc with Data = data }
            | Error why -> Error(UndecodablePayload(enc.TypeName, enc.TypeVersion, "the payload cannot be stored: " + why))
