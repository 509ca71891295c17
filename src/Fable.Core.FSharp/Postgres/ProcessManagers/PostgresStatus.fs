// A read-only view of the process managers stored in a schema, for monitoring: it needs no runtime, registers
// nothing and never takes a process manager's lock, so it cannot become a runner.
namespace Fable.FSharp.Postgres

open System.Threading
open System.Threading.Tasks
open Npgsql
open NpgsqlTypes
open Fable.FSharp

/// Reads the process-manager table of a Fable schema.
[<AbstractClass; Sealed>]
type PostgresStatus =
    /// The status of every process manager stored in `schema` (by name; the state is the stored JSON).
    /// Infrastructure when the schema has no process-manager table (not migrated yet, or another schema).
    static member ListStored(dataSource: NpgsqlDataSource, schema: string, ct: CancellationToken) : Task<Result<ProcessManagerInfo list, FableError>> =
        task {
            if isNull dataSource then
                return Error(InvalidDefinition [ "the PostgreSQL data source is null" ])
            elif System.String.IsNullOrWhiteSpace schema then
                return Error(InvalidDefinition [ "the schema name is blank" ])
            else
                try
                    use! conn = dataSource.OpenConnectionAsync ct
                    let! exists =
                        PmTable.rows conn null "SELECT to_regclass($1) IS NOT NULL AS ok"
                            [ NpgsqlParameter(Value = PmTable.table schema, NpgsqlDbType = NpgsqlDbType.Text) ] ct
                    if not ((List.head exists)["ok"] :?> bool) then
                        return
                            Error(Infrastructure(sprintf "schema %s has no process_managers table: no Fable app has migrated it (build one with this schema) or the schema name is wrong" (Sql.quote schema), None))
                    else
                        let! all = PmTable.statusAll conn schema ct
                        return Ok all
                with e ->
                    return Error(PgErrors.ofExn None ct e)
        }
