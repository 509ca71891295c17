// The API's endpoints over the trips domain: reference data, start/end a trip, raise an alarm, issue a grant, read a
// trip with its log, and the process managers' status. Fable's errors become problem details with their code.
using System.Text.Json.Nodes;
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using TripsSample.Domain;

namespace TripsWeb;

/// <summary>Body of POST /animals.</summary>
public sealed record NewAnimal(string Name, Guid OwnerId);
/// <summary>Body of POST /trackers.</summary>
public sealed record NewTracker(string Serial, bool Registered);
/// <summary>Body of POST /trips (the user stands for the signed-in user).</summary>
public sealed record StartTrip(Guid UserId, Guid AnimalId, Guid TrackerId, Guid? TripId = null, bool IsAdmin = false);
/// <summary>Body of POST /trips/{id}/grants.</summary>
public sealed record NewGrant(Guid UserId, string Role);
/// <summary>Body of POST /trips/{id}/alarms.</summary>
public sealed record NewAlarm(string Kind);
/// <summary>A recorded event as the API shows it.</summary>
public sealed record EventView(long Id, string Type, int Version, JsonNode? Data, DateTimeOffset RecordedAt);
/// <summary>A trip with its log.</summary>
public sealed record TripView(Trip Trip, long? LastEventId, IReadOnlyList<EventView> Log);

internal static class TripsApi
{
    public static void MapTripsApi(this WebApplication web)
    {
        web.MapPost("/animals", (NewAnimal a, FableApp app, CancellationToken ct) =>
        {
            var animal = new Animal(Guid.NewGuid(), a.Name, a.OwnerId);
            return Reply(app.Transact(u => u.Tables.Insert("animals", animal.Row, ct), ct).Map(_ => animal), Results.Ok);
        });

        web.MapPost("/trackers", (NewTracker t, FableApp app, CancellationToken ct) =>
        {
            var tracker = new Tracker(Guid.NewGuid(), t.Serial, t.Registered);
            return Reply(app.Transact(u => u.Tables.Insert("trackers", tracker.Row, ct), ct).Map(_ => tracker), Results.Ok);
        });

        web.MapPost("/trips", (StartTrip s, FableApp app, TimeProvider clock, CancellationToken ct) =>
        {
            var tripId = s.TripId ?? Guid.NewGuid();
            var started =
                from animal in Reference(app, "animals", s.AnimalId, r => new Animal(s.AnimalId, r.Value<string>("name") ?? "", r.Value<Guid>("owner_id")), ct)
                from tracker in Reference(app, "trackers", s.TrackerId, r => new Tracker(s.TrackerId, r.Value<string>("serial") ?? "", r.Value<bool>("registered")), ct)
                from trip in TripCommands.StartTrip(app, new User(s.UserId, s.UserId.ToString(), s.IsAdmin), animal, tracker, tripId, clock.GetUtcNow())
                select trip;
            return Reply(started, t => Results.Created($"/trips/{t.Id}", t.State));
        });

        web.MapPost("/trips/{id:guid}/end", (Guid id, FableApp app, TimeProvider clock, CancellationToken ct) =>
            Reply(app.Emit(Trips.Type, id, TripCommands.EndTrip(clock.GetUtcNow()), ct), t => Results.Ok(t.State)));

        web.MapPost("/trips/{id:guid}/alarms", (Guid id, NewAlarm a, FableApp app, TimeProvider clock, CancellationToken ct) =>
            Reply(app.Emit(Trips.Type, id, TripCommands.RaiseAlarm(a.Kind, clock.GetUtcNow()), ct), t => Results.Ok(t.State)));

        web.MapPost("/trips/{id:guid}/grants", (Guid id, NewGrant g, FableApp app, CancellationToken ct) =>
            Reply(app.Emit(Trips.Type, id, TripCommands.IssueGrant(new User(g.UserId, g.UserId.ToString(), false), g.Role), ct),
                  t => Results.Ok(t.State)));

        web.MapGet("/trips/{id:guid}", (Guid id, FableApp app, CancellationToken ct) =>
            Reply(app.Get(Trips.Type, id, ct).Bind(trip => app.Log(Trips.Type, id, ct).Map(log => new TripView(trip.State, trip.LastEventId,
                      log.Select(e => new EventView(e.Id, e.TypeName, e.TypeVersion, JsonNode.Parse(e.Data), e.InsertedAt)).ToArray()))),
                  Results.Ok));

        // Every process manager stored in the database, this app's or not; it only reads.
        web.MapGet("/process-managers", (FableApp app, CancellationToken ct) =>
            Reply(app.ProcessManagers.ListStored(ct), all => Results.Ok(all.Select(s => new
            {
                s.Name, Position = s.Position.ToString(), s.Lag, s.Active, s.Attempts, s.LastError, s.Holder, State = JsonNode.Parse(s.StateJson),
            }))));
    }

    /// <summary>A reference row as a domain record; a 404 problem when it is missing.</summary>
    private static EitherAsync<Error, T> Reference<T>(FableApp app, string table, Guid id, Func<IReadOnlyDictionary<string, object?>, T> read,
                                                      CancellationToken ct) =>
        app.Transact(u => u.Tables.Get(table, id, ct), ct)
           .Bind(row => row.Match(r => EitherAsync<Error, T>.Right(read(r)),
                                  () => EitherAsync<Error, T>.Left(Error.New(404, $"no {table} row {id}"))));

    /// <summary>The HTTP answer of a result: <paramref name="ok"/>, or a problem with the error's code.</summary>
    private static async Task<IResult> Reply<T>(EitherAsync<Error, T> result, Func<T, IResult> ok) =>
        await result.Match(Right: ok, Left: e => Results.Problem(title: e.Message, statusCode: Status(e),
                                                                extensions: new Dictionary<string, object?> { ["code"] = e.Code }));

    private static int Status(Error e) => e.Code switch
    {
        404 or FableErrors.NotFoundCode => StatusCodes.Status404NotFound,
        FableErrors.ConflictCode => StatusCodes.Status409Conflict,
        >= TripErrors.NotPermitted and <= TripErrors.GrantMismatch => StatusCodes.Status422UnprocessableEntity,
        FableErrors.InvalidDefinitionCode or FableErrors.UnstorableCode => StatusCodes.Status400BadRequest,
        _ => StatusCodes.Status500InternalServerError,
    };
}
