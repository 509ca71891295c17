// The trips domain's events: everything that changes a trip or the rows that hang off it starts as one of these.
namespace TripsSample.Domain;

/// <summary>A trip began: an animal wears a tracker, started by a user.</summary>
public sealed record TripStarted(Guid TripId, Guid AnimalId, Guid StartedById, Guid TrackerId, DateTimeOffset StartedAt);

/// <summary>A trip ended.</summary>
public sealed record TripEnded(Guid TripId, DateTimeOffset EndedAt);

/// <summary>A user was given access to a trip.</summary>
public sealed record TripGrantIssued(Guid TripId, Guid UserId, string Role);

/// <summary>A user's access to a trip was taken away.</summary>
public sealed record TripGrantRevoked(Guid TripId, Guid UserId);

/// <summary>The tracker raised an alarm during a trip.</summary>
public sealed record AlarmRaised(Guid TripId, string Kind, DateTimeOffset RaisedAt);
