// The trip aggregate in F#: the events as records (the same shapes and stable names as the C# sample's), their union,
// an exhaustive evolve, the row mapping of the ordinary `trips` table and decisions refusing with a typed error.
module TripsFSharp.Trip

open System
open Fable.FSharp

type TripStarted = { TripId: Guid; AnimalId: Guid; StartedById: Guid; TrackerId: Guid; StartedAt: DateTimeOffset }
type TripEnded = { TripId: Guid; EndedAt: DateTimeOffset }
type AlarmRaised = { TripId: Guid; Kind: string; RaisedAt: DateTimeOffset }

/// The trip's events: each case carries its record and is stored under the C# sample's name.
type TripEvent =
    | [<Event("trip_started")>] Started of TripStarted
    | [<Event("trip_ended")>] Ended of TripEnded
    | [<Event("alarm_raised")>] AlarmRaised of AlarmRaised

type Status =
    | New
    | Active
    | Finished

/// The `trips` row.
type Trip =
    { Id: Guid
      Status: Status
      AnimalId: Guid option
      TrackerId: Guid option
      StartedById: Guid option
      StartedAt: DateTimeOffset option
      EndedAt: DateTimeOffset option
      AlarmCount: int }

/// Why a decision refused.
type TripError =
    | AlreadyStarted of Guid
    | NotActive of Guid

let initial id =
    { Id = id; Status = New; AnimalId = None; TrackerId = None; StartedById = None; StartedAt = None; EndedAt = None; AlarmCount = 0 }

/// One event's effect on the trip (a new case does not compile until it is handled here).
let evolve (t: Trip) (e: TripEvent) =
    match e with
    | Started s ->
        { t with Status = Active; AnimalId = Some s.AnimalId; TrackerId = Some s.TrackerId; StartedById = Some s.StartedById; StartedAt = Some s.StartedAt }
    | Ended e -> { t with Status = Finished; EndedAt = Some e.EndedAt }
    | AlarmRaised _ -> { t with AlarmCount = t.AlarmCount + 1 }

let private statusText = function New -> "new" | Active -> "active" | Finished -> "ended"
let private statusOf = function "active" -> Active | "ended" -> Finished | _ -> New
let private opt (v: 'T option) = match v with Some x -> box x | None -> null

let private toRow (t: Trip) =
    Row.ofSeq [ "status", box (statusText t.Status); "animal_id", opt t.AnimalId; "tracker_id", opt t.TrackerId
                "started_by_id", opt t.StartedById; "started_at", opt t.StartedAt; "ended_at", opt t.EndedAt
                "alarm_count", box t.AlarmCount ]

let private ofRow (r: Row) =
    let get (c: string) : 'T option = Row.tryGet c r |> Option.map unbox<'T>
    let time c = Row.tryGet c r |> Option.map (function :? DateTime as d -> DateTimeOffset(d) | o -> unbox<DateTimeOffset> o)
    { Id = unbox<Guid> r["id"]; Status = statusOf (string r["status"]); AnimalId = get "animal_id"; TrackerId = get "tracker_id"
      StartedById = get "started_by_id"; StartedAt = time "started_at"; EndedAt = time "ended_at"; AlarmCount = Convert.ToInt32 r["alarm_count"] }

let events = EventUnion.create<TripEvent> ()

/// The trips aggregate: uuid keys, the `trips` table.
let trips: Decider<Trip, TripEvent, Guid> = Decider.create "trips" events initial evolve toRow ofRow

/// The `trips` table as Fable checks it (the C# sample declares the same columns).
let table =
    trips
    |> Decider.table
        [ TableDecl.column "status" ColumnType.Text; TableDecl.nullable "animal_id" ColumnType.Uuid
          TableDecl.nullable "tracker_id" ColumnType.Uuid; TableDecl.nullable "started_by_id" ColumnType.Uuid
          TableDecl.nullable "started_at" ColumnType.TimestampTz; TableDecl.nullable "ended_at" ColumnType.TimestampTz
          TableDecl.column "alarm_count" ColumnType.Integer ]

/// Starts a new trip.
let start animal tracker user at : Decision<Trip, TripEvent, TripError> =
    Decide(fun t ->
        match t.Status with
        | New -> Ok [ Started { TripId = t.Id; AnimalId = animal; StartedById = user; TrackerId = tracker; StartedAt = at } ]
        | Active | Finished -> Error(AlreadyStarted t.Id))

/// Records an alarm on an active trip.
let raiseAlarm kind at : Decision<Trip, TripEvent, TripError> =
    Decide(fun t ->
        match t.Status with
        | Active -> Ok [ AlarmRaised { TripId = t.Id; Kind = kind; RaisedAt = at } ]
        | New | Finished -> Error(NotActive t.Id))

/// Ends an active trip.
let finish at : Decision<Trip, TripEvent, TripError> =
    Decide(fun t ->
        match t.Status with
        | Active -> Ok [ Ended { TripId = t.Id; EndedAt = at } ]
        | New | Finished -> Error(NotActive t.Id))
