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
open Fable.FSharp
open Fable.Tests.PmDomain

/// The argument that starts the child mode.
[<Literal>]
let ChildFlag = "--pm-child"

/// Recorders x and y as `runner`. With `hangAfter`, each hangs (inside its open batch transaction) on the event
/// after that many handled ones, printing "hang <name>" first; with `delayMs`, each handling prints "h <name>"
/// and then takes that long (batches stay open long enough to be killed in the middle).
let private recorders (runner: string) (hangAfter: int option) (delayMs: int) =
    [ for name in [ "x"; "y" ] ->
          let handled = ref 0
          recorderWith name runner 10 (OnFailure.Retry(TimeSpan.FromMilliseconds 10.0, None)) StartAt.Origin (fun _ _ ct ->
              task {
                  match hangAfter with
                  | Some n when Interlocked.Increment &handled.contents > n ->
                      Console.Out.WriteLine("hang " + name)
                      do! Task.Delay Timeout.Infinite
                      return Ok()
                  | _ ->
                      if delayMs > 0 then
                          Console.Out.WriteLine("h " + name)
                          do! Task.Delay(delayMs, ct)
                      return Ok()
              }) ]

/// The child mode: `--pm-child CONNECTION APP_SCHEMA FABLE_SCHEMA RUNNER HANG_AFTER|- DELAY_MS`. Runs until killed.
let runChild (args: string[]) : int =
    match args with
    | [| connection; app; fable; runner; hangAfter; delayMs |] ->
        let b = NpgsqlConnectionStringBuilder(connection)
        b.SearchPath <- app
        use ds = NpgsqlDataSource.Create(b.ConnectionString)
        let hang = if hangAfter = "-" then None else Some(int hangAfter)
        let h = (hostOn ds fable runner (recorders runner hang (int delayMs))).GetAwaiter().GetResult()
        (h :> IProcessManagerHost).Start(CancellationToken.None).Wait()
        Console.Out.WriteLine "started"
        // Runs until killed, or until the parent test process ends (its end of our stdin closes).
        Console.In.ReadToEnd() |> ignore
        0
    | _ ->
        eprintfn "usage: %s CONNECTION APP_SCHEMA FABLE_SCHEMA RUNNER HANG_AFTER|- DELAY_MS" ChildFlag
        2

/// This executable (apphost, or `dotnet` with the entry assembly) with `args` (the partition tests start it too).
let selfStart (args: string list) =
    let exe = Environment.ProcessPath
    let args =
        if Path.GetFileNameWithoutExtension exe = "dotnet" then Assembly.GetEntryAssembly().Location :: args else args
    let psi = ProcessStartInfo(exe)
    for a in args do
        psi.ArgumentList.Add a
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardInput <- true
    psi.UseShellExecute <- false
    psi

let private killedChildTest =
    testTask "a runner process killed mid-batch loses nothing: the competing runner takes over and handles each event once" {
        do! using (fun env ->
            task {
                let! store = writer env
                let mutable last = LogPosition.Origin
                for key in 0L .. 3L do
                    for _ in 1..5 do
                        let! events = bump store key 3
                        last <- (List.last events).Position
                // Batches are full only once every event is visible (see `visible`).
                do! visible env last
                // 60 events; the child commits two batches per recorder (10, then 20: a full batch doubles the
                // next) and hangs in the third, at its 36th event.
                let psi = selfStart [ ChildFlag; PgServer.connectionString (); env.AppSchema; env.FableSchema; "child"; "35"; "0" ]
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
                    let! survivor = host env "parent" (recorders "parent" None 0)
                    let survivor = survivor :> IProcessManagerHost
                    do! survivor.Start CancellationToken.None
                    for name in [ "x"; "y" ] do
                        let! st = status survivor name
                        Expect.equal st.Holder (Some "child") (name + ": the hung child holds it; the competing runner waits")
                        let! handled = seen env name
                        Expect.equal handled.Length 30 (name + ": the child committed whole batches only (10 + 20)")
                    child.Kill true
                    do! child.WaitForExitAsync()
                    do! catchUp survivor
                    let! events = committed env
                    for name in [ "x"; "y" ] do
                        let! handled = seen env name
                        expectOnceInChainOrder name events (fun _ -> true) [ for (id, _, _) in handled -> id ]
                        let byRunner = handled |> List.countBy (fun (_, r, _) -> r) |> Map.ofList
                        Expect.equal byRunner (Map.ofList [ "child", 30; "parent", 30 ]) (name + ": the survivor handled the rest, including the interrupted batch")
                        let! st = status survivor name
                        Expect.equal st.Holder (Some "parent") (name + ": the survivor holds it now")
                    do! survivor.Stop()
                finally
                    if not child.HasExited then child.Kill true
            })
    }

/// Starts a child runner named `runner` that prints a line per handling; returns it and its count of such lines.
let private startChild (env: PgEnv.Env) (runner: string) =
    let child = Process.Start(selfStart [ ChildFlag; PgServer.connectionString (); env.AppSchema; env.FableSchema; runner; "-"; "2" ])
    let lines = ref 0
    child.OutputDataReceived.Add(fun e ->
        if not (isNull e.Data) && e.Data.StartsWith "h " then Interlocked.Increment &lines.contents |> ignore)
    child.BeginOutputReadLine()
    child, lines

/// Waits until `ready` holds (the deadline only bounds a hang; the test fails on it).
let private until (what: string) (ready: unit -> Task<bool>) =
    task {
        let deadline = DateTime.UtcNow.AddSeconds 60.0
        let! r = ready ()
        let mutable ok = r
        while not ok && DateTime.UtcNow < deadline do
            do! Task.Delay 10
            let! r = ready ()
            ok <- r
        Expect.isTrue ok what
    }

let private competingTest =
    testTask "runners in two child processes and this one compete while writers write; killing the children one by one loses nothing" {
        do! using (fun env ->
            task {
                let! store = writer env
                for key in 0L .. 3L do
                    let! _ = bump store key 5
                    ()
                let c1, c1Lines = startChild env "child-1"
                let mutable c2 = None
                try
                    // Alone, child-1 takes both process managers; it is killed while writers keep it busy.
                    do! until "child-1 handles" (fun () -> Task.FromResult(Volatile.Read &c1Lines.contents >= 15))
                    let child2, c2Lines = startChild env "child-2"
                    c2 <- Some child2
                    let! parent = host env "parent" (recorders "parent" None 0)
                    let parent = parent :> IProcessManagerHost
                    do! parent.Start CancellationToken.None
                    let writers =
                        Task.WhenAll
                            [ for key in 0L .. 3L ->
                                  Task.Run(fun () ->
                                      task {
                                          for _ in 1..10 do
                                              let! _ = bump store key 2
                                              do! Task.Delay 3
                                      } :> Task) ]
                    c1.Kill true
                    do! c1.WaitForExitAsync()
                    // The interrupted batch is pending: child-2 and this host race for the locks. Kill child-2 once it
                    // handles something (or once this host holds both, when child-2 lost the race).
                    do! until "child-2 handles, or this host holds both" (fun () ->
                        task {
                            if Volatile.Read &c2Lines.contents > 0 then return true
                            else
                                let! x = status parent "x"
                                let! y = status parent "y"
                                return x.Holder = Some "parent" && y.Holder = Some "parent"
                        })
                    child2.Kill true
                    do! child2.WaitForExitAsync()
                    do! writers
                    do! catchUp parent
                    let! events = committed env
                    for name in [ "x"; "y" ] do
                        let! handled = seen env name
                        expectOnceInChainOrder name events (fun _ -> true) [ for (id, _, _) in handled -> id ]
                        let! st = status parent name
                        Expect.equal st.Holder (Some "parent") (name + ": the survivor holds it")
                    do! parent.Stop()
                finally
                    for c in c1 :: Option.toList c2 do
                        if not c.HasExited then c.Kill true
            })
    }

let tests = testList "processes" [ killedChildTest; competingTest ]
