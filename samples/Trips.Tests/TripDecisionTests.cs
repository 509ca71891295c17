// The trip's own rules, pure: Given the trip's events, When a command, Then its events, its refusal or its state.
using Fable.Testing;
using TripsSample.Domain;
using Xunit;

namespace TripsSample.Tests;

public sealed class TripDecisionTests
{
    static readonly Guid TripId = Guid.NewGuid(), Animal = Guid.NewGuid(), Ada = Guid.NewGuid(), Tracker = Guid.NewGuid();
    static readonly DateTimeOffset Start = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);
    static readonly AggregateSpecification<Trip, Guid> Trip = Specification.For(Trips.Type, TripId);
    static readonly TripStarted Started = new(TripId, Animal, Ada, Tracker, Start);

    [Fact]
    public void An_active_trip_ends() =>
        Trip.Given(Started).When(TripCommands.EndTrip(Start.AddHours(2)))
            .Then(new TripEnded(TripId, Start.AddHours(2)))
            .ThenState(t => t.Status == TripStatus.Ended && t.EndedAt == Start.AddHours(2), "ended at 10:00");

    [Fact]
    public void A_trip_that_never_started_cannot_end() =>
        Trip.When(TripCommands.EndTrip(Start)).ThenFails(TripErrors.WrongTripStatus, "is new, not active");

    [Fact]
    public void An_ended_trip_cannot_end_again() =>
        Trip.Given(Started, new TripEnded(TripId, Start.AddHours(1))).When(TripCommands.EndTrip(Start.AddHours(2)))
            .ThenFails(TripErrors.WrongTripStatus, "is ended");

    [Fact]
    public void An_active_trip_counts_its_alarms() =>
        Trip.Given(Started, new AlarmRaised(TripId, "geofence", Start.AddMinutes(5)))
            .When(TripCommands.RaiseAlarm("battery", Start.AddMinutes(9)))
            .Then(new AlarmRaised(TripId, "battery", Start.AddMinutes(9)))
            .ThenState(t => t.AlarmCount == 2, "two alarms");

    [Fact]
    public void An_ended_trip_raises_no_alarm() =>
        Trip.Given(Started, new TripEnded(TripId, Start.AddHours(1))).When(TripCommands.RaiseAlarm("battery", Start.AddHours(2)))
            .ThenFails(TripErrors.WrongTripStatus);

    [Fact]
    public void Starting_sets_the_whole_row() =>
        Trip.Given(Started).When(_ => LanguageExt.Prelude.Right<LanguageExt.Common.Error, IEnumerable<object>>([]))
            .Then()
            .ThenState(new Trip(TripId, TripStatus.Active, Animal, Tracker, Ada, Start, null, 0));
}
