// The aggregates a store has seen with a row: an emit on one of them locks its row alone, without the create lock
// (which only matters while a row is missing). A hint, never a rule: a row gone meanwhile falls back to the full lock.
namespace Fable.FSharp.Postgres

open System.Collections.Concurrent
open System.Threading
open Fable.FSharp

/// A bounded set of aggregates whose row existed when this store last locked or wrote it, emptied when it would
/// hold more than `capacity`; text keys longer than `KnownRows.LongestKey` characters are not remembered (their
/// emits take the create lock as before), so that its memory stays small. Thread-safe. What it says only picks the
/// statements of an emit's first round trip: an emit on a known aggregate whose row is gone (deleted by SQL, or a
/// creating transaction rolled back) finds no row, forgets the aggregate and locks again as for an unknown one (one
/// round trip more, same outcome).
[<Sealed>]
type internal KnownRows(capacity: int) =
    let set = ConcurrentDictionary<AggregateId, bool>()
    // Entries added since the last clear (approximate under concurrency; only bounds the size).
    let mutable count = 0

    /// 16,384 aggregates (about 2 MB with short keys, at most ~6 MB): the working set of most applications' recently
    /// emitted aggregates.
    new() = KnownRows(16_384)

    /// Whether the store saw aggregate `id` with a row.
    member _.Contains(id: AggregateId) = set.ContainsKey id

    /// The longest text key remembered, in characters.
    static member LongestKey = 128

    /// Notes that aggregate `id` has a row (it was locked or written by this store).
    member _.Add(id: AggregateId) =
        let small =
            match id.Key with
            | AggregateKey.Text t -> t.Length <= KnownRows.LongestKey
            | _ -> true
        if small && not (set.ContainsKey id) && set.TryAdd(id, true) && Interlocked.Increment(&count) > capacity then
            Volatile.Write(&count, 0)
            set.Clear()

    /// Forgets aggregate `id` (its row was not found under the lock).
    member _.Remove(id: AggregateId) =
        match set.TryRemove id with
        | true, _ -> Interlocked.Decrement(&count) |> ignore
        | _ -> ()

    /// How many aggregates it holds now.
    member _.Count = set.Count
