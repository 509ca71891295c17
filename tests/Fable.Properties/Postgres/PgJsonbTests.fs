// Core's jsonb text against the server's: for generated JSON (nested objects and arrays, duplicate keys, unicode
// with astral characters, every escape, numbers in every notation with huge and tiny exponents and many digits),
// `JsonbText.normalize` gives exactly `SELECT $1::jsonb::text`, and refuses exactly what PostgreSQL refuses.
module Fable.Tests.PgJsonbTests

open Expecto
open Npgsql
open Fable.FSharp
open Fable.Tests.Support

let private server = lazy (NpgsqlDataSource.Create(PgServer.connectionString ()))

/// What PostgreSQL prints for `text` as jsonb, or its refusal.
let private printed (text: string) : Result<string, string> =
    use cmd = server.Force().CreateCommand "SELECT $1::jsonb::text"
    cmd.Parameters.Add(NpgsqlParameter(Value = text)) |> ignore
    try
        Ok(cmd.ExecuteScalar() :?> string)
    with
    | :? PostgresException as p -> Error(p.SqlState + " " + p.MessageText)
    | :? System.Text.EncoderFallbackException as e -> Error e.Message

let tests =
    testList "jsonb text" [
        property "Core's jsonb text equals PostgreSQL's, and Core refuses what PostgreSQL refuses" 2000 JsonGen.value (fun text ->
            match JsonbText.normalize text, printed text with
            | Ok core, Ok pg -> Expect.equal core pg (sprintf "the text of %s" text)
            | Error _, Error _ -> ()
            | core, pg -> failtestf "%s: Core gave %A, PostgreSQL %A" text core pg)
    ]
