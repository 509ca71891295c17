// Registers the trips domain with Fable, and the DDL of its tables for PostgreSQL (created when missing).
using Fable.CSharp;

namespace TripsSample.Domain;

/// <summary>The trips domain's registration.</summary>
public static class TripsApp
{
    /// <summary>Event types, the trip aggregate, the tables its handlers use, the trip and grant routes and the statistics
    /// process manager.</summary>
    public static FableBuilder Register(FableBuilder builder) =>
        builder.Event<TripStarted>("trip_started")
               .Event<TripEnded>("trip_ended")
               .Event<TripGrantIssued>("trip_grant_issued")
               .Event<TripGrantRevoked>("trip_grant_revoked")
               .Event<AlarmRaised>("alarm_raised")
               .Event<AnimalBooked>("animal_booked")
               .Event<TrackerBooked>("tracker_booked")
               .Aggregate(Trips.Type)
               .Aggregate(Bookings.Animals)
               .Aggregate(Bookings.Trackers)
               .Table("animals", KeyKind.Uuid, t => t.Text("name").Uuid("owner_id"))
               .Table("trackers", KeyKind.Uuid, t => t.Text("serial").Boolean("registered"))
               .Table("trip_grants", KeyKind.Text, t => t.Uuid("trip_id").Uuid("user_id").Text("role"))
               .Table("trip_alarms", KeyKind.Int, t => t.Uuid("trip_id").Text("kind").TimestampTz("raised_at"))
               .Table("trip_statistics", KeyKind.Uuid, t => t.Integer("trips").Integer("ended").Integer("alarms").Double("minutes"))
               .Routes(Routes.Empty.On<AnimalBooked>().On<TrackerBooked>())
               .Routes(TripHandlers.Routes())
               .Routes(GrantHandlers.Routes())
               .ProcessManager(TripStatistics.ProcessManager);

    /// <summary>The sample's tables on PostgreSQL: ordinary tables; the aggregate tables (`trips`, `animal_bookings`,
    /// `tracker_bookings`) add `last_event_id` for Fable. The names are unqualified, so the tables land in the first
    /// schema of the connection's search_path that exists (by default the schema named like the role, else `public`);
    /// Fable's own tables are in its schema `fable`, and Build warns (<c>FableApp.Warnings</c>) if these land there.</summary>
    public const string Ddl = """
        CREATE TABLE IF NOT EXISTS animals (id uuid PRIMARY KEY, name text NOT NULL, owner_id uuid NOT NULL);
        CREATE TABLE IF NOT EXISTS trackers (id uuid PRIMARY KEY, serial text NOT NULL, registered boolean NOT NULL);
        CREATE TABLE IF NOT EXISTS trips (
            id uuid PRIMARY KEY, last_event_id bigint NULL, status text NOT NULL, animal_id uuid, tracker_id uuid,
            started_by_id uuid, started_at timestamptz, ended_at timestamptz, alarm_count integer NOT NULL DEFAULT 0);
        CREATE INDEX IF NOT EXISTS trips_animal_id ON trips (animal_id);
        CREATE INDEX IF NOT EXISTS trips_tracker_id ON trips (tracker_id);
        CREATE TABLE IF NOT EXISTS animal_bookings (id uuid PRIMARY KEY, last_event_id bigint NULL, last_trip_id uuid);
        CREATE TABLE IF NOT EXISTS tracker_bookings (id uuid PRIMARY KEY, last_event_id bigint NULL, last_trip_id uuid);
        CREATE TABLE IF NOT EXISTS trip_grants (id text PRIMARY KEY, trip_id uuid NOT NULL, user_id uuid NOT NULL, role text NOT NULL);
        CREATE TABLE IF NOT EXISTS trip_alarms (id bigint PRIMARY KEY, trip_id uuid NOT NULL, kind text NOT NULL, raised_at timestamptz NOT NULL);
        CREATE TABLE IF NOT EXISTS trip_statistics (
            id uuid PRIMARY KEY, trips integer NOT NULL, ended integer NOT NULL, alarms integer NOT NULL, minutes double precision NOT NULL);
        """;
}
