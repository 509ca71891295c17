// SQL building blocks: quoted identifiers, parameters from .NET values, batch commands and rows read back.
// Identifiers are always quoted and values always parameters; nothing here touches the network.
namespace Fable.FSharp.Postgres

open System
open System.Collections.Generic
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// SQL text and parameter helpers.
module internal Sql =
    /// `name` as a quoted identifier ("a""b" for a"b).
    let quote (name: string) = "\"" + name.Replace("\"", "\"\"") + "\""

    /// A table name as SQL: "schema"."table" when the name has a dot (split at the first one), else "table".
    let table (name: string) =
        match name.IndexOf '.' with
        | -1 -> quote name
        | i -> quote (name.Substring(0, i)) + "." + quote (name.Substring(i + 1))

    /// `text` as a string literal ('it''s').
    let literal (text: string) = "'" + text.Replace("'", "''") + "'"

    let private isOption (t: Type) = t.IsGenericType && t.GetGenericTypeDefinition() = typedefof<option<int>>

    /// A parameter for a value written to a column: strings go untyped so the server reads them as the
    /// column's type (text, jsonb, uuid, ...); DateTimeOffset is sent in UTC; null and None are NULL,
    /// Some v is v.
    let rec valueParam (v: obj) : NpgsqlParameter =
        match v with
        | v when not (isNull v) && isOption (v.GetType()) -> valueParam (v.GetType().GetProperty("Value").GetValue v)
        | null -> NpgsqlParameter(Value = DBNull.Value)
        | :? DBNull -> NpgsqlParameter(Value = DBNull.Value)
        | :? string as s -> NpgsqlParameter(Value = s, NpgsqlDbType = NpgsqlDbType.Unknown)
        | :? DateTimeOffset as d -> NpgsqlParameter(Value = d.ToUniversalTime())
        | v -> NpgsqlParameter(Value = v)

    /// The Npgsql type of a declared column type.
    let dbType (t: ColumnType) =
        match t with
        | ColumnType.Uuid -> NpgsqlDbType.Uuid
        | ColumnType.BigInt -> NpgsqlDbType.Bigint
        | ColumnType.Integer -> NpgsqlDbType.Integer
        | ColumnType.Text -> NpgsqlDbType.Text
        | ColumnType.Boolean -> NpgsqlDbType.Boolean
        | ColumnType.Numeric -> NpgsqlDbType.Numeric
        | ColumnType.DoublePrecision -> NpgsqlDbType.Double
        | ColumnType.TimestampTz -> NpgsqlDbType.TimestampTz
        | ColumnType.Jsonb -> NpgsqlDbType.Jsonb
        | ColumnType.Bytea -> NpgsqlDbType.Bytea

    /// A parameter of the declared column `c` for its canonical value `v` (Core coerced it; null is NULL).
    let columnParam (c: ColumnDecl) (v: obj) =
        NpgsqlParameter(Value = (if isNull v then box DBNull.Value else v), NpgsqlDbType = dbType c.Type)

    /// A bigint parameter (NULL for None; typed: the value is not boxed).
    let int64Param (v: int64 option) =
        match v with
        | Some i -> NpgsqlParameter<int64>(TypedValue = i, NpgsqlDbType = NpgsqlDbType.Bigint) :> NpgsqlParameter
        | None -> NpgsqlParameter(Value = DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint)

    /// A text parameter.
    let textParam (s: string) = NpgsqlParameter(Value = s, NpgsqlDbType = NpgsqlDbType.Text)

    /// An aggregate key as a parameter of its own type (uuid, bigint or text; typed: the value is not boxed).
    let keyParam (key: AggregateKey) : NpgsqlParameter =
        match key with
        | AggregateKey.Uuid g -> NpgsqlParameter<Guid>(TypedValue = g, NpgsqlDbType = NpgsqlDbType.Uuid)
        | AggregateKey.Int i -> NpgsqlParameter<int64>(TypedValue = i, NpgsqlDbType = NpgsqlDbType.Bigint)
        | AggregateKey.Text s -> NpgsqlParameter(Value = s, NpgsqlDbType = NpgsqlDbType.Text)

    /// A batch command with positional parameters ($1, $2, ...).
    let command (sql: string) (parameters: NpgsqlParameter list) =
        let c = NpgsqlBatchCommand(sql)
        for p in parameters do
            c.Parameters.Add p |> ignore
        c

    /// The current row of `reader` as a Row (DB NULL becomes null): a CompactRow (two arrays) when the column names
    /// are distinct, otherwise a dictionary keeping the last value of a repeated name.
    let readRow (reader: NpgsqlDataReader) : Row =
        let n = reader.FieldCount
        let names = Array.zeroCreate<string> n
        let values = Array.zeroCreate<obj> n
        let mutable distinct = true
        for i in 0 .. n - 1 do
            names[i] <- reader.GetName i
            values[i] <- if reader.IsDBNull i then null else reader.GetValue i
            for j in 0 .. i - 1 do
                if String.Equals(names[j], names[i], StringComparison.Ordinal) then distinct <- false
        if distinct then CompactRow(names, values) :> Row
        else
            let d = Dictionary<string, obj>(n, StringComparer.Ordinal)
            for i in 0 .. n - 1 do
                d[names[i]] <- values[i]
            d :> Row

    /// The stored text of a key kind.
    let kindText (k: KeyType) =
        match k with
        | KeyType.Uuid -> "uuid"
        | KeyType.Int -> "int"
        | _ -> "text"

    /// The key's text as stored in the events table.
    let keyText (key: AggregateKey) =
        match key with
        | AggregateKey.Uuid g -> g.ToString("D")
        | AggregateKey.Int i -> i.ToString(Globalization.CultureInfo.InvariantCulture)
        | AggregateKey.Text s -> s

    /// The key rebuilt from its stored kind and text.
    let parseKey (kind: string) (text: string) =
        match kind with
        | "uuid" ->
            match Guid.TryParse text with
            | true, g -> Ok(AggregateKey.Uuid g)
            | _ -> Error(sprintf "stored uuid key %s is not a uuid" text)
        | "int" ->
            match Int64.TryParse(text, Globalization.NumberStyles.AllowLeadingSign, Globalization.CultureInfo.InvariantCulture) with
            | true, i -> Ok(AggregateKey.Int i)
            | _ -> Error(sprintf "stored int key %s is not a bigint" text)
        | "text" -> Ok(AggregateKey.Text text)
        | k -> Error(sprintf "stored key kind %s is unknown" k)

    /// The value of the `last_event_id` column of a row.
    let lastEventId (row: Row) =
        Row.tryGet "last_event_id" row |> Option.map (fun v -> Convert.ToInt64(v, Globalization.CultureInfo.InvariantCulture))
