// The trip handlers: extra work inside each event's transaction. Like the seed's trip_started, starting a trip
// creates the initial grants; alarms get a row each. Handlers upsert, so Replay can run them again.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;

namespace TripsSample.Domain;

/// <summary>The `trip_grants` table's row ids.</summary>
public static class TripGrants
{
    /// <summary>The grant row id of <paramref name="user"/> on <paramref name="trip"/>.</summary>
    public static string Id(Guid trip, Guid user) => $"{trip}:{user}";

    /// <summary>A grant row.</summary>
    public static IReadOnlyDictionary<string, object?> Row(Guid trip, Guid user, string role) =>
        Rows.Of(("id", Id(trip, user)), ("trip_id", trip), ("user_id", user), ("role", role));
}

/// <summary>Routes for the trip's own events.</summary>
public static class TripHandlers
{
    /// <summary>Trip events → handlers, in order.</summary>
    public static Routes Routes() => Fable.CSharp.Routes.Empty
        .On<TripStarted>("create_initial_grants", CreateInitialGrants)
        .On<TripEnded>()
        .On<AlarmRaised>("record_alarm", (ctx, e) => ctx.Tables.Upsert("trip_alarms",
            Rows.Of(("id", ctx.Recorded.Id), ("trip_id", e.TripId), ("kind", e.Kind), ("raised_at", e.RaisedAt))));

    /// <summary>The user who started the trip and the animal's owner may see it.</summary>
    private static EitherAsync<Error, Unit> CreateInitialGrants(HandlerContext ctx, TripStarted e) =>
        ctx.Tables.Upsert("trip_grants", TripGrants.Row(e.TripId, e.StartedById, "starter"))
           .Bind(_ => ctx.Tables.Get("animals", e.AnimalId))
           .Bind(animal => animal.Map(a => a.Value<Guid>("owner_id")).Filter(owner => owner != e.StartedById).Match(
               Some: owner => ctx.Tables.Upsert("trip_grants", TripGrants.Row(e.TripId, owner, "owner")),
               None: () => EitherAsync<Error, Unit>.Right(Unit.Default)));
}

/// <summary>Routes for grants, kept in their own module and merged into the app's (as the seed merges
/// <c>Blog.handlers()</c>).</summary>
public static class GrantHandlers
{
    /// <summary>Grant events → handlers.</summary>
    public static Routes Routes() => Fable.CSharp.Routes.Empty
        .On<TripGrantIssued>("grant", (ctx, e) => ctx.Tables.Upsert("trip_grants", TripGrants.Row(e.TripId, e.UserId, e.Role)))
        .On<TripGrantRevoked>("revoke", (ctx, e) => ctx.Tables.Delete("trip_grants", TripGrants.Id(e.TripId, e.UserId)).Map(_ => Unit.Default));
}
