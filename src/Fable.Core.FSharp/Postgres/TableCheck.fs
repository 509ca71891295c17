// Checks the declared tables against the catalog when a store is created: each table exists, `id` is its primary
// key of the declared key type, every declared column exists with its declared type and nullability, and no
// undeclared column would refuse a row the declaration allows (NOT NULL without a default). All problems at once.
// Also finds the tables that resolve into Fable's own schema (a warning, not a problem).
namespace Fable.FSharp.Postgres

open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp

/// The catalog check of declared tables.
module internal TableCheck =
    /// A column as the catalog describes it.
    type CatalogColumn = { Name: string; Type: string; NotNull: bool; IsPrimaryKey: bool; HasDefault: bool }

    let private columnsSql =
        """SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
                  EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary
                          AND i.indnatts = 1 AND i.indkey[0] = a.attnum) AS is_pk,
                  (a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '') AS has_default
           FROM pg_attribute a
           WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped"""

    /// Whether `table` exists, and its columns (none when it does not).
    let read (conn: NpgsqlConnection) (table: string) (ct: CancellationToken) : Task<bool * CatalogColumn list> =
        task {
            use existsCmd = new NpgsqlCommand("SELECT to_regclass($1) IS NOT NULL", conn)
            existsCmd.Parameters.Add(Sql.textParam (Sql.table table)) |> ignore
            let! exists = existsCmd.ExecuteScalarAsync ct
            use colsCmd = new NpgsqlCommand(columnsSql, conn)
            colsCmd.Parameters.Add(Sql.textParam (Sql.table table)) |> ignore
            use! reader = colsCmd.ExecuteReaderAsync ct
            let cols = ResizeArray<CatalogColumn>()
            let mutable go = true
            while go do
                let! has = reader.ReadAsync ct
                if has then
                    cols.Add
                        { Name = reader.GetString 0; Type = reader.GetString 1; NotNull = reader.GetBoolean 2
                          IsPrimaryKey = reader.GetBoolean 3; HasDefault = reader.GetBoolean 4 }
                else
                    go <- false
            return unbox<bool> exists, List.ofSeq cols
        }

    let private nullability (nullable: bool) = if nullable then "NULL" else "NOT NULL"

    /// Every difference between a declared table and the catalog's.
    let problems (t: TableSchema) (exists: bool) (cols: CatalogColumn list) : string list =
        let name = t.Name
        let byName = cols |> List.map (fun c -> c.Name, c) |> Map.ofList
        [ if not exists then
              yield sprintf "declared table %s does not exist (create it with: %s)" name
                        (sprintf "CREATE TABLE %s (%s)" (Sql.table name)
                            (System.String.Join(", ", t.Columns |> Array.map (fun c ->
                                sprintf "%s %s%s%s" (Sql.quote c.Name) c.Type.SqlName (if c.Nullable then "" else " NOT NULL")
                                    (if c.Name = "id" then " PRIMARY KEY" else "")))))
          else
              for c in t.Columns do
                  match Map.tryFind c.Name byName with
                  | None -> yield sprintf "table %s has no column %s (declared %s %s)" name c.Name c.Type.SqlName (nullability c.Nullable)
                  | Some db ->
                      if db.Type <> c.Type.SqlName then
                          yield sprintf "column %s.%s is %s in the database but declared %s" name c.Name db.Type c.Type.SqlName
                      if c.Name = "id" && not db.IsPrimaryKey then
                          yield sprintf "column %s.id is not the table's primary key" name
                      elif db.NotNull = c.Nullable then
                          yield sprintf "column %s.%s is %s in the database but declared %s" name c.Name (nullability (not db.NotNull)) (nullability c.Nullable)
              let declared = set [ for c in t.Columns -> c.Name ]
              for db in cols do
                  if not (declared.Contains db.Name) && db.NotNull && not db.HasDefault then
                      yield sprintf "column %s.%s is NOT NULL without a default but not declared: rows written through Fable would lack it; declare it" name db.Name ]

    /// Ok when every declared table fits the catalog; otherwise InvalidDefinition naming every problem.
    let check (ds: NpgsqlDataSource) (schemas: TableSchemas) (ct: CancellationToken) : Task<Result<unit, FableError>> =
        task {
            if schemas.Decls.IsEmpty then return Ok()
            else
                try
                    use! conn = ds.OpenConnectionAsync ct
                    let found = ResizeArray<string>()
                    for d in schemas.Decls do
                        let! (exists, cols) = read conn d.Name ct
                        found.AddRange(problems (schemas.Find d.Name) exists cols)
                    if found.Count = 0 then return Ok() else return Error(InvalidDefinition(List.ofSeq found))
                with e ->
                    return Error(PgErrors.ofExn None ct e)
        }

    /// The schema `table` resolves into (through `search_path` when its name is unqualified); None when it does not exist.
    let schemaOf (conn: NpgsqlConnection) (table: string) (ct: CancellationToken) : Task<string option> =
        task {
            use cmd =
                new NpgsqlCommand(
                    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)", conn)
            cmd.Parameters.Add(Sql.textParam (Sql.table table)) |> ignore
            let! found = cmd.ExecuteScalarAsync ct
            return (match found with :? string as s -> Some s | _ -> None)
        }

    /// The warning for a user's table found in Fable's own schema: Fable's migrations own that schema's names, and
    /// dropping the schema to reset Fable would take the table along.
    let ownSchemaWarning (schema: string) (table: string) =
        sprintf "table %s resolves into Fable's own schema %s (as %s.%s): an unqualified CREATE TABLE lands in the first schema of search_path, which is \"$user\" when a schema is named like the role. Move the table (ALTER TABLE %s.%s SET SCHEMA public) and name it schema-qualified (\"public.%s\"), or give Fable another schema"
            table (Sql.quote schema) (Sql.quote schema) (Sql.quote table) (Sql.quote schema) (Sql.quote table) table

    /// A warning for each of `tables` that resolves into Fable's own `schema` (tables that do not exist give none).
    let ownSchemaWarnings (ds: NpgsqlDataSource) (schema: string) (tables: string seq) (ct: CancellationToken) : Task<Result<string list, FableError>> =
        task {
            try
                use! conn = ds.OpenConnectionAsync ct
                let found = ResizeArray<string>()
                for t in Seq.distinct tables do
                    match! schemaOf conn t ct with
                    | Some s when s = schema -> found.Add(ownSchemaWarning schema (match t.IndexOf '.' with -1 -> t | i -> t.Substring(i + 1)))
                    | _ -> ()
                return Ok(List.ofSeq found)
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }
