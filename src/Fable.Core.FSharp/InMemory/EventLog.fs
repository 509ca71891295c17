// The committed global log of the in-memory interpreter without a managed object per event: chunks of 16,384
// reference-free structs plus chunked text, so a store keeping millions of events gives the GC nothing to trace or copy
// for them; events are rebuilt as `StoredEvent`s when read. Not thread-safe: the engine guards it.
namespace Fable.FSharp.InMemory

open System
open System.Collections.Generic
open Fable.FSharp

/// Where a text lies in a `TextHeap`.
[<Struct; NoComparison; NoEquality>]
type internal TextRef = { Chunk: int; Start: int; Length: int }

/// Append-only text storage in char chunks of 1 M chars (a text longer than a quarter of that gets a chunk of its
/// own). The first chunk starts small and doubles, so that a store holding a few events stays small.
type internal TextHeap() =
    static let chunkSize = 1 <<< 20
    static let firstSize = 256
    let chunks = List<char[]>()
    let mutable current: char[] = null
    let mutable currentIndex = -1
    let mutable used = 0

    /// Stores `s` (null as empty) and returns where it lies.
    member _.Add(s: string) : TextRef =
        let s = if isNull s then "" else s
        if s.Length > chunkSize / 4 then
            chunks.Add(s.ToCharArray())
            { Chunk = chunks.Count - 1; Start = 0; Length = s.Length }
        else
            if isNull current then
                current <- Array.zeroCreate (max firstSize s.Length)
                chunks.Add current
                currentIndex <- chunks.Count - 1
            elif used + s.Length > current.Length then
                if used + s.Length <= chunkSize then
                    // A chunk not yet full size doubles in place (texts keep their offsets).
                    let grown = Array.zeroCreate (max (used + s.Length) (min chunkSize (2 * current.Length)))
                    Array.Copy(current, grown, used)
                    current <- grown
                    chunks[currentIndex] <- grown
                else
                    current <- Array.zeroCreate chunkSize
                    chunks.Add current
                    currentIndex <- chunks.Count - 1
                    used <- 0
            s.CopyTo(0, current, used, s.Length)
            let r = { Chunk = currentIndex; Start = used; Length = s.Length }
            used <- used + s.Length
            r

    /// The text stored at `r`.
    member _.Get(r: TextRef) =
        if r.Length = 0 then "" else String(chunks[r.Chunk], r.Start, r.Length)

/// One committed event as stored: plain values and indexes into the log's tables, no references.
[<Struct; NoComparison; NoEquality>]
type internal PackedEvent =
    { Id: int64
      /// The previous event of the aggregate; 0 for none (event ids start at 1).
      Prev: int64
      Tx: int64
      InsertedAt: DateTimeOffset
      TypeVersion: int
      /// Index into the log's aggregates.
      Aggregate: int
      /// Index into the log's type names.
      TypeName: int
      Meta: TextRef
      Data: TextRef }

/// The committed events in (Tx, Id) order, addressed by their index in the log.
type internal EventLog() =
    static let shift = 14
    static let chunkSize = 1 <<< shift
    static let mask = chunkSize - 1
    static let firstSize = 64
    let chunks = List<PackedEvent[]>()
    let text = TextHeap()
    let aggregates = List<AggregateId>()
    let typeNames = List<string>()
    let typeNameIndex = Dictionary<string, int>(StringComparer.Ordinal)
    let mutable lastTypeName: string = null
    let mutable lastTypeIndex = 0
    let mutable count = 0

    let typeIndex (name: string) =
        if obj.ReferenceEquals(name, lastTypeName) then lastTypeIndex
        else
            let i =
                match typeNameIndex.TryGetValue name with
                | true, i -> i
                | _ ->
                    typeNameIndex[name] <- typeNames.Count
                    typeNames.Add name
                    typeNames.Count - 1
            lastTypeName <- name
            lastTypeIndex <- i
            i

    /// The number of events in the log.
    member _.Count = count

    /// Registers an aggregate (once per aggregate: the engine keeps the index on the aggregate's slot).
    member _.AddAggregate(id: AggregateId) : int =
        aggregates.Add id
        aggregates.Count - 1

    /// Appends `e` of the aggregate registered at `aggregate`, committed in transaction `tx`; returns its index.
    member _.Append(e: StoredEvent, aggregate: int, tx: int64) : int =
        let c = count >>> shift
        let j = count &&& mask
        // The first chunk starts small and doubles up to the chunk size; later ones are made full size.
        if c = chunks.Count then chunks.Add(Array.zeroCreate (if c = 0 then firstSize else chunkSize))
        elif j = chunks[c].Length then
            let grown = Array.zeroCreate (min chunkSize (2 * j))
            Array.Copy(chunks[c], grown, j)
            chunks[c] <- grown
        let meta = if String.Equals(e.Meta, Meta.Empty, StringComparison.Ordinal) then { Chunk = -1; Start = 0; Length = 0 } else text.Add e.Meta
        chunks[c][j] <-
            { Id = e.Id
              Prev = (match e.PrevEventId with Some p -> p | None -> 0L)
              Tx = tx
              InsertedAt = e.InsertedAt
              TypeVersion = e.TypeVersion
              Aggregate = aggregate
              TypeName = typeIndex e.TypeName
              Meta = meta
              Data = text.Add e.Data }
        count <- count + 1
        count - 1

    /// The position of the event at `i`.
    member _.Position(i: int) : LogPosition =
        let s = &chunks[i >>> shift][i &&& mask]
        { Tx = s.Tx; Id = s.Id }

    /// The event at `i`.
    member _.Event(i: int) : StoredEvent =
        let s = &chunks[i >>> shift][i &&& mask]
        { Id = s.Id
          PrevEventId = (if s.Prev = 0L then None else Some s.Prev)
          Aggregate = aggregates[s.Aggregate]
          TypeName = typeNames[s.TypeName]
          TypeVersion = s.TypeVersion
          Meta = (if s.Meta.Chunk < 0 then Meta.Empty else text.Get s.Meta)
          Data = text.Get s.Data
          InsertedAt = s.InsertedAt
          Position = { Tx = s.Tx; Id = s.Id } }

    interface ILog with
        member this.Count = this.Count
        member this.AddAggregate id = this.AddAggregate id
        member this.Append(e, aggregate, tx) = this.Append(e, aggregate, tx)
        member this.Position i = this.Position i
        member this.Event i = this.Event i
