// Generated JSON texts for the jsonb normal-form properties: nested objects and arrays, duplicate and reordered keys,
// strings with every kind of escape (astral characters too), numbers in every notation, random whitespace; and, now
// and then, what jsonb cannot store (NUL, lone surrogates, numbers out of numeric's range).
module Fable.Tests.JsonGen

open System
open FsCheck.FSharp

/// Whitespace JSON allows between tokens.
let private space = Gen.frequency [ 6, Gen.constant ""; 3, Gen.constant " "; 1, Gen.elements [ "\n"; "\t "; "\r\n  " ] ]

let private digits (least: int) (most: int) =
    gen {
        let! n = Gen.choose (least, most)
        let! ds = Gen.listOfLength n (Gen.elements [ '0' .. '9' ])
        return String(Array.ofList ds)
    }

/// A JSON number: integers, fractions (with trailing zeros), exponents of every sign and size, negative zero.
let number =
    gen {
        let! sign = Gen.elements [ ""; ""; "-" ]
        let! integer =
            Gen.frequency
                [ 3, Gen.constant "0"
                  6, Gen.map2 (fun (d: char) rest -> string d + rest) (Gen.elements [ '1' .. '9' ]) (digits 0 4)
                  1, Gen.map2 (fun (d: char) rest -> string d + rest) (Gen.elements [ '1' .. '9' ]) (digits 10 40) ]
        let! fraction = Gen.frequency [ 5, Gen.constant ""; 3, digits 1 6 |> Gen.map ((+) "."); 1, digits 10 40 |> Gen.map ((+) ".") ]
        let! exponent =
            Gen.frequency
                [ 6, Gen.constant ""
                  3, Gen.map3 (fun e s d -> e + s + d) (Gen.elements [ "e"; "E" ]) (Gen.elements [ ""; "+"; "-" ]) (digits 1 3)
                  1, Gen.map3 (fun e s d -> e + s + d) (Gen.elements [ "e"; "E" ]) (Gen.elements [ ""; "+"; "-" ])
                         (Gen.elements [ "00"; "0007"; "400"; "1000"; "16383"; "16384"; "16380"; "131071"; "131072"; "200000"
                                         "1073741822"; "1073741823"; "99999999999999999999" ]) ]
        return sign + integer + fraction + exponent
    }

/// A piece of a JSON string's content as written in JSON text.
let private piece (unstorable: bool) =
    Gen.frequency
        [ yield 10, Gen.elements [ "a"; "Z"; "7"; " "; "é"; "ß"; "字"; "😀"; "\u007f"; "\u2028"; "\uffff"; "'"; "{" ]
          yield 4, Gen.elements [ "\\\""; "\\\\"; "\\/"; "\\b"; "\\f"; "\\n"; "\\r"; "\\t" ]
          yield 4, Gen.elements [ "\\u0041"; "\\u00e9"; "\\u00E9"; "\\u0001"; "\\u001f"; "\\u001F"; "\\u007f"; "\\u0022"; "\\u005c"
                                  "\\u002f"; "\\u2028"; "\\ud83d\\ude00"; "\\uD83D\\uDE00"; "\\u5b57"; "\\u0008"; "\\u000a" ]
          if unstorable then
              yield 1, Gen.elements [ "\\u0000"; "\\ud800"; "\\udc00"; "x\\ud83d"; string (char 0xD800) ] ]

/// The text of a JSON string (with its quotes).
let private text (unstorable: bool) =
    Gen.sized (fun size -> Gen.choose (0, min 8 (size / 4 + 1)))
    |> Gen.bind (fun n -> Gen.listOfLength n (piece unstorable))
    |> Gen.map (fun ps -> "\"" + String.concat "" ps + "\"")

/// The text of a key: often one of a few (duplicates, ties in length) and sometimes any string.
let private key (unstorable: bool) =
    Gen.frequency
        [ 3, Gen.elements [ "\"a\""; "\"b\""; "\"aa\""; "\"ab\""; "\"B\""; "\"é\""; "\"\""; "\"\\u0061\""; "\"z\""; "\"zz\""; "\"é\"" ]
          2, text unstorable ]

/// A JSON value of at most `depth` nesting levels.
let rec private valueOf (unstorable: bool) (depth: int) =
    let scalar =
        Gen.frequency
            [ 3, number
              3, text unstorable
              1, Gen.elements [ "true"; "false"; "null" ] ]
    if depth <= 0 then scalar
    else
        let inner = valueOf unstorable (depth - 1)
        let wrap (o: string) (c: string) (items: string list) =
            gen {
                let! before = space
                let! after = space
                let! seps = Gen.listOfLength items.Length space
                let body = String.Join(",", List.map2 (fun (s: string) (i: string) -> s + i + s) seps items)
                return o + before + body + after + c
            }
        let count = Gen.sized (fun size -> Gen.choose (0, min 6 (size / 10 + 2)))
        Gen.frequency
            [ 2, scalar
              2, count |> Gen.bind (fun n -> Gen.listOfLength n inner) |> Gen.bind (wrap "[" "]")
              3, count
                 |> Gen.bind (fun n -> Gen.listOfLength n (Gen.map3 (fun k s v -> k + s + ":" + s + v) (key unstorable) space inner))
                 |> Gen.bind (wrap "{" "}") ]

/// Any JSON value, sometimes one jsonb cannot store.
let value = Gen.choose (0, 4) |> Gen.bind (valueOf true)

/// A JSON object jsonb can store but for the rare piece it cannot (for metadata).
let metaObject (unstorable: bool) =
    gen {
        let! n = Gen.choose (0, 5)
        let! members = Gen.listOfLength n (Gen.map3 (fun k s v -> k + s + ":" + v) (key unstorable) (Gen.elements [ ""; " " ]) (valueOf unstorable 2))
        let! s = Gen.elements [ ""; " "; "\n" ]
        return "{" + s + String.Join("," + s, members) + s + "}"
    }

/// A text for a string payload field: characters of every kind, sometimes a NUL or a lone surrogate.
let storedText (unstorable: bool) =
    let pieces =
        [| yield! [ "a"; "Z"; " "; "\""; "\\"; "/"; "é"; "字"; "😀"; "\n"; "\t"; "\b"; "\u001f"; "\u007f"; "\u2028"; "<"; "&"; "+" ]
           if unstorable then yield! [ "\000"; string (char 0xD800); string (char 0xDC00) ] |]
    Gen.elements pieces |> Gen.listOf |> Gen.map (String.concat "")
