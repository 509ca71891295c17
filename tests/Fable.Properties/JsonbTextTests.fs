// Core's jsonb normal form without a server: cases whose text PostgreSQL 15 printed, and laws (the form is a fixed
// point; storability is decided the same way as `Payload.problem`). The comparison with the server itself is
// Postgres/PgJsonbTests.fs.
module Fable.Tests.JsonbTextTests

open Expecto
open Fable.FSharp
open Fable.Tests.Support

/// Inputs and the text `SELECT $1::jsonb::text` gave for them on PostgreSQL 15 (None: it refused the input).
let private printed =
    [ "1E+2", Some "100"
      "1.50", Some "1.50"
      "-0", Some "0"
      "-0.0", Some "0.0"
      "1e-3", Some "0.001"
      "1.50e1", Some "15.0"
      "0e-2", Some "0.00"
      "-0e5", Some "0"
      "-12.5e-1", Some "-1.25"
      "1e0000000000000000000000000000000000000003", Some "1000"
      "0e99999", Some "0"
      "0e131072", Some "0"
      "0e-16384", None
      "1e-16384", None
      "1e131072", None
      "1e2147483647", None
      "0e1073741823", None
      "0e-1073741823", None
      "00", None
      "[1,2, {\"b\":1,\"a\":[]}]", Some "[1, 2, {\"a\": [], \"b\": 1}]"
      "{\"a\":1,\"a\":2}", Some "{\"a\": 2}"
      "\"\\u00e9\\/\\u001f\\u007f\\b\"", Some "\"é/\\u001f\u007f\\b\""
      "{\"aa\":1,\"b\":2,\"é\":3,\"z\":4}", Some "{\"b\": 2, \"z\": 4, \"aa\": 1, \"é\": 3}"
      " { } ", Some "{}"
      "[ ]", Some "[]"
      "\" \"", Some "\" \""
      "{\"a\": \"\\u0000\"}", None
      "{\"\\u0000\": 1}", None
      "[\"\\ud800\"]", None
      "{\"k\": \"\\ud83d\\ude00\"}", Some "{\"k\": \"😀\"}" ]

let tests =
    testList "jsonb text" [
        testCase "numbers, keys, duplicates and escapes come out as PostgreSQL 15 printed them" <| fun () ->
            for input, expected in printed do
                match JsonbText.normalize input, expected with
                | Ok text, Some e -> Expect.equal text e (sprintf "%s" input)
                | Error _, None -> ()
                | got, _ -> failtestf "%s gave %A, PostgreSQL gave %A" input got expected

        testCase "numbers at numeric's limits keep every digit" <| fun () ->
            Expect.equal (JsonbText.normalize "1e131071" |> Result.map String.length) (Ok 131072) "131072 digits before the point"
            Expect.equal (JsonbText.normalize "1e-16383" |> Result.map String.length) (Ok 16385) "16383 digits after the point"
            Expect.equal (JsonbText.normalize "1e-1000" |> Result.map (fun s -> s.Substring(0, 6), s.Length)) (Ok("0.0000", 1002)) "1e-1000"

        testCase "text already in normal form is returned as it is" <| fun () ->
            let text = "{\"a\": [1, 2.50, \"x\"], \"bb\": {}}"
            match JsonbText.normalize text with
            | Ok t -> Expect.isTrue (obj.ReferenceEquals(t, text)) "the same string"
            | Error e -> failtest e

        property "the normal form is a fixed point, and storable exactly when Payload.problem says so" 500 JsonGen.value (fun text ->
            match JsonbText.normalize text with
            | Ok normal ->
                Expect.equal (JsonbText.normalize normal) (Ok normal) "normalising twice changes nothing"
                Expect.isNone (Payload.problem text) "storable"
            | Error why -> Expect.equal (Payload.problem text) (Some why) "refused for the same reason")
    ]
