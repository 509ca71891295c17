// A process manager that follows the global log and maintains the `trip_statistics` read model per animal
// (trips, ended trips, alarms, minutes tracked). Its writes, state and checkpoint commit together.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace TripsSample.Domain;

/// <summary>The process manager's own state: totals over every trip.</summary>
public sealed record TripTotals(int Started, int Ended, int Alarms);

/// <summary>The trip statistics read model.</summary>
public static class TripStatistics
{
    /// <summary>The process manager, from the origin of the log.</summary>
    public static readonly ProcessManager<TripTotals> ProcessManager =
        ProcessManager<TripTotals>.Create("trip-statistics", new TripTotals(0, 0, 0))
            .WithBatchSize(100)
            .WithErrorPolicy(ErrorPolicy.Retry(TimeSpan.FromSeconds(1), maxAttempts: 5))
            .On<TripStarted>((ctx, s, e) => Bump(ctx, e.AnimalId, trips: 1).Map(_ => s with { Started = s.Started + 1 }))
            .On<TripEnded>((ctx, s, e) =>
                TripOf(ctx, e.TripId).Bind(trip => Bump(ctx, trip.AnimalId!.Value, ended: 1,
                                                        minutes: (e.EndedAt - trip.StartedAt!.Value).TotalMinutes))
                                     .Map(_ => s with { Ended = s.Ended + 1 }))
            .On<AlarmRaised>((ctx, s, e) =>
                TripOf(ctx, e.TripId).Bind(trip => Bump(ctx, trip.AnimalId!.Value, alarms: 1))
                                     .Map(_ => s with { Alarms = s.Alarms + 1 }));

    private static EitherAsync<Error, Trip> TripOf(ProcessContext ctx, Guid tripId) =>
        ctx.Work.Get(Trips.Type, tripId).Map(a => a.State);

    private static EitherAsync<Error, Unit> Bump(ProcessContext ctx, Guid animal, int trips = 0, int ended = 0, int alarms = 0, double minutes = 0) =>
        ctx.Tables.Get("trip_statistics", animal).Bind(row =>
        {
            int Old(string c) => row.Map(r => r.Value<int>(c)).IfNone(0);
            var oldMinutes = row.Map(r => r.Value<double>("minutes")).IfNone(0);
            return ctx.Tables.Upsert("trip_statistics", Rows.Of(
                ("id", animal), ("trips", Old("trips") + trips), ("ended", Old("ended") + ended), ("alarms", Old("alarms") + alarms),
                ("minutes", oldMinutes + minutes)));
        });
}
