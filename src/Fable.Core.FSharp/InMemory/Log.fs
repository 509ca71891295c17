// What the in-memory engine needs of its committed global log: append in commit order, read by index. The engine
// guards it with its lock; EventLog is the compact implementation (nothing in it changes the semantics).
namespace Fable.FSharp.InMemory

open Fable.FSharp

/// The committed events in (Tx, Id) order, addressed by their index. Not thread-safe: the engine guards it.
type internal ILog =
    /// The number of committed events.
    abstract Count: int
    /// Registers an aggregate once; the index its events are appended with.
    abstract AddAggregate: id: AggregateId -> int
    /// Appends `e` of the aggregate registered at `aggregate`, committed in transaction `tx`; returns its index.
    abstract Append: e: StoredEvent * aggregate: int * tx: int64 -> int
    /// The position of the event at index `i`.
    abstract Position: i: int -> LogPosition
    /// The event at index `i`.
    abstract Event: i: int -> StoredEvent
