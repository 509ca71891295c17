// Runners in separate OS processes: this test executable relaunched with `--pm-child` runs a host until it is
// killed. A child that holds both process managers hangs mid-batch, a host in this process competes for them,
// the child is killed (SIGKILL): the survivor takes over and every event is still handled exactly once.
module Fable.Tests.ProcessManagerProcessTests

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Threading
open System.Threading.Tasks
open Expecto
open Npgsql
open Fable
open Fable.Tests.PmDomain

/// The argument that starts the child mode.
[<Literal>]
let ChildFlag = "--pm-child"

/// Recorders x and y as `runner`; with `hangAfter`, each hangs (inside its open batch transaction) on the
/// event after that many handled ones, printing "hang <name>" first.
let private recorders (runner: string) (hangAfter: int option) =
    [ for name in [ "x"; "y" ] ->
          let handled = ref 0
          recorderWith name runner 10 (ErrorPolicy.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin (fun _ _ _ ->
              task {
                  match hangAfter with
                  | Some n when Interlocked.Increment &handled.contents > n ->
                      Console.Out.WriteLine("hang " + name)
                      Console.Out.Flush()
                      do! Task.Delay Timeout.Infinite
                      return Ok()
                  | _ -> return Ok()
              }) ]

/// The child mode: `--pm-child CONNECTION APP_SCHEMA FABLE_SCHEMA HANG_AFTER`. Runs until killed.
let runChild (args: string[]) : int =
    match args with
    | [| connection; app; fable; hangAfter |] ->
        let b = NpgsqlConnectionStringBuilder(connection)
        b.SearchPath <- app
        use ds = NpgsqlDataSource.Create(b.ConnectionString)
        let h = (hostOn ds fable "child" (recorders "child" (Some(int hangAfter)))).GetAwaiter().GetResult()
        (h :> IProcessManagerHost).Start(CancellationToken.None).Wait()
        Console.Out.WriteLine "started"
        Thread.Sleep Timeout.Infinite
        0
    | _ ->
        eprintfn "usage: %s CONNECTION APP_SCHEMA FABLE_SCHEMA HANG_AFTER" ChildFlag
        2

/// This executable (apphost, or `dotnet` with the entry assembly) with `args`.
let private selfStart (args: string list) =
    let exe = Environment.ProcessPath
    let args =
        if Path.GetFileNameWithoutExtension exe = "dotnet" then Assembly.GetEntryAssembly().Location :: args else args
    let psi = ProcessStartInfo(exe)
    for a in args do
        psi.ArgumentList.Add a
    psi.RedirectStandardOutput <- true
    psi.UseShellExecute <- false
    psi

let private killedChildTest =
    testTask "a runner process killed mid-batch loses nothing: the competing runner takes over and handles each event once" {
        do! using (fun env ->
            task {
                let! store = writer env
                for key in 0L .. 3L do
                    for _ in 1..5 do
                        let! _ = bump store key 3
                        ()
                // 60 events; the child commits two batches of 10 per recorder and hangs in the third.
                let psi = selfStart [ ChildFlag; PgServer.connectionString (); env.AppSchema; env.FableSchema; "25" ]
                use child = Process.Start psi
                let hung = Collections.Generic.HashSet<string>()
                let allHung = TaskCompletionSource()
                child.OutputDataReceived.Add(fun e ->
                    if not (isNull e.Data) && e.Data.StartsWith "hang " then
                        lock hung (fun () ->
                            hung.Add(e.Data.Substring 5) |> ignore
                            if hung.Count = 2 then allHung.TrySetResult() |> ignore))
                child.BeginOutputReadLine()
                try
                    let! first = Task.WhenAny(allHung.Task, child.WaitForExitAsync())
                    Expect.isTrue (obj.ReferenceEquals(first, allHung.Task)) "the child hangs in a batch of each recorder (it did not exit)"
                    let! survivor = host env "parent" (recorders "parent" None)
                    let survivor = survivor :> IProcessManagerHost
                    do! survivor.Start CancellationToken.None
                    for name in [ "x"; "y" ] do
                        let! st = status survivor name
                        Expect.equal st.Holder (Some "child") (name + ": the hung child holds it; the competing runner waits")
                        let! handled = seen env name
                        Expect.equal handled.Length 20 (name + ": the child committed whole batches only")
                    child.Kill true
                    do! child.WaitForExitAsync()
                    do! catchUp survivor
                    let! events = committed env
                    for name in [ "x"; "y" ] do
                        let! handled = seen env name
                        expectOnceInChainOrder name events (fun _ -> true) [ for (id, _, _) in handled -> id ]
                        let byRunner = handled |> List.countBy (fun (_, r, _) -> r) |> Map.ofList
                        Expect.equal byRunner (Map.ofList [ "child", 20; "parent", 40 ]) (name + ": the survivor handled the rest, including the interrupted batch")
                        let! st = status survivor name
                        Expect.equal st.Holder (Some "parent") (name + ": the survivor holds it now")
                    do! survivor.Stop()
                finally
                    if not child.HasExited then child.Kill true
            })
    }

let tests = testList "processes" [ killedChildTest ]
