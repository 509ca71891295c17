// Where the benchmark runs: a throwaway durable PostgreSQL it starts and stops (also when killed), or a fresh
// database on the server FABLE_BENCH_CONNECTION names.
module Fable.Bench.Server

open System
open System.Diagnostics
open System.IO
open System.Threading
open Fable.Bench.Harness

let private run (file: string) (args: string) =
    let psi = ProcessStartInfo(file, args, RedirectStandardOutput = true, RedirectStandardError = true)
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEnd()
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    if p.ExitCode <> 0 then failwithf "%s %s failed: %s" file args err
    out.Trim()

/// Runs one statement on a server given by its connection string (no pool: the bench's own set-up and tear-down).
let private adminExec (connection: string) (sql: string) =
    use conn = new Npgsql.NpgsqlConnection(connection + ";Pooling=false")
    conn.Open()
    use cmd = new Npgsql.NpgsqlCommand(sql, conn)
    cmd.ExecuteNonQuery() |> ignore

/// Where the bench runs, disposed (or killed by SIGTERM, SIGINT, SIGHUP) once: a throwaway durable PostgreSQL it
/// starts and stops, or, with FABLE_BENCH_CONNECTION, a fresh database it creates on that server and drops (so a
/// second run never meets the first one's schemas and tables; the role needs CREATEDB).
type Server() =
    let given = Environment.GetEnvironmentVariable "FABLE_BENCH_CONNECTION"
    let dir = Path.Combine(Path.GetTempPath(), "fable-bench-" + string (Random.Shared.Next()))
    let database = "fable_bench_" + Guid.NewGuid().ToString "N"
    let script = Path.Combine(repoRoot (), "scripts", "pg-server.sh")
    let conn =
        if String.IsNullOrEmpty given then
            Directory.CreateDirectory dir |> ignore
            run "bash" (sprintf "%s start %s --durable" script dir)
        else
            try
                adminExec given (sprintf "CREATE DATABASE %s" database)
            with e ->
                failwithf "FABLE_BENCH_CONNECTION: could not create the bench's own database %s on that server (%s). The bench needs a role with CREATEDB; or unset FABLE_BENCH_CONNECTION to let it start a throwaway server." database e.Message
            Npgsql.NpgsqlConnectionStringBuilder(given, Database = database).ConnectionString
    let stopped = ref 0
    let stop () =
        if Interlocked.Exchange(&stopped.contents, 1) = 0 then
            if String.IsNullOrEmpty given then run "bash" (sprintf "%s stop %s" script dir) |> ignore
            else
                Npgsql.NpgsqlConnection.ClearAllPools()
                adminExec given (sprintf "DROP DATABASE IF EXISTS %s WITH (FORCE)" database)
    // A killed bench stops its server too (the signal's default action, ending the process, follows the handler).
    let signals =
        [ for s in [ Runtime.InteropServices.PosixSignal.SIGTERM; Runtime.InteropServices.PosixSignal.SIGINT
                     Runtime.InteropServices.PosixSignal.SIGHUP ] ->
              Runtime.InteropServices.PosixSignalRegistration.Create(s, fun _ -> stop ()) ]
    /// The connection string of the server.
    member _.ConnectionString = conn
    interface IDisposable with
        member _.Dispose() =
            for r in signals do r.Dispose()
            stop ()
