// Reference data the trip commands check: users (passed in, like the seed's current_user), animals and trackers
// (ordinary tables, read inside the emit's transaction).
using Fable.CSharp;

namespace TripsSample.Domain;

/// <summary>The user running a command.</summary>
public sealed record User(Guid Id, string Name, bool IsAdmin);

/// <summary>An animal and who owns it (a row of `animals`).</summary>
public sealed record Animal(Guid Id, string Name, Guid OwnerId)
{
    /// <summary>The `animals` row.</summary>
    public IReadOnlyDictionary<string, object?> Row => Rows.Of(("id", Id), ("name", Name), ("owner_id", OwnerId));
}

/// <summary>A tracker and whether it is registered (a row of `trackers`).</summary>
public sealed record Tracker(Guid Id, string Serial, bool Registered)
{
    /// <summary>The `trackers` row.</summary>
    public IReadOnlyDictionary<string, object?> Row => Rows.Of(("id", Id), ("serial", Serial), ("registered", Registered));
}
