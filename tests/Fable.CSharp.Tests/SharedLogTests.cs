// A C# app (samples/Trips) and an F# app (samples/Trips.FSharp: an event union with the same stable names) share one
// PostgreSQL log: each reads, decodes and follows the other's events, and the F# app's emit continues the C# app's chain.
using Fable.CSharp;
using FSharpTrips = TripsFSharp.TripsApp;
using TripsSample.Domain;
using Xunit;

namespace FacadeTests;

public sealed class SharedLogTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    [PostgresFact]
    public async Task A_CSharp_app_and_an_FSharp_app_read_each_others_events_from_one_log()
    {
        var (source, schema) = await h.Schema(TripsApp.Ddl);
        var fable = schema + "_fable";
        await using var app = await Expect.Right(TripsApp.Register(FableBuilder.Create()).UsePostgres(source, fable).Build());
        var owner = new User(Guid.NewGuid(), "owner", IsAdmin: false);
        var rex = new Animal(Guid.NewGuid(), "Rex", owner.Id);
        var tracker = new Tracker(Guid.NewGuid(), "T-1", Registered: true);
        await Expect.Right(app.Transact(u => u.Tables.Insert("animals", rex.Row).Bind(_ => u.Tables.Insert("trackers", tracker.Row))));
        var trip = Guid.NewGuid();
        var at = new DateTimeOffset(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);

        // The C# app starts the trip and raises an alarm; the F# app reads both as cases of its union.
        await Expect.Right(TripCommands.StartTrip(app, owner, rex, tracker, trip, at)
                                       .Bind(t => app.Emit(t, TripCommands.RaiseAlarm("low battery", at.AddMinutes(5)))));
        var history = await FSharpTrips.Interop.History(source, fable, trip);
        Assert.Equal(new[] { $"Started {rex.Id}", "AlarmRaised low battery" }, history);

        // The F# app ends the trip through its decider: the C# app decodes the event as its own class and reads the row.
        Assert.Equal("ended", await FSharpTrips.Interop.End(source, fable, trip, at.AddMinutes(30)));
        var log = await Expect.Right(app.Log(Trips.Type, trip));
        Assert.Equal(["trip_started", "alarm_raised", "trip_ended"], log.Select(e => e.TypeName));
        Assert.Equal(log[1].Id, log[2].PrevEventId);
        var ended = Assert.IsType<TripEnded>(Expect.Right(app.Decode(log[2])));
        Assert.Equal(new TripEnded(trip, at.AddMinutes(30)), ended);
        var row = await Expect.Right(app.Get(Trips.Type, trip));
        Assert.Equal(TripStatus.Ended, row.State.Status);
        Assert.Equal(1, row.State.AlarmCount);

        // The F# app's follower sees the C# app's trip events as its union and the bookings as Other.
        var counts = await FSharpTrips.Interop.Counts(source, fable);
        Assert.Equal(new[] { 1, 1, 1, 2 }, counts);
    }
}
