// What PostgreSQL can store in a text, jsonb or key: no NUL character and no lone surrogate. One rule for every
// interpreter, checked before anything is sent (the in-memory interpreter refuses exactly what PostgreSQL would):
// strings and aggregate keys (row values are checked by the declared column's coercion, Core/Coerce.fs).
namespace Fable.FSharp

open System

/// Checks on strings bound for the database.
module internal Storable =
    /// Whether `s` holds a surrogate that is not half of a pair.
    let hasLoneSurrogate (s: string) =
        let mutable lone = false
        let mutable i = 0
        while not lone && i < s.Length do
            if Char.IsHighSurrogate s[i] && i + 1 < s.Length && Char.IsLowSurrogate s[i + 1] then i <- i + 2
            elif Char.IsSurrogate s[i] then lone <- true
            else i <- i + 1
        lone

    /// Why PostgreSQL cannot store `s` as text, or None when it can (null is SQL NULL: storable).
    let textProblem (s: string) : string option =
        if isNull s then None
        elif s.IndexOf '\000' >= 0 then Some "the text holds the NUL character (\\u0000), which PostgreSQL cannot store"
        elif hasLoneSurrogate s then Some "the text holds a lone surrogate (half of a UTF-16 pair), which is not valid UTF-8"
        else None

    /// `s` with its NUL characters, other control characters and lone surrogates shown as \uXXXX escapes (for
    /// messages).
    let show (s: string) =
        let b = Text.StringBuilder(s.Length + 8)
        let mutable i = 0
        while i < s.Length do
            let c = s[i]
            if Char.IsHighSurrogate c && i + 1 < s.Length && Char.IsLowSurrogate s[i + 1] then
                b.Append(c).Append(s[i + 1]) |> ignore
                i <- i + 2
            else
                if Char.IsSurrogate c || Char.IsControl c then b.AppendFormat("\\u{0:x4}", int c) |> ignore
                else b.Append c |> ignore
                i <- i + 1
        b.ToString()

    /// Ok when `s` can be stored; otherwise `Unstorable` naming `where` (e.g. "column ledger.note").
    let checkText (where: string) (s: string) : Result<unit, FableError> =
        match textProblem s with
        | None -> Ok()
        | Some why -> Error(Unstorable(where, why))

    /// Ok when `key` can be stored (a text key holds no NUL and no lone surrogate); Unstorable naming the key of
    /// aggregate table `table` otherwise.
    let checkKey (table: string) (key: AggregateKey) : Result<unit, FableError> =
        match key with
        | AggregateKey.Text s ->
            match textProblem s with
            | None -> Ok()
            | Some why -> Error(Unstorable(sprintf "the text key \"%s\" of aggregate %s" (show s) table, why + "; use another key"))
        | _ -> Ok()
