// Grants (decisions that read the trip_grants table) and the trip-statistics process manager, with the kit.
using Fable.CSharp;
using Fable.Testing;
using TripsSample.Domain;
using Xunit;

namespace TripsSample.Tests;

public sealed class GrantAndStatisticsTests
{
    static readonly User Ada = new(new Guid("00000000-0000-0000-0000-00000000000a"), "ada", IsAdmin: false);   // fixed ids: rows compare in id order
    static readonly User Cy = new(new Guid("00000000-0000-0000-0000-00000000000c"), "cy", IsAdmin: false);
    static readonly Guid TripId = Guid.NewGuid(), Animal = Guid.NewGuid(), Tracker = Guid.NewGuid();
    static readonly DateTimeOffset At = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    /// <summary>An active trip started by Ada (its handler gave her the starter grant).</summary>
    static AppSpecification ActiveTrip() =>
        Specification.ForApp(TripsApp.Register)
            .GivenRows("animals", Rows.Of(("id", Animal), ("name", "Rex"), ("owner_id", Ada.Id)))
            .Given(Trips.Type, TripId, new TripStarted(TripId, Animal, Ada.Id, Tracker, At));

    [Fact]
    public async Task A_grant_is_issued_once() =>
        await ActiveTrip().When(Trips.Type, TripId, TripCommands.IssueGrant(Cy, "viewer"))
            .Then(new TripGrantIssued(TripId, Cy.Id, "viewer"))
            .ThenRows("trip_grants", Rows.Of(("id", TripGrants.Id(TripId, Ada.Id)), ("role", "starter")),
                                     Rows.Of(("id", TripGrants.Id(TripId, Cy.Id)), ("role", "viewer")));

    [Fact]
    public async Task A_second_grant_for_the_same_user_is_refused() =>
        await ActiveTrip().When(Trips.Type, TripId, TripCommands.IssueGrant(Ada, "viewer"))
            .ThenFails(TripErrors.GrantMismatch, "ada already has access");

    [Fact]
    public async Task A_grant_on_an_ended_trip_is_refused() =>
        await ActiveTrip().Given(Trips.Type, TripId, new TripEnded(TripId, At.AddHours(1)))
            .When(Trips.Type, TripId, TripCommands.IssueGrant(Cy, "viewer"))
            .ThenFails(TripErrors.WrongTripStatus);

    [Fact]
    public async Task Revoking_deletes_the_grant_row_and_revoking_twice_is_refused()
    {
        await ActiveTrip().When(Trips.Type, TripId, TripCommands.RevokeGrant(Ada))
            .Then(new TripGrantRevoked(TripId, Ada.Id))
            .ThenRows("trip_grants");
        await ActiveTrip().Given(Trips.Type, TripId, new TripGrantRevoked(TripId, Ada.Id))
            .When(Trips.Type, TripId, TripCommands.RevokeGrant(Ada))
            .ThenFails(TripErrors.GrantMismatch, "ada has no access");
    }

    [Fact]
    public async Task Statistics_count_trips_alarms_and_minutes_per_animal() =>
        await Specification.ForProcessManager(TripsApp.Register, TripStatistics.ProcessManager)
            .Given(Trips.Type, TripId, new TripStarted(TripId, Animal, Ada.Id, Tracker, At),
                   new AlarmRaised(TripId, "battery", At.AddMinutes(10)), new TripEnded(TripId, At.AddMinutes(90)))
            .ThenState(new TripTotals(Started: 1, Ended: 1, Alarms: 1))
            .ThenRows("trip_statistics", Rows.Of(("id", Animal), ("trips", 1), ("ended", 1), ("alarms", 1), ("minutes", 90.0)));
}
