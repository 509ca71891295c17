// PostgreSQL jsonb's normal text form, computed in-process so that both interpreters return the same `Data` and
// `Meta` texts: members ordered as jsonb orders keys, the last of duplicate keys kept, `": "` and `", "`
// separators, numbers as `numeric` prints them (JsonbNumber), strings escaped as jsonb escapes them. Also decides
// storability. Allocates only its result (JsonbBuffers).
namespace Fable.FSharp

open System
open System.Buffers
open System.Collections.Generic
open System.Text
open System.Text.Json

/// The jsonb normal form of JSON text (what `SELECT $1::jsonb::text` returns on PostgreSQL 15), or why jsonb cannot
/// store the text.
module internal JsonbText =
    let private strictUtf8 = UTF8Encoding(false, true)
    let private readerOptions = JsonReaderOptions(MaxDepth = 1000)

    let private hex = "0123456789abcdef"B

    /// Writes unescaped UTF-8 `s` as jsonb writes a string's content: `\"`, `\\`, `\b \f \n \r \t`, other
    /// control characters as `\u00xx`, everything else as is. Returns the new position (room must be made).
    let private escape (out: byte[]) (pos: int) (s: ReadOnlySpan<byte>) =
        let mutable p = pos
        for i in 0 .. s.Length - 1 do
            let b = s[i]
            if b >= 0x20uy && b <> '"'B && b <> '\\'B then
                out[p] <- b
                p <- p + 1
            else
                out[p] <- '\\'B
                match b with
                | '"'B -> out[p + 1] <- '"'B; p <- p + 2
                | '\\'B -> out[p + 1] <- '\\'B; p <- p + 2
                | 8uy -> out[p + 1] <- 'b'B; p <- p + 2
                | 12uy -> out[p + 1] <- 'f'B; p <- p + 2
                | 10uy -> out[p + 1] <- 'n'B; p <- p + 2
                | 13uy -> out[p + 1] <- 'r'B; p <- p + 2
                | 9uy -> out[p + 1] <- 't'B; p <- p + 2
                | b ->
                    out[p + 1] <- 'u'B
                    out[p + 2] <- '0'B
                    out[p + 3] <- '0'B
                    out[p + 4] <- hex[int b >>> 4]
                    out[p + 5] <- hex[int b &&& 15]
                    p <- p + 6
        p

    let private sortMembers (b: JsonbBuffers) (first: int) (n: int) =
        let members = b.Members
        let order = b.Order
        if n <= 16 then
            for i in first + 1 .. first + n - 1 do
                let m = members[i]
                let mutable j = i - 1
                while j >= first && order.Compare(members[j], m) > 0 do
                    members[j + 1] <- members[j]
                    j <- j - 1
                members[j + 1] <- m
        else
            Array.Sort(members, first, n, order)

    /// Rewrites the object that starts at `start` in Out (its values written one after another up to Pos, its
    /// members from `first` on the member stack) as `{"key": value, ...}` in jsonb's key order, keeping the last
    /// of equal keys.
    let private closeObject (b: JsonbBuffers) (start: int) (first: int) =
        let count = b.MemberCount - first
        let pos = b.Pos
        if count = 0 then
            b.Out <- JsonbBuffer.grow b.Out (pos + 2)
            b.Out[pos] <- '{'B
            b.Out[pos + 1] <- '}'B
            b.Pos <- pos + 2
        else
            let members = b.Members
            let length = pos - start
            let mutable keyBytes = 0
            for k in first .. b.MemberCount - 1 do
                let next = if k + 1 < b.MemberCount then members[k + 1].ValStart else pos
                members[k] <- { members[k] with ValStart = members[k].ValStart - start; ValLen = next - members[k].ValStart }
                keyBytes <- keyBytes + members[k].KeyLen
            b.Scratch <- JsonbBuffer.grow b.Scratch length
            Buffer.BlockCopy(b.Out, start, b.Scratch, 0, length)
            sortMembers b first count
            // Room for the braces and, per member, its quotes, ": ", ", " and its key escaped (6 bytes a byte at worst).
            b.Out <- JsonbBuffer.grow b.Out (start + length + 2 + 6 * count + 6 * keyBytes)
            let out = b.Out
            let keys = b.Keys
            let mutable p = start
            out[p] <- '{'B
            p <- p + 1
            for k in first .. first + count - 1 do
                let m = members[k]
                // Equal keys are adjacent, in the order given: only the last of them is kept.
                let shadowed =
                    k + 1 < first + count
                    && members[k + 1].KeyLen = m.KeyLen
                    && ReadOnlySpan(keys, m.KeyStart, m.KeyLen).SequenceEqual(ReadOnlySpan(keys, members[k + 1].KeyStart, m.KeyLen))
                if not shadowed then
                    if p > start + 1 then
                        out[p] <- ','B
                        out[p + 1] <- ' 'B
                        p <- p + 2
                    out[p] <- '"'B
                    p <- escape out (p + 1) (ReadOnlySpan(keys, m.KeyStart, m.KeyLen))
                    out[p] <- '"'B
                    out[p + 1] <- ':'B
                    out[p + 2] <- ' 'B
                    p <- p + 3
                    Buffer.BlockCopy(b.Scratch, m.ValStart, out, p, m.ValLen)
                    p <- p + m.ValLen
            out[p] <- '}'B
            b.Pos <- p + 1

    /// Before a value: ", " after an earlier element of the enclosing array (members get theirs when their object
    /// closes).
    let private beforeValue (b: JsonbBuffers) =
        if b.Depth > 0 then
            let f = (b.Depth - 1) * 4
            let count = b.Frames[f + 3]
            if count >= 0 then
                if count > 0 then
                    b.Out <- JsonbBuffer.grow b.Out (b.Pos + 2)
                    b.Out[b.Pos] <- ','B
                    b.Out[b.Pos + 1] <- ' 'B
                    b.Pos <- b.Pos + 2
                b.Frames[f + 3] <- count + 1

    /// Opens a container: -1 elements for an object, 0 for an array.
    let private push (b: JsonbBuffers) (count: int) =
        if (b.Depth + 1) * 4 > b.Frames.Length then
            let a = Array.zeroCreate (b.Frames.Length * 2)
            Array.blit b.Frames 0 a 0 b.Frames.Length
            b.Frames <- a
        let f = b.Depth * 4
        b.Frames[f] <- b.Pos
        b.Frames[f + 1] <- b.MemberCount
        b.Frames[f + 2] <- b.KeyPos
        b.Frames[f + 3] <- count
        b.Depth <- b.Depth + 1

    let private write (b: JsonbBuffers) (bytes: ReadOnlySpan<byte>) =
        b.Out <- JsonbBuffer.grow b.Out (b.Pos + bytes.Length)
        bytes.CopyTo(Span(b.Out, b.Pos, bytes.Length))
        b.Pos <- b.Pos + bytes.Length

    let private writeByte (b: JsonbBuffers) (c: byte) =
        b.Out <- JsonbBuffer.grow b.Out (b.Pos + 1)
        b.Out[b.Pos] <- c
        b.Pos <- b.Pos + 1

    /// Normalises UTF-8 JSON `input` into Out (up to Pos), or raises (JsonException, JsonbRefused, or
    /// InvalidOperationException for an escaped lone surrogate).
    let private run (b: JsonbBuffers) (input: ReadOnlySpan<byte>) =
        b.Pos <- 0
        b.Depth <- 0
        b.MemberCount <- 0
        b.KeyPos <- 0
        let mutable reader = Utf8JsonReader(input, readerOptions)
        while reader.Read() do
            match reader.TokenType with
            | JsonTokenType.StartObject ->
                beforeValue b
                push b -1
            | JsonTokenType.EndObject ->
                b.Depth <- b.Depth - 1
                let f = b.Depth * 4
                let first = b.Frames[f + 1]
                closeObject b b.Frames[f] first
                b.MemberCount <- first
                b.KeyPos <- b.Frames[f + 2]
            | JsonTokenType.StartArray ->
                beforeValue b
                writeByte b '['B
                push b 0
            | JsonTokenType.EndArray ->
                b.Depth <- b.Depth - 1
                writeByte b ']'B
            | JsonTokenType.PropertyName ->
                let raw = reader.ValueSpan
                b.Keys <- JsonbBuffer.grow b.Keys (b.KeyPos + raw.Length)
                let n =
                    if reader.ValueIsEscaped then
                        let n = reader.CopyString(Span(b.Keys, b.KeyPos, raw.Length))
                        if ReadOnlySpan(b.Keys, b.KeyPos, n).IndexOf 0uy >= 0 then
                            raise (JsonbRefused "a property name holds the NUL character (\\u0000), which jsonb cannot store")
                        n
                    else
                        raw.CopyTo(Span(b.Keys, b.KeyPos, raw.Length))
                        raw.Length
                if b.MemberCount = b.Members.Length then
                    let a = Array.zeroCreate (b.Members.Length * 2)
                    Array.blit b.Members 0 a 0 b.Members.Length
                    b.Members <- a
                b.Members[b.MemberCount] <- { KeyStart = b.KeyPos; KeyLen = n; ValStart = b.Pos; ValLen = 0 }
                b.MemberCount <- b.MemberCount + 1
                b.KeyPos <- b.KeyPos + n
            | JsonTokenType.String ->
                beforeValue b
                let raw = reader.ValueSpan
                if reader.ValueIsEscaped then
                    b.Scratch <- JsonbBuffer.grow b.Scratch raw.Length
                    let n = reader.CopyString(Span(b.Scratch, 0, raw.Length))
                    let s = ReadOnlySpan(b.Scratch, 0, n)
                    if s.IndexOf 0uy >= 0 then
                        raise (JsonbRefused "a string holds the NUL character (\\u0000), which jsonb cannot store")
                    b.Out <- JsonbBuffer.grow b.Out (b.Pos + 2 + 6 * n)
                    b.Out[b.Pos] <- '"'B
                    let p = escape b.Out (b.Pos + 1) s
                    b.Out[p] <- '"'B
                    b.Pos <- p + 1
                else
                    // Unescaped content holds no quote, backslash or control character: jsonb writes it as is.
                    b.Out <- JsonbBuffer.grow b.Out (b.Pos + 2 + raw.Length)
                    b.Out[b.Pos] <- '"'B
                    raw.CopyTo(Span(b.Out, b.Pos + 1, raw.Length))
                    b.Out[b.Pos + 1 + raw.Length] <- '"'B
                    b.Pos <- b.Pos + 2 + raw.Length
            | JsonTokenType.Number ->
                beforeValue b
                JsonbNumber.write b reader.ValueSpan
            | _ ->
                // true, false, null: as given.
                beforeValue b
                write b reader.ValueSpan

    /// The jsonb normal text of `json`, or why jsonb cannot store it: `json` must be exactly one JSON value (no
    /// comments, no trailing commas, at most 1000 levels deep) whose strings and property names hold no NUL character
    /// and no lone surrogate and whose numbers fit PostgreSQL's numeric. Text already in normal form is returned
    /// as is (the same string); otherwise the result is the only allocation.
    let normalize (json: string) : Result<string, string> =
        if isNull json then Error "the text is null"
        else
            let b = JsonbState.Buffers
            b.Input <- JsonbBuffer.grow b.Input (json.Length * 3)
            let input = b.Input
            // ASCII (what Fable's codec writes) is copied as is; anything else is encoded strictly.
            let mutable ascii = 0
            let encoded =
                if Ascii.FromUtf16(json.AsSpan(), input.AsSpan(), &ascii) = OperationStatus.Done then Ok ascii
                else
                    try Ok(strictUtf8.GetBytes(json.AsSpan(), input.AsSpan()))
                    with :? EncoderFallbackException -> Error "the text holds a lone surrogate"
            match encoded with
            | Error m -> Error m
            | Ok length ->
                try
                    try
                        run b (ReadOnlySpan(input, 0, length))
                        if ReadOnlySpan(b.Out, 0, b.Pos).SequenceEqual(ReadOnlySpan(input, 0, length)) then Ok json
                        else Ok(Encoding.UTF8.GetString(b.Out, 0, b.Pos))
                    with
                    | JsonbRefused why -> Error why
                    | :? InvalidOperationException -> Error "a string escapes a lone surrogate, which jsonb cannot store"
                    | :? JsonException as e -> Error("the text is not one JSON value: " + e.Message)
                finally
                    JsonbState.Trim b
