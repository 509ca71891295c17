// The animal and the tracker as aggregates of their own, so a trip start can lock them: "animal available" and
// "tracker available" are read under the animal's and the tracker's lock, not only the trip's.
using Fable.CSharp;

namespace TripsSample.Domain;

/// <summary>The animal went on trip <paramref name="TripId"/> (recorded on the animal's booking).</summary>
public sealed record AnimalBooked(Guid AnimalId, Guid TripId);

/// <summary>The tracker went on trip <paramref name="TripId"/> (recorded on the tracker's booking).</summary>
public sealed record TrackerBooked(Guid TrackerId, Guid TripId);

/// <summary>The booking of an animal or a tracker: the last trip it went on.</summary>
public sealed record Booking(Guid Id, Guid? LastTripId);

/// <summary>The `animal_bookings` and `tracker_bookings` aggregates, keyed by the animal's and the tracker's id.</summary>
public static class Bookings
{
    /// <summary>One booking per animal.</summary>
    public static readonly AggregateType<Booking, Guid> Animals = Of("animal_bookings").On<AnimalBooked>((b, e) => b with { LastTripId = e.TripId });

    /// <summary>One booking per tracker.</summary>
    public static readonly AggregateType<Booking, Guid> Trackers = Of("tracker_bookings").On<TrackerBooked>((b, e) => b with { LastTripId = e.TripId });

    private static AggregateType<Booking, Guid> Of(string table) =>
        AggregateType.Create<Booking, Guid>(table, id => new Booking(id, null), b => Rows.Of(("last_trip_id", b.LastTripId)),
                                            r => new Booking(r.Value<Guid>("id"), r.Value<Guid?>("last_trip_id")))
            .Columns(t => t.Uuid("last_trip_id", nullable: true));
}
