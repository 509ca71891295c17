// How PostgreSQL's numeric prints a JSON number as jsonb stores it (the exact decimal value, as many digits after the
// point as the text gives minus its exponent, no sign on zero), and the numbers numeric refuses.
namespace Fable.FSharp

open System
open System.Text

/// Numbers in jsonb's normal text form.
module internal JsonbNumber =
    /// The largest number of digits `numeric` keeps after the decimal point.
    [<Literal>]
    let MaxScale = 16383

    /// The largest number of digits `numeric` keeps before the decimal point (weight 32767 in base 10,000).
    [<Literal>]
    let MaxIntegerDigits = 131072

    /// Exponents from this magnitude on are refused by `numeric` whatever the digits.
    [<Literal>]
    let MaxExponent = 1073741823L

    let private tooBig (t: ReadOnlySpan<byte>) =
        let text = Encoding.ASCII.GetString(if t.Length > 40 then t.Slice(0, 40) else t)
        JsonbRefused(
            sprintf "the number %s%s is out of jsonb's range (numeric keeps at most %d digits before the decimal point and %d after)"
                text (if t.Length > 40 then "…" else "") MaxIntegerDigits MaxScale)

    /// Digit `k` of a number's integer digits followed by its fraction digits.
    let inline private digitAt (t: ReadOnlySpan<byte>) intStart intLen fracStart k =
        if k < intLen then t[intStart + k] else t[fracStart + k - intLen]

    /// Writes JSON number `t` at Pos as PostgreSQL's numeric prints it: the exact decimal value with as many digits
    /// after the point as the text gives minus its exponent (none when that is negative), no sign on zero.
    let write (b: JsonbBuffers) (t: ReadOnlySpan<byte>) =
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
            b.Out <- JsonbBuffer.grow b.Out (pos + t.Length)
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
            b.Out <- JsonbBuffer.grow b.Out (pos + 3 + max integerDigits 1 + scale)
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

