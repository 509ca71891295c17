// The trip aggregate: its state, how each event changes it, and how it maps to the ordinary `trips` table
// (a normal table with a uuid `id` and `last_event_id`; you may query it directly).
using Fable.CSharp;

namespace TripsSample.Domain;

/// <summary>Where a trip is in its life.</summary>
public enum TripStatus
{
    /// <summary>No event yet.</summary>
    New,
    /// <summary>Started and not ended.</summary>
    Active,
    /// <summary>Ended.</summary>
    Ended,
}

/// <summary>A trip's state: the `trips` row.</summary>
public sealed record Trip(Guid Id, TripStatus Status, Guid? AnimalId, Guid? TrackerId, Guid? StartedById,
                          DateTimeOffset? StartedAt, DateTimeOffset? EndedAt, int AlarmCount);

/// <summary>The trip aggregate's definition.</summary>
public static class Trips
{
    /// <summary>The `trips` table, keyed by uuid.</summary>
    public static readonly AggregateType<Trip, Guid> Type =
        AggregateType<Trip, Guid>.Create("trips",
                initial: id => new Trip(id, TripStatus.New, null, null, null, null, null, 0),
                toRow: ToRow,
                ofRow: OfRow)
            .Columns(t => t.Text("status").Uuid("animal_id", nullable: true).Uuid("tracker_id", nullable: true)
                           .Uuid("started_by_id", nullable: true).TimestampTz("started_at", nullable: true)
                           .TimestampTz("ended_at", nullable: true).Integer("alarm_count"))
            .On<TripStarted>((t, e) => t with
            {
                Status = TripStatus.Active, AnimalId = e.AnimalId, TrackerId = e.TrackerId, StartedById = e.StartedById,
                StartedAt = e.StartedAt,
            })
            .On<TripEnded>((t, e) => t with { Status = TripStatus.Ended, EndedAt = e.EndedAt })
            .On<AlarmRaised>((t, _) => t with { AlarmCount = t.AlarmCount + 1 });

    private static IReadOnlyDictionary<string, object?> ToRow(Trip t) =>
        Rows.Of(("status", t.Status.ToString().ToLowerInvariant()), ("animal_id", t.AnimalId), ("tracker_id", t.TrackerId),
                ("started_by_id", t.StartedById), ("started_at", t.StartedAt), ("ended_at", t.EndedAt), ("alarm_count", t.AlarmCount));

    private static Trip OfRow(IReadOnlyDictionary<string, object?> r) =>
        new(r.Value<Guid>("id"), Enum.Parse<TripStatus>(r.Value<string>("status") ?? "new", ignoreCase: true),
            r.Value<Guid?>("animal_id"), r.Value<Guid?>("tracker_id"), r.Value<Guid?>("started_by_id"),
            r.Value<DateTimeOffset?>("started_at"), r.Value<DateTimeOffset?>("ended_at"), r.Value<int>("alarm_count"));
}
