// The trip commands. StartTrip is the seed's start_trip: permission, animal available, tracker registered and
// tracker available, each checked under the lock of what it reads (animal, then tracker, then trip; one transaction).
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using static LanguageExt.Prelude;

namespace TripsSample.Domain;

/// <summary>What users can do with trips.</summary>
public static class TripCommands
{
    /// <summary>Starts trip <paramref name="tripId"/> for <paramref name="animal"/> wearing <paramref name="tracker"/>, in one
    /// unit of work: it books the animal (locking it, then checking it has no active trip), books the tracker the same
    /// way, then starts the trip. Two starts with one animal are serialised on the animal's lock, so one wins.</summary>
    public static EitherAsync<Error, Aggregate<Trip, Guid>> StartTrip(FableApp app, User user, Animal animal, Tracker tracker, Guid tripId,
                                                                      DateTimeOffset startedAt) =>
        Can(user, "start_trip", animal).ToAsync().Bind(_ => app.Transact(u =>
            u.Emit(Bookings.Animals, animal.Id, (ctx, _) =>
                    AnimalAvailable(ctx, animal).Bind(_ => Events.Of(new AnimalBooked(animal.Id, tripId)).ToAsync()))
             .Bind(_ => u.Emit(Bookings.Trackers, tracker.Id, (ctx, _) =>
                    TrackerRegistered(ctx, tracker)
                        .Bind(_ => TrackerAvailable(ctx, tracker))
                        .Bind(_ => Events.Of(new TrackerBooked(tracker.Id, tripId)).ToAsync())))
             .Bind(_ => u.Emit(Trips.Type, tripId, trip => trip.Status == TripStatus.New
                    ? Events.Of(new TripStarted(tripId, animal.Id, user.Id, tracker.Id, startedAt))
                    : Events.Reject(TripErrors.Of(TripErrors.WrongTripStatus, $"trip {tripId} was already started"))))));

    /// <summary>Records an alarm on an active trip.</summary>
    public static Func<Trip, Either<Error, IEnumerable<object>>> RaiseAlarm(string kind, DateTimeOffset at) =>
        trip => MustBeActive(trip).Bind(_ => Events.Of(new AlarmRaised(trip.Id, kind, at)));

    /// <summary>Ends an active trip.</summary>
    public static Func<Trip, Either<Error, IEnumerable<object>>> EndTrip(DateTimeOffset at) =>
        trip => MustBeActive(trip).Bind(_ => Events.Of(new TripEnded(trip.Id, at)));

    /// <summary>Gives <paramref name="user"/> access to an active trip; reads the grants in the transaction.</summary>
    public static Func<DecideContext, Trip, EitherAsync<Error, IEnumerable<object>>> IssueGrant(User user, string role) =>
        (ctx, trip) => MustBeActive(trip).ToAsync()
            .Bind(_ => ctx.Tables.Get("trip_grants", TripGrants.Id(trip.Id, user.Id)))
            .Bind(existing => existing.IsSome
                ? EitherAsync<Error, IEnumerable<object>>.Left(TripErrors.Of(TripErrors.GrantMismatch, $"{user.Name} already has access"))
                : Events.Of(new TripGrantIssued(trip.Id, user.Id, role)).ToAsync());

    /// <summary>Takes <paramref name="user"/>'s access to the trip away.</summary>
    public static Func<DecideContext, Trip, EitherAsync<Error, IEnumerable<object>>> RevokeGrant(User user) =>
        (ctx, trip) => ctx.Tables.Get("trip_grants", TripGrants.Id(trip.Id, user.Id))
            .Bind(existing => existing.IsNone
                ? EitherAsync<Error, IEnumerable<object>>.Left(TripErrors.Of(TripErrors.GrantMismatch, $"{user.Name} has no access"))
                : Events.Of(new TripGrantRevoked(trip.Id, user.Id)).ToAsync());

    private static Either<Error, Unit> Can(User user, string action, Animal animal) =>
        user.IsAdmin || user.Id == animal.OwnerId
            ? unit
            : TripErrors.Of(TripErrors.NotPermitted, $"{user.Name} may not {action} with {animal.Name}");

    private static EitherAsync<Error, Unit> AnimalAvailable(DecideContext ctx, Animal animal) =>
        NoActiveTrip(ctx, "animal_id", animal.Id, TripErrors.Of(TripErrors.AnimalUnavailable, $"{animal.Name} is already on a trip"));

    private static EitherAsync<Error, Unit> TrackerRegistered(DecideContext ctx, Tracker tracker) =>
        ctx.Tables.Get("trackers", tracker.Id).Bind(row => row.Exists(r => r.Value<bool>("registered"))
            ? EitherAsync<Error, Unit>.Right(unit)
            : EitherAsync<Error, Unit>.Left(TripErrors.Of(TripErrors.TrackerNotRegistered, $"tracker {tracker.Serial} is not registered")));

    private static EitherAsync<Error, Unit> TrackerAvailable(DecideContext ctx, Tracker tracker) =>
        NoActiveTrip(ctx, "tracker_id", tracker.Id, TripErrors.Of(TripErrors.TrackerUnavailable, $"tracker {tracker.Serial} is already on a trip"));

    private static EitherAsync<Error, Unit> NoActiveTrip(DecideContext ctx, string column, Guid id, Error busy) =>
        ctx.Tables.Find("trips", column, id).Bind(rows => rows.Any(r => r.Value<string>("status") == "active")
            ? EitherAsync<Error, Unit>.Left(busy)
            : EitherAsync<Error, Unit>.Right(unit));

    private static Either<Error, Unit> MustBeActive(Trip trip) =>
        trip.Status == TripStatus.Active
            ? unit
            : TripErrors.Of(TripErrors.WrongTripStatus, $"trip {trip.Id} is {trip.Status.ToString().ToLowerInvariant()}, not active");
}
