// One isolated Postgres environment per test or fixture instance: an application schema (the search path,
// where TableSpec tables are created) and a separate Fable schema, a data source and a migrated store.
module Fable.Tests.PgEnv

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp
open Fable.FSharp.Postgres
open Fable.Tests.Fixture

/// `name` as a quoted identifier.
let q (name: string) = "\"" + name.Replace("\"", "\"\"") + "\""

/// The current row of a reader as a Row (DB NULL as null).
let readRow (r: NpgsqlDataReader) : Row =
    Row.ofSeq [ for i in 0 .. r.FieldCount - 1 -> r.GetName i, (if r.IsDBNull i then null else r.GetValue i) ]

/// The SQL type of a key kind.
let keyType (k: KeyType) = (ColumnType.OfKeyKind k).SqlName

/// CREATE TABLE for a declaration (id primary key, last_event_id for aggregates, its columns).
let createTableSql (spec: TableSpec) =
    let cols =
        [ sprintf "%s %s PRIMARY KEY" (q "id") (keyType spec.KeyKind) ]
        @ (if spec.Kind = TableKind.Aggregate then [ "last_event_id bigint NULL" ] else [])
        @ [ for c in spec.Columns -> sprintf "%s %s%s" (q c.Name) c.Type.SqlName (if c.Nullable then "" else " NOT NULL") ]
    sprintf "CREATE TABLE %s (%s)" (q spec.Name) (String.Join(", ", cols))

/// A data source on the test server whose search path is `schema`.
let dataSource (schema: string) (configure: NpgsqlConnectionStringBuilder -> unit) =
    let b = NpgsqlConnectionStringBuilder(PgServer.connectionString ())
    b.SearchPath <- schema
    b.MaxPoolSize <- 40
    configure b
    NpgsqlDataSource.Create(b.ConnectionString)

/// An isolated environment; dispose it to drop its schemas.
type Env(ds: NpgsqlDataSource, store: PostgresStore, app: string, fable: string) =
    member _.DataSource = ds
    member _.Store = store
    member _.Interpreter = store :> IInterpreter
    member _.AppSchema = app
    member _.FableSchema = fable

    /// Runs `sql` in its own transaction.
    member _.Exec(sql: string) : Task =
        task {
            use! conn = ds.OpenConnectionAsync()
            use cmd = new NpgsqlCommand(sql, conn)
            let! _ = cmd.ExecuteNonQueryAsync()
            ()
        }

    /// The first column of the first row of `sql`.
    member _.Scalar(sql: string) : Task<obj> =
        task {
            use! conn = ds.OpenConnectionAsync()
            use cmd = new NpgsqlCommand(sql, conn)
            return! cmd.ExecuteScalarAsync()
        }

    /// The committed rows of an application table, by id in code point order (DB NULL as null).
    member _.Rows(table: string) : Task<Row list> =
        task {
            use! conn = ds.OpenConnectionAsync()
            use cmd = new NpgsqlCommand(sprintf "SELECT * FROM %s" (q table), conn)
            use! r = cmd.ExecuteReaderAsync(CancellationToken.None)
            let rows = Collections.Generic.List<Row>()
            while r.Read() do
                rows.Add(readRow r)
            // By id as PostgreSQL's "C" collation (and the in-memory interpreter) orders ids.
            return rows |> Seq.sortWith (fun a b -> Coerce.compareIds a["id"] b["id"]) |> List.ofSeq
        }

    /// Every committed event id, ascending.
    member this.EventIds() : Task<int64 list> =
        task {
            use! conn = ds.OpenConnectionAsync()
            use cmd = new NpgsqlCommand(sprintf "SELECT id FROM %s.events ORDER BY id" (q fable), conn)
            use! r = cmd.ExecuteReaderAsync(CancellationToken.None)
            let ids = Collections.Generic.List<int64>()
            while r.Read() do
                ids.Add(r.GetInt64 0)
            return List.ofSeq ids
        }

    interface IAsyncDisposable with
        member _.DisposeAsync() =
            ValueTask(
                task {
                    do! (store :> IAsyncDisposable).DisposeAsync()
                    try
                        use! conn = ds.OpenConnectionAsync()
                        use cmd =
                            new NpgsqlCommand(
                                sprintf "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s CASCADE" (q app) (q fable),
                                conn)
                        let! _ = cmd.ExecuteNonQueryAsync()
                        ()
                    with e ->
                        eprintfn "dropping test schemas %s/%s failed: %s" app fable e.Message
                    do! ds.DisposeAsync()
                }
            )

/// A fresh environment with `tables` created in its application schema and a store for `rt`.
let createWith (rt: Runtime) (tables: TableSpec list) (notify: bool) (configure: NpgsqlConnectionStringBuilder -> unit) : Task<Env> =
    task {
        let n = Guid.NewGuid().ToString "N"
        let app, fable = "app_" + n, "fable_" + n
        let ds = dataSource app configure
        do!
            task {
                use! conn = ds.OpenConnectionAsync()
                let extra (t: TableSpec) =
                    match postgresOnlyDdl.TryGetValue t.Name with
                    | true, ddl -> ddl
                    | _ -> []
                let ddl = [ sprintf "CREATE SCHEMA %s" (q app) ] @ [ for t in tables -> createTableSql t ] @ List.collect extra tables
                for sql in ddl do
                    use cmd = new NpgsqlCommand(sql, conn)
                    let! _ = cmd.ExecuteNonQueryAsync()
                    ()
            }
        match! PostgresStore.Create(ds, declare tables rt, { Schema = fable; Notify = notify }) with
        | Ok store -> return new Env(ds, store, app, fable)
        | Error e -> return failwithf "creating the store failed: %O" e
    }

/// A fresh environment with notifications on and default connection settings.
let create rt tables = createWith rt tables true ignore

/// Runs `f` in a fresh environment whose connection settings `configure` adjusts, and drops it afterwards, also
/// when `f` fails.
let usingWith (rt: Runtime) (tables: TableSpec list) (configure: NpgsqlConnectionStringBuilder -> unit) (f: Env -> Task<unit>) : Task<unit> =
    task {
        let! env = createWith rt tables true configure
        let! failure =
            task {
                try
                    do! f env
                    return None
                with e ->
                    return Some e
            }
        do! (env :> IAsyncDisposable).DisposeAsync()
        match failure with
        | Some e -> System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e).Throw()
        | None -> ()
    }

/// Runs `f` in a fresh environment and drops it afterwards, also when `f` fails.
let using (rt: Runtime) (tables: TableSpec list) (f: Env -> Task<unit>) : Task<unit> = usingWith rt tables ignore f
