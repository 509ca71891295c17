// How many events a process manager's next batch reads: the declared BatchSize, doubled after each full batch that
// committed whole (up to BatchSizing.growthCap times the declared size) while the runner is behind; the declared size
// again after anything else. A count rule, no clock: both interpreters cut the log into the same batches.
namespace Fable.FSharp

/// Where a runner (or a catch-up) stands in growing its batches.
[<RequireQualifiedAccess>]
type internal BatchSizing =
    /// The declared size: at the start of a runner or catch-up, when live, after a failure or a control operation.
    | Declared
    /// The last batch was full and committed whole, ending at `after`: a batch that starts there reads `size`.
    | Grown of after: LogPosition * size: int

/// The sizing rule.
module internal BatchSizing =
    /// How many times the declared size a batch may grow to (a power of two: 1, 2, 4, 8, 16 times).
    [<Literal>]
    let growthCap = 16

    /// The size of a batch that starts at `checkpoint`: the grown size when the last batch ended exactly there,
    /// the declared size otherwise (the checkpoint moved by a control operation, or no full batch before).
    let size (declared: int) (sizing: BatchSizing) (checkpoint: LogPosition) : int =
        match sizing with
        | BatchSizing.Grown(after, n) when after = checkpoint -> n
        | _ -> declared

    /// The most events a batch may read whatever checkpoint it starts at: the grown size, when the last batch grew
    /// it, else the declared size (a reader that locks the checkpoint only after reading asks for this, then keeps
    /// `size` of them).
    let most (declared: int) (sizing: BatchSizing) : int =
        match sizing with
        | BatchSizing.Grown(_, n) -> n
        | BatchSizing.Declared -> declared

    /// The size after a full batch of `requested` events: double it, up to growthCap times `declared`
    /// (and never past Int32.MaxValue).
    let grown (declared: int) (requested: int) : int =
        let cap = min (int64 declared * int64 growthCap) (int64 System.Int32.MaxValue)
        int (max (int64 declared) (min (int64 requested * 2L) cap))

    /// The sizing after a batch read with `requested` events: `committed` is Some(count, checkpoint) when the batch
    /// committed whole (`count` events up to `checkpoint`); None when it failed, retreated, was cancelled, found
    /// the row changed or nothing to read. Full and committed grows; anything else is the declared size again.
    let after (declared: int) (requested: int) (committed: (int * LogPosition) option) : BatchSizing =
        match committed with
        | Some(count, checkpoint) when count >= requested -> BatchSizing.Grown(checkpoint, grown declared requested)
        | _ -> BatchSizing.Declared
