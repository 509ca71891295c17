// The event registry and codec: a stable name and version per event type, System.Text.Json payloads,
// upcasters from older versions. Unknown types and unreadable payloads are typed errors, never exceptions.
namespace Fable.FSharp

open System
open System.Text.Json
open System.Text.Json.Nodes
open System.Text.Json.Serialization

/// An event ready for storage.
type EncodedEvent =
    { TypeName: string
      TypeVersion: int
      Data: string }

/// Turns events into stored payloads and back: the boundary between events and storage.
type IEventCodec =
    /// Encodes an event object; UnknownEventType when its CLR type is not registered.
    abstract Encode: evt: obj -> Result<EncodedEvent, FableError>
    /// Decodes a stored payload (upcasting older versions); UnknownEventType or UndecodablePayload on failure.
    abstract Decode: typeName: string * version: int * data: string -> Result<obj, FableError>
    /// The stable name registered for a CLR type, if any.
    abstract TryNameOf: clrType: Type -> string option

/// Writes strings (values and dictionary keys) as System.Text.Json does, but refuses one holding a lone surrogate
/// (which the serializer would silently write as U+FFFD) with a JsonException saying so: a payload must keep what
/// the event holds or not be recorded. Fable adds it to the codec's options (after the application's converters).
[<Sealed>]
type internal StorableStringConverter() =
    inherit JsonConverter<string>()

    static member private Check(value: string) =
        if Storable.hasLoneSurrogate value then
            raise (JsonException "a string holds a lone surrogate (half of a UTF-16 pair), which JSON text cannot keep")

    override _.Read(reader, _, _) = reader.GetString()

    override _.Write(writer, value, _) =
        StorableStringConverter.Check value
        writer.WriteStringValue value

    override _.ReadAsPropertyName(reader, _, _) = reader.GetString()

    override _.WriteAsPropertyName(writer, value, options) =
        // As System.Text.Json's own string converter does: the dictionary key policy applies.
        let name = match options.DictionaryKeyPolicy with null -> value | policy -> policy.ConvertName value
        StorableStringConverter.Check name
        writer.WritePropertyName name

/// `StorableStringConverter` for `char` values: a lone surrogate is refused, not written as U+FFFD.
[<Sealed>]
type internal StorableCharConverter() =
    inherit JsonConverter<char>()

    override _.Read(reader, _, _) =
        match reader.GetString() with
        | s when s.Length = 1 -> s[0]
        | s -> raise (JsonException(sprintf "expected one character, got %d" s.Length))

    override _.Write(writer, value, _) =
        if Char.IsSurrogate value then
            raise (JsonException "a char holds a lone surrogate (half of a UTF-16 pair), which JSON text cannot keep")
        writer.WriteStringValue(string value)

/// JSON options that refuse lone surrogates.
module internal StorableJson =
    /// A copy of `options` with `StorableStringConverter` and `StorableCharConverter` added after its own
    /// converters (a string or char converter of the application's own keeps precedence).
    let options (options: JsonSerializerOptions) =
        let o = JsonSerializerOptions(options)
        o.Converters.Add(StorableStringConverter())
        o.Converters.Add(StorableCharConverter())
        o

/// One registered event type.
type EventType =
    {
        /// The CLR type of the current version.
        ClrType: Type
        /// The stable name stored in the log.
        Name: string
        /// The current version (1 or more).
        Version: int
        /// Upcasters by the version they read: each turns a payload of version v into one of v + 1.
        Upcasters: Map<int, JsonNode -> JsonNode>
    }

/// Declares event types.
module EventType =
    /// Event type `'E` stored as `name` at version 1 with no upcasters.
    let create<'E> (name: string) =
        { ClrType = typeof<'E>; Name = name; Version = 1; Upcasters = Map.empty }

    /// Sets the current version.
    let version v (t: EventType) = { t with Version = v }

    /// Adds an upcaster that reads payloads of version `fromVersion` and returns version `fromVersion + 1`.
    let upcaster fromVersion (f: JsonNode -> JsonNode) (t: EventType) =
        { t with Upcasters = Map.add fromVersion f t.Upcasters }

/// An immutable set of event types, validated as a whole.
type EventRegistry =
    { Types: EventType list
      Options: JsonSerializerOptions }

/// Builds registries and codecs.
module EventRegistry =
    /// The default JSON options: web defaults (camelCase, case-insensitive reads).
    let defaultOptions = JsonSerializerOptions(JsonSerializerDefaults.Web)

    /// An empty registry with the default JSON options.
    let empty = { Types = []; Options = defaultOptions }

    /// Adds an event type (validated by `validate`).
    let add (t: EventType) (r: EventRegistry) = { r with Types = r.Types @ [ t ] }

    /// Every problem of the registry: blank or duplicate names, a CLR type registered twice, bad versions,
    /// upcasters outside 1 .. version-1.
    let validate (r: EventRegistry) : string list =
        [ for t in r.Types do
              if String.IsNullOrWhiteSpace t.Name then
                  yield sprintf "event type %s has a blank name" t.ClrType.FullName
              if t.Version < 1 then
                  yield sprintf "event type %s has version %d (must be 1 or more)" t.Name t.Version
              for v in t.Upcasters |> Map.keys do
                  if v < 1 || v >= t.Version then
                      yield sprintf "event type %s v%d has an upcaster from v%d (allowed: 1 to %d)" t.Name t.Version v (t.Version - 1)
          for (n, ts) in r.Types |> List.groupBy (fun t -> t.Name) do
              if List.length ts > 1 then
                  yield sprintf "event type name %s is registered %d times" n (List.length ts)
          for (c, ts) in r.Types |> List.groupBy (fun t -> t.ClrType) do
              if List.length ts > 1 then
                  yield sprintf "CLR type %s is registered %d times" c.FullName (List.length ts) ]

    let private upcastTo (t: EventType) (version: int) (data: string) =
        let rec go v (node: JsonNode) =
            if v = t.Version then Ok node
            else
                match Map.tryFind v t.Upcasters with
                | None -> Error(UnknownEventType(t.Name, version))
                | Some up ->
                    match (try Ok(up node) with e -> Error e.Message) with
                    | Ok next when not (isNull next) -> go (v + 1) next
                    | Ok _ -> Error(UndecodablePayload(t.Name, version, sprintf "upcaster from v%d returned null" v))
                    | Error m -> Error(UndecodablePayload(t.Name, version, sprintf "upcaster from v%d failed: %s" v m))
        match (try Ok(JsonNode.Parse data) with e -> Error e.Message) with
        | Error m -> Error(UndecodablePayload(t.Name, version, m))
        | Ok null -> Error(UndecodablePayload(t.Name, version, "payload is JSON null"))
        | Ok node -> go version node

    /// A codec over a valid registry; InvalidDefinition listing every problem otherwise.
    let codec (r: EventRegistry) : Result<IEventCodec, FableError> =
        match validate r with
        | _ :: _ as problems -> Error(InvalidDefinition problems)
        | [] ->
            let byName = r.Types |> List.map (fun t -> t.Name, t) |> dict
            let byType = r.Types |> List.map (fun t -> t.ClrType, t) |> dict
            let opts = StorableJson.options r.Options
            let decodeNode (t: EventType) version (read: unit -> obj) =
                match (try Ok(read ()) with e -> Error e.Message) with
                | Ok null -> Error(UndecodablePayload(t.Name, version, "payload is JSON null"))
                | Ok o -> Ok o
                | Error m -> Error(UndecodablePayload(t.Name, version, m))
            Ok
                { new IEventCodec with
                    member _.Encode evt =
                        if isNull evt then
                            Error(InvalidDefinition [ "a null event cannot be recorded" ])
                        else
                            match byType.TryGetValue(evt.GetType()) with
                            | true, t ->
                                match (try Ok(JsonSerializer.Serialize(evt, t.ClrType, opts)) with e -> Error e.Message) with
                                | Ok json -> Ok { TypeName = t.Name; TypeVersion = t.Version; Data = json }
                                | Error m -> Error(UndecodablePayload(t.Name, t.Version, m))
                            | _ -> Error(UnknownEventType(evt.GetType().FullName, 0))
                    member _.Decode(name, version, data) =
                        match byName.TryGetValue name with
                        | true, t when version = t.Version ->
                            decodeNode t version (fun () -> JsonSerializer.Deserialize(data, t.ClrType, opts))
                        | true, t when version >= 1 && version < t.Version ->
                            upcastTo t version data
                            |> Result.bind (fun node -> decodeNode t version (fun () -> node.Deserialize(t.ClrType, opts)))
                        | _ -> Error(UnknownEventType(name, version))
                    member _.TryNameOf clr =
                        match byType.TryGetValue clr with
                        | true, t -> Some t.Name
                        | _ -> None }
