// StartTrip as a whole: permission, animal available, tracker registered and available (each read under the lock of
// what it reads), the trip's events and the initial grants its handler writes, and refusals that leave nothing.
using Fable.CSharp;
using Fable.Testing;
using TripsSample.Domain;
using Xunit;

namespace TripsSample.Tests;

public sealed class StartTripTests
{
    static readonly User Ada = new(new Guid("00000000-0000-0000-0000-00000000000a"), "ada", IsAdmin: false);   // fixed ids: rows compare in id order
    static readonly User Bob = new(Guid.NewGuid(), "bob", IsAdmin: false);
    static readonly User Admin = new(new Guid("00000000-0000-0000-0000-00000000000f"), "root", IsAdmin: true);
    static readonly Animal Rex = new(Guid.NewGuid(), "Rex", Ada.Id);
    static readonly Tracker Registered = new(Guid.NewGuid(), "T-1", Registered: true);
    static readonly Tracker Unregistered = new(Guid.NewGuid(), "T-2", Registered: false);
    static readonly Guid TripId = Guid.NewGuid(), OtherTrip = Guid.NewGuid();
    static readonly DateTimeOffset At = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    /// <summary>The trips app with Rex and both trackers in the reference tables.</summary>
    static AppSpecification World() =>
        Specification.ForApp(TripsApp.Register)
            .GivenRows("animals", Rex.Row)
            .GivenRows("trackers", Registered.Row, Unregistered.Row);

    static AppSpecification Start(AppSpecification spec, User user, Tracker tracker, Guid tripId) =>
        spec.When(app => TripCommands.StartTrip(app, user, Rex, tracker, tripId, At));

    [Fact]
    public async Task The_owner_starts_a_trip_and_gets_the_starter_grant() =>
        await Start(World(), Ada, Registered, TripId)
            .Then(new AnimalBooked(Rex.Id, TripId), new TrackerBooked(Registered.Id, TripId),
                  new TripStarted(TripId, Rex.Id, Ada.Id, Registered.Id, At))
            .ThenRows("trips", Rows.Of(("id", TripId), ("status", "active"), ("animal_id", Rex.Id), ("tracker_id", Registered.Id)))
            .ThenRows("trip_grants", Rows.Of(("user_id", Ada.Id), ("role", "starter")));

    [Fact]
    public async Task An_admin_starts_it_and_the_owner_gets_a_grant_too() =>
        await Start(World(), Admin, Registered, TripId)
            .ThenRows("trip_grants", Rows.Of(("id", TripGrants.Id(TripId, Rex.OwnerId)), ("role", "owner")),
                                     Rows.Of(("id", TripGrants.Id(TripId, Admin.Id)), ("role", "starter")));

    [Fact]
    public async Task Someone_else_may_not_start_a_trip_with_Rex() =>
        await Start(World(), Bob, Registered, TripId).ThenFails(TripErrors.NotPermitted, "bob may not start_trip with Rex");

    [Fact]
    public async Task Rex_on_an_active_trip_is_not_available() =>
        await Start(World().Given(app => TripCommands.StartTrip(app, Ada, Rex, Registered, OtherTrip, At)), Ada, Registered, TripId)
            .ThenFails(TripErrors.AnimalUnavailable, "Rex is already on a trip");

    [Fact]
    public async Task Rex_is_available_again_once_the_trip_ended() =>
        await World().Given(app => TripCommands.StartTrip(app, Ada, Rex, Registered, OtherTrip, At))
            .Given(Trips.Type, OtherTrip, new TripEnded(OtherTrip, At.AddHours(1)))
            .When(app => TripCommands.StartTrip(app, Ada, Rex, Registered, TripId, At.AddHours(2)))
            .Then(new AnimalBooked(Rex.Id, TripId), new TrackerBooked(Registered.Id, TripId),
                  new TripStarted(TripId, Rex.Id, Ada.Id, Registered.Id, At.AddHours(2)));

    [Fact]
    public async Task An_unregistered_tracker_is_refused_and_the_animal_stays_unbooked() =>
        await Start(World(), Ada, Unregistered, TripId)
            .ThenFails(TripErrors.TrackerNotRegistered, "tracker T-2 is not registered")
            .ThenRows("animal_bookings");

    [Fact]
    public async Task A_tracker_on_an_active_trip_is_not_available()
    {
        var fido = new Animal(Guid.NewGuid(), "Fido", Ada.Id);
        await World().GivenRows("animals", fido.Row)
            .Given(app => TripCommands.StartTrip(app, Ada, fido, Registered, OtherTrip, At))
            .When(app => TripCommands.StartTrip(app, Ada, Rex, Registered, TripId, At))
            .ThenFails(TripErrors.TrackerUnavailable, "tracker T-1 is already on a trip");
    }
}
