// The partition rule of partitioned process managers: which of N partitions an aggregate's events belong to, and
// the stored name of each partition. A stable contract (docs/scaling.md): stored checkpoints rely on it.
namespace Fable.FSharp

open System
open System.Globalization
open System.Text

/// One partition of a partitioned process manager: partition `Index` (0-based) of `Count`, of the declaration `Group`.
type PartitionSlot =
    { Group: string
      Index: int
      Count: int }

    /// The stored name of the partition: `Group#Index/Count` (e.g. `orders#3/8`).
    override this.ToString() = sprintf "%s#%d/%d" this.Group this.Index this.Count

/// How a process manager is partitioned.
[<RequireQualifiedAccess>]
type PmPartitioning =
    /// One runner follows every event (the default; stored under its name).
    | Single
    /// Declared with this many partitions (the runtime expands it into one `Slot` each).
    | Declared of count: int
    /// One partition of a partitioned declaration.
    | Slot of PartitionSlot

/// The partition hash and the partition names.
module Partitioning =
    /// The most partitions a process manager may declare.
    [<Literal>]
    let MaxPartitions = 1024

    /// The key's canonical stored text: a uuid in lower-case 8-4-4-4-12 form, an integer in invariant decimal,
    /// a text key as it is.
    let keyText (k: AggregateKey) =
        match k with
        | AggregateKey.Uuid g -> g.ToString("D")
        | AggregateKey.Int i -> i.ToString(CultureInfo.InvariantCulture)
        | AggregateKey.Text s -> s

    /// FNV-1a 32-bit (offset basis 2166136261, prime 16777619) over the UTF-8 bytes of `table + "\u0000" +
    /// keyText key`. STABLE CONTRACT: this function never changes between versions (a partition's checkpoint and
    /// state rely on which aggregates it owns); tests pin it with fixed vectors.
    let hash (a: AggregateId) : uint32 =
        let bytes = Encoding.UTF8.GetBytes(a.Table + "\u0000" + keyText a.Key)
        let mutable h = 2166136261u
        for b in bytes do
            h <- (h ^^^ uint32 b) * 16777619u
        h

    /// The partition (0 .. count-1) that follows the events of aggregate `a`: `hash a % count`.
    let partitionOf (count: int) (a: AggregateId) : int =
        if count < 1 then invalidArg (nameof count) "a partition count is 1 or more"
        int (hash a % uint32 count)

    /// Whether a process manager partitioned as `p` follows the events of `a`.
    let owns (p: PmPartitioning) (a: AggregateId) =
        match p with
        | PmPartitioning.Slot s -> partitionOf s.Count a = s.Index
        | PmPartitioning.Single
        | PmPartitioning.Declared _ -> true

    /// The slots of `group` declared with `count` partitions, in index order.
    let slots (group: string) (count: int) =
        [ for i in 0 .. count - 1 -> { Group = group; Index = i; Count = count } ]

    /// The slot a stored name denotes when it is a partition name of `group` (`group#i/n` with 0 <= i < n).
    let tryParse (group: string) (name: string) : PartitionSlot option =
        if isNull name || isNull group || not (name.StartsWith(group + "#", StringComparison.Ordinal)) then None
        else
            match name.Substring(group.Length + 1).Split('/') with
            | [| i; n |] ->
                match Int32.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture), Int32.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture) with
                | (true, i), (true, n) when i < n && string i = name.Substring(group.Length + 1).Split('/')[0] ->
                    Some { Group = group; Index = i; Count = n }
                | _ -> None
            | _ -> None

    /// The slot any stored name denotes when it is a partition name (`group#i/n`, the group being everything before
    /// the last `#`).
    let tryParseAny (name: string) : PartitionSlot option =
        if isNull name then None
        else
            match name.LastIndexOf '#' with
            | k when k > 0 -> tryParse (name.Substring(0, k)) name
            | _ -> None
