// The trips domain's own errors. They come back from Emit exactly as the decision returned them,
// so callers match on their codes.
using LanguageExt.Common;

namespace TripsSample.Domain;

/// <summary>Why a trip command was refused.</summary>
public static class TripErrors
{
    /// <summary>The user may not start a trip with this animal.</summary>
    public const int NotPermitted = 1001;
    /// <summary>The animal is already on an active trip.</summary>
    public const int AnimalUnavailable = 1002;
    /// <summary>The tracker is not registered.</summary>
    public const int TrackerNotRegistered = 1003;
    /// <summary>The tracker is already on an active trip.</summary>
    public const int TrackerUnavailable = 1004;
    /// <summary>The trip is not in the state the command needs.</summary>
    public const int WrongTripStatus = 1005;
    /// <summary>The grant does not exist (or already does).</summary>
    public const int GrantMismatch = 1006;

    /// <summary>A refusal with <paramref name="code"/> and a message for people.</summary>
    public static Error Of(int code, string message) => Error.New(code, message);
}
