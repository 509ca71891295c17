// PostgreSQL jsonb's normal text form, computed in-process so that both interpreters return the same `Data` and
// `Meta` texts: members ordered as jsonb orders keys, the last of duplicate keys kept, `": "` and `", "`
// separators, numbers as `numeric` prints them, strings escaped as jsonb escapes them. Also decides storability.
namespace Fable

open System
open System.Buffers
open System.Collections.Generic
open System.Text
open System.Text.Json

/// A member of an object being normalised: its unescaped key (in the key buffer) and where its value starts.
[<Struct>]
type internal JsonbMember = { KeyStart: int; KeyLen: int; ValStart: int; ValLen: int }

/// Per-thread buffers of the normaliser (reused: a normalisation allocates only its result).
[<Sealed; AllowNullLiteral>]
type internal JsonbBuffers() =
    /// The input (UTF-8).
    member val Input: byte[] = Array.zeroCreate 1024 with get, set
    /// The output (UTF-8).
    member val Out: byte[] = Array.zeroCreate 1024 with get, set
    /// Unescaped keys of the objects open on the stack.
    member val Keys: byte[] = Array.zeroCreate 256 with get, set
    /// A copy of an object's values while its members are written in order; unescaped strings.
    member val Scratch: byte[] = Array.zeroCreate 1024 with get, set
    /// The members of the objects open on the stack.
    member val Members: JsonbMember[] = Array.zeroCreate 32 with get, set
    /// Per open container: where it starts in Out, its first member, its key mark, its element count (-1: object).
    member val Frames: int[] = Array.zeroCreate 64 with get, set
    /// The position in Out, the depth, the members on the stack and the end of the keys in use (one run).
    member val Pos = 0 with get, set
    member val Depth = 0 with get, set
    member val MemberCount = 0 with get, set
    member val KeyPos = 0 with get, set
    /// The key order over these buffers.
    member val Order: IComparer<JsonbMember> = null with get, set

/// Orders members as jsonb orders keys (shorter first, then bytewise), equal keys in the order they were given.
[<Sealed>]
type internal JsonbKeyOrder(buffers: JsonbBuffers) =
    interface IComparer<JsonbMember> with
        member _.Compare(a, b) =
            if a.KeyLen <> b.KeyLen then compare a.KeyLen b.KeyLen
            else
                let c = ReadOnlySpan(buffers.Keys, a.KeyStart, a.KeyLen).SequenceCompareTo(ReadOnlySpan(buffers.Keys, b.KeyStart, b.KeyLen))
                if c <> 0 then c else compare a.ValStart b.ValStart

/// The per-thread buffers.
[<AbstractClass; Sealed>]
type internal JsonbState =
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: JsonbBuffers

    /// This thread's buffers (made on first use; a buffer grown past 1 MB is dropped after use).
    static member Buffers =
        let b = JsonbState.current
        if isNull b then
            let b = JsonbBuffers()
            b.Order <- JsonbKeyOrder(b)
            JsonbState.current <- b
            b
        else b

    /// Forgets buffers that grew large, so that one big payload does not pin memory for the thread's life.
    static member Trim(b: JsonbBuffers) =
        if b.Out.Length > 1048576 || b.Input.Length > 1048576 || b.Scratch.Length > 1048576 || b.Keys.Length > 1048576 then
            JsonbState.current <- null

/// The jsonb normal form of JSON text (what `SELECT $1::jsonb::text` returns on PostgreSQL 15), or why jsonb cannot
/// store the text.
module JsonbText =
    let private strictUtf8 = UTF8Encoding(false, true)
    let private readerOptions = JsonReaderOptions(MaxDepth = 1000)

    /// The largest number of digits `numeric` keeps after the decimal point.
    [<Literal>]
    let MaxScale = 16383

    /// The largest number of digits `numeric` keeps before the decimal point (weight 32767 in base 10,000).
    [<Literal>]
    let MaxIntegerDigits = 131072

    /// Exponents from this magnitude on are refused by `numeric` whatever the digits.
    [<Literal>]
    let MaxExponent = 1073741823L

    /// Why jsonb cannot store the text being normalised.
    exception private Refused of string

    let inline private grow (a: byte[]) (need: int) =
        if need <= a.Length then a
        else
            let b = Array.zeroCreate<byte> (max need (a.Length * 2))
            Buffer.BlockCopy(a, 0, b, 0, a.Length)
            b

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

    let private tooBig (t: ReadOnlySpan<byte>) =
        let text = Encoding.ASCII.GetString(if t.Length > 40 then t.Slice(0, 40) else t)
        Refused(
            sprintf "the number %s%s is out of jsonb's range (numeric keeps at most %d digits before the decimal point and %d after)"
                text (if t.Length > 40 then "…" else "") MaxIntegerDigits MaxScale)

    /// Digit `k` of a number's integer digits followed by its fraction digits.
    let inline private digitAt (t: ReadOnlySpan<byte>) intStart intLen fracStart k =
        if k < intLen then t[intStart + k] else t[fracStart + k - intLen]

    /// Writes JSON number `t` at Pos as PostgreSQL's numeric prints it: the exact decimal value with as many digits
    /// after the point as the text gives minus its exponent (none when that is negative), no sign on zero.
    let private number (b: JsonbBuffers) (t: ReadOnlySpan<byte>) =
        let pos = b.Pos
        let neg = t[0] = '-'B
        let mutable i = if neg then 1 else 0
        let intStart = i
        while i < t.Length && t[i] >= '0'B && t[i] <= '9'B do i <- i + 1
        let intLen = i - intStart
        let mutable fracStart = i
        let mutable fracLen = 0
        if i < t.Length && t[i] = '.'B then
            i <- i + 1
            fracStart <- i
            while i < t.Length && t[i] >= '0'B && t[i] <= '9'B do i <- i + 1
            fracLen <- i - fracStart
        let hasExponent = i < t.Length
        let mutable exponent = 0L
        if hasExponent then
            i <- i + 1 // e or E
            let negative = t[i] = '-'B
            if t[i] = '-'B || t[i] = '+'B then i <- i + 1
            while i < t.Length do
                if exponent < MaxExponent then exponent <- exponent * 10L + int64 (t[i] - '0'B)
                i <- i + 1
            if negative then exponent <- -exponent
        let nd = intLen + fracLen
        let mutable first = 0
        while first < nd && digitAt t intStart intLen fracStart first = '0'B do first <- first + 1
        let zero = first = nd
        if not hasExponent then
            // Already numeric's form, but for the sign of a zero.
            if fracLen > MaxScale || intLen > MaxIntegerDigits then raise (tooBig t)
            let from = if neg && zero then 1 else 0
            b.Out <- grow b.Out (pos + t.Length)
            t.Slice(from).CopyTo(Span(b.Out, pos, t.Length - from))
            b.Pos <- pos + t.Length - from
        else
            if exponent >= MaxExponent || exponent <= -MaxExponent then raise (tooBig t)
            let scale = max 0L (int64 fracLen - exponent)
            if scale > int64 MaxScale then raise (tooBig t)
            let scale = int scale
            // The decimal point sits before digit `point` of the digits (extended with zeros on both sides).
            let point = int64 intLen + exponent
            let integerDigits = if zero || int64 first >= point then 0L else point - int64 first
            if integerDigits > int64 MaxIntegerDigits then raise (tooBig t)
            let integerDigits = int integerDigits
            b.Out <- grow b.Out (pos + 3 + max integerDigits 1 + scale)
            let out = b.Out
            let mutable p = pos
            if neg && not zero then
                out[p] <- '-'B
                p <- p + 1
            if integerDigits = 0 then
                out[p] <- '0'B
                p <- p + 1
            else
                for k in first .. first + integerDigits - 1 do
                    out[p] <- (if k < nd then digitAt t intStart intLen fracStart k else '0'B)
                    p <- p + 1
            if scale > 0 then
                out[p] <- '.'B
                p <- p + 1
                // scale > 0: fracLen > exponent, so the point lies within an int's reach of the digits.
                let point = int point
                for k in point .. point + scale - 1 do
                    out[p] <- (if k < 0 || k >= nd then '0'B else digitAt t intStart intLen fracStart k)
                    p <- p + 1
            b.Pos <- p

    /// Sorts `members[first .. first+n-1]` as jsonb orders keys (equal keys in the order given).
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
            b.Out <- grow b.Out (pos + 2)
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
            b.Scratch <- grow b.Scratch length
            Buffer.BlockCopy(b.Out, start, b.Scratch, 0, length)
            sortMembers b first count
            // Room for the braces and, per member, its quotes, ": ", ", " and its key escaped (6 bytes a byte at worst).
            b.Out <- grow b.Out (start + length + 2 + 6 * count + 6 * keyBytes)
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
                    b.Out <- grow b.Out (b.Pos + 2)
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
        b.Out <- grow b.Out (b.Pos + bytes.Length)
        bytes.CopyTo(Span(b.Out, b.Pos, bytes.Length))
        b.Pos <- b.Pos + bytes.Length

    let private writeByte (b: JsonbBuffers) (c: byte) =
        b.Out <- grow b.Out (b.Pos + 1)
        b.Out[b.Pos] <- c
        b.Pos <- b.Pos + 1

    /// Normalises UTF-8 JSON `input` into Out (up to Pos), or raises (JsonException, Refused, or
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
                b.Keys <- grow b.Keys (b.KeyPos + raw.Length)
                let n =
                    if reader.ValueIsEscaped then
                        let n = reader.CopyString(Span(b.Keys, b.KeyPos, raw.Length))
                        if ReadOnlySpan(b.Keys, b.KeyPos, n).IndexOf 0uy >= 0 then
                            raise (Refused "a property name holds the NUL character (\\u0000), which jsonb cannot store")
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
                    b.Scratch <- grow b.Scratch raw.Length
                    let n = reader.CopyString(Span(b.Scratch, 0, raw.Length))
                    let s = ReadOnlySpan(b.Scratch, 0, n)
                    if s.IndexOf 0uy >= 0 then
                        raise (Refused "a string holds the NUL character (\\u0000), which jsonb cannot store")
                    b.Out <- grow b.Out (b.Pos + 2 + 6 * n)
                    b.Out[b.Pos] <- '"'B
                    let p = escape b.Out (b.Pos + 1) s
                    b.Out[p] <- '"'B
                    b.Pos <- p + 1
                else
                    // Unescaped content holds no quote, backslash or control character: jsonb writes it as is.
                    b.Out <- grow b.Out (b.Pos + 2 + raw.Length)
                    b.Out[b.Pos] <- '"'B
                    raw.CopyTo(Span(b.Out, b.Pos + 1, raw.Length))
                    b.Out[b.Pos + 1 + raw.Length] <- '"'B
                    b.Pos <- b.Pos + 2 + raw.Length
            | JsonTokenType.Number ->
                beforeValue b
                number b reader.ValueSpan
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
            b.Input <- grow b.Input (json.Length * 3)
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
                    | Refused why -> Error why
                    | :? InvalidOperationException -> Error "a string escapes a lone surrogate, which jsonb cannot store"
                    | :? JsonException as e -> Error("the text is not one JSON value: " + e.Message)
                finally
                    JsonbState.Trim b
