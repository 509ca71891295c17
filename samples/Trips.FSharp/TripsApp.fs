// The F# trips app: its registration (the union's cases, the alarm reaction, a follower counting trips), and the same
// app on the in-memory interpreter or on PostgreSQL. `Interop` lets the C# tests drive it against a C# app's log.
module TripsFSharp.TripsApp

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable.FSharp
open Fable.FSharp.InMemory
open Fable.FSharp.Postgres
open TripsFSharp.Trip

/// Every alarm gets a `trip_alarms` row (upserted, so a replay writes the same row).
let recordAlarm: Reaction<Trip, Guid, TripEvent> =
    Reaction.create "record_alarm" (fun ctx e ->
        match e with
        | AlarmRaised a ->
            ctx.Uow.Tables.Upsert(
                "trip_alarms",
                Row.ofSeq [ "id", box ctx.Recorded.Id; "trip_id", box a.TripId; "kind", box a.Kind; "raised_at", box a.RaisedAt ],
                ctx.CancellationToken)
        | Started _ | Ended _ -> Reaction.skip)

/// What the statistics follower counts.
type Counts = { Started: int; Ended: int; Alarms: int; Other: int }

/// Counts trip events across the whole log; events of other types (the C# app's bookings) arrive as Other.
let counts: Follower<Counts, TripEvent> =
    Follower.create "fsharp-trip-counts" { Started = 0; Ended = 0; Alarms = 0; Other = 0 } (fun c _ e ->
        match e with
        | Followed.Event(Started _) -> Ok { c with Started = c.Started + 1 }
        | Followed.Event(Ended _) -> Ok { c with Ended = c.Ended + 1 }
        | Followed.Event(AlarmRaised _) -> Ok { c with Alarms = c.Alarms + 1 }
        | Followed.Other -> Ok { c with Other = c.Other + 1 })

/// The app's validated definition.
let runtime () : Result<Runtime, FableError> =
    EventRegistry.empty
    |> Decider.register trips
    |> Result.bind (fun events ->
        Runtime.build
            { Events = events
              Router = Decider.routes [ recordAlarm ] trips
              ProcessManagers = [ Follower.definition Trip.events counts ]
              Tables =
                [ table
                  TableDecl.table "trip_alarms" KeyType.Int
                      [ TableDecl.column "trip_id" ColumnType.Uuid; TableDecl.column "kind" ColumnType.Text
                        TableDecl.column "raised_at" ColumnType.TimestampTz ] ] })

/// The app on the in-memory interpreter.
let inMemory () = runtime () |> Result.map (fun rt -> InMemoryStore.Create rt)

/// The app on PostgreSQL: `schema` holds Fable's own tables; `trips` and `trip_alarms` are found on the search path.
let postgres (dataSource: NpgsqlDataSource) (schema: string) : Task<Result<PostgresStore, FableError>> =
    match runtime () with
    | Error e -> Task.FromResult(Error e)
    | Ok rt -> PostgresStore.Create(dataSource, rt, { PostgresOptions.Default with Schema = schema })

/// Plain .NET calls for the C# tests that share one PostgreSQL log between the C# sample and this app.
type Interop =
    /// The trip's events as this app reads them: "Case kind/at" per event, in chain order (or the error's text).
    static member History(dataSource: NpgsqlDataSource, schema: string, trip: Guid) : Task<string[]> =
        task {
            match! postgres dataSource schema with
            | Error e -> return [| string e |]
            | Ok store ->
                match! Decider.log (store :> IInterpreter) trips trip CancellationToken.None with
                | Error e -> return [| string e |]
                | Ok events ->
                    return
                        [| for _, e in events ->
                               match e with
                               | Started s -> sprintf "Started %O" s.AnimalId
                               | AlarmRaised a -> sprintf "AlarmRaised %s" a.Kind
                               | Ended e -> sprintf "Ended %O" e.EndedAt |]
        }

    /// Ends the trip through this app's decider: "ended", or the refusal or error.
    static member End(dataSource: NpgsqlDataSource, schema: string, trip: Guid, at: DateTimeOffset) : Task<string> =
        task {
            match! postgres dataSource schema with
            | Error e -> return string e
            | Ok store ->
                match! Decider.emit (store :> IInterpreter) trips trip (finish at) CancellationToken.None with
                | Ok _ -> return "ended"
                | Error(EmitError.Refused r) -> return sprintf "refused %A" r
                | Error(EmitError.Failed e) -> return string e
        }

    /// Runs this app's follower over the whole shared log: [| started; ended; alarms; other |].
    static member Counts(dataSource: NpgsqlDataSource, schema: string) : Task<int[]> =
        task {
            match! postgres dataSource schema with
            | Error e -> return failwithf "%O" e
            | Ok store ->
                match! PostgresProcessManagers.Create(store) with
                | Error e -> return failwithf "%O" e
                | Ok pms ->
                    let host = pms :> IProcessManagerHost
                    match! host.CatchUp CancellationToken.None with
                    | Error e -> return failwithf "%O" e
                    | Ok() ->
                        match! host.Status("fsharp-trip-counts", CancellationToken.None) with
                        | Error e -> return failwithf "%O" e
                        | Ok s ->
                            let c = counts.Load s.State
                            return [| c.Started; c.Ended; c.Alarms; c.Other |]
        }
