// Where the partitions of a re-partitioned process manager start (FableBuilder.Repartition).
namespace Fable.CSharp;

/// <summary>Where the new partitions of a re-partitioned process manager start.</summary>
public enum RepartitionStart
{
    /// <summary>Where the old rows stopped: every old row must be at the same checkpoint (runners stopped after
    /// catching up with writers paused). Nothing is handled twice or skipped.</summary>
    Drained,

    /// <summary>From the origin: every event is handled again by its new partition (a rebuild).</summary>
    Origin,
}
