// The PostgreSQL server the tests use: FABLE_PG_CONNECTION when set, otherwise a throwaway cluster started
// with scripts/pg-server.sh on first use and stopped by `stop` (called by Program at exit, also on failure).
module Fable.Tests.PgServer

open System
open System.Diagnostics
open System.IO

/// The folder that holds Fable.sln, found by walking up from the test binaries.
let repoRoot () =
    let rec up (d: DirectoryInfo) =
        if isNull d then failwith "Fable.sln not found above the test binaries"
        elif File.Exists(Path.Combine(d.FullName, "Fable.sln")) then d.FullName
        else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

let private script (args: string) =
    let psi = ProcessStartInfo("bash", sprintf "%s %s" (Path.Combine(repoRoot (), "scripts", "pg-server.sh")) args)
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEnd()
    let err = p.StandardError.ReadToEnd()
    p.WaitForExit()
    if p.ExitCode <> 0 then failwithf "pg-server.sh %s failed (%d): %s" args p.ExitCode err
    out

let private gate = obj ()
let mutable private started: string option = None
let mutable private connection: string option = None

/// Stops the throwaway server if this run started one (idempotent).
let stop () =
    lock gate (fun () ->
        match started with
        | Some dir ->
            started <- None
            connection <- None
            try script (sprintf "stop %s" dir) |> ignore with e -> eprintfn "stopping the test PostgreSQL failed: %s" e.Message
        | None -> ())

/// The connection string of the test server, starting a throwaway one on first use.
let connectionString () =
    lock gate (fun () ->
        match connection with
        | Some cs -> cs
        | None ->
            let cs =
                match Environment.GetEnvironmentVariable "FABLE_PG_CONNECTION" with
                | null
                | "" ->
                    let dir = Path.Combine(Path.GetTempPath(), "fable-pg-" + Guid.NewGuid().ToString "N")
                    started <- Some dir
                    AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> stop ())
                    let out = script (sprintf "start %s" dir)
                    out.Trim().Split('\n') |> Array.last |> fun s -> s.Trim()
                | cs -> cs
            connection <- Some cs
            cs)
