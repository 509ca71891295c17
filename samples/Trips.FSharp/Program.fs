// The F# trips sample on the in-memory interpreter: start a trip, raise an alarm, refuse a second start with the
// typed error, end it, and read the log back as the union.
module TripsFSharp.Program

open System
open System.Threading
open Fable.FSharp
open TripsFSharp.Trip

[<EntryPoint>]
let main _ =
    let ct = CancellationToken.None
    match TripsApp.inMemory () with
    | Error e ->
        eprintfn "the app is invalid: %O" e
        1
    | Ok store ->
        let app = store.Interpreter
        let trip, animal, tracker, user = Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid()
        let now = DateTimeOffset.UtcNow
        let show what (r: Result<Emitted<Trip>, EmitError<TripError>>) =
            match r with
            | Ok e -> printfn "%-14s -> %A, %d alarm(s)" what e.Aggregate.State.Status e.Aggregate.State.AlarmCount
            | Error(EmitError.Refused err) -> printfn "%-14s -> refused: %A" what err
            | Error(EmitError.Failed err) -> printfn "%-14s -> failed: %O" what err
        task {
            let! r = Decider.emit app trips trip (start animal tracker user now) ct
            show "start" r
            let! r = Decider.emit app trips trip (raiseAlarm "low battery" (now.AddMinutes 5.0)) ct
            show "alarm" r
            let! r = Decider.emit app trips trip (start animal tracker user now) ct
            show "start again" r
            let! r = Decider.emit app trips trip (finish (now.AddMinutes 30.0)) ct
            show "end" r
            match! Decider.log app trips trip ct with
            | Ok events ->
                for stored, e in events do
                    printfn "  #%d %-14s %A" stored.Id stored.TypeName e
            | Error e -> printfn "log failed: %O" e
            printfn "trip_alarms rows: %d" (store.Rows "trip_alarms").Length
        }
        |> fun t -> t.Wait()
        0
