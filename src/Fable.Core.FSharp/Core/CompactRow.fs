// An immutable row of a few columns kept as two arrays (names, values) instead of a hash table: what
// `Row.ofSeq` builds and the in-memory tables store. Rows have few columns, so a linear ordinal scan is faster
// than hashing and a row costs two small objects instead of three larger ones.
namespace Fable.FSharp

open System
open System.Collections
open System.Collections.Generic

/// A read-only row over `names` and `values` (same length, distinct names, compared ordinally).
/// Never mutate the arrays after construction: rows are shared between readers.
[<Sealed; AllowNullLiteral>]
type internal CompactRow(names: string[], values: obj[]) =
    static let empty = CompactRow([||], [||])

    /// The index of `name` among the first `count` of `names` (ordinal), or -1.
    static let find (names: string[]) (count: int) (name: string) =
        let mutable i = 0
        let mutable found = -1
        while found < 0 && i < count do
            if String.Equals(names[i], name, StringComparison.Ordinal) then found <- i
            i <- i + 1
        found

    /// The row without columns.
    static member Empty = empty

    /// The column names (shared, do not mutate).
    member _.Names = names

    /// The values, in the order of `Names` (shared, do not mutate).
    member _.Values = values

    /// The index of `name`, or -1.
    member _.IndexOf(name: string) = find names names.Length name

    /// A row from pairs; a name given twice keeps its last value (as a dictionary's indexer would).
    static member OfPairs(pairs: seq<string * obj>) : CompactRow =
        let items =
            match pairs with
            | :? ((string * obj)[]) as a -> a
            | :? list<string * obj> as l -> List.toArray l
            | _ -> Seq.toArray pairs
        let names = Array.zeroCreate<string> items.Length
        let values = Array.zeroCreate<obj> items.Length
        let mutable count = 0
        for (k, v) in items do
            if isNull k then raise (ArgumentNullException("pairs", "a row's column name is null"))
            let found = find names count k
            if found >= 0 then values[found] <- v
            else
                names[count] <- k
                values[count] <- v
                count <- count + 1
        if count = items.Length then CompactRow(names, values)
        else CompactRow(Array.sub names 0 count, Array.sub values 0 count)

    /// `current` (null: no row) with `names[i]` set to `values[i]` for each i (a name given twice keeps its last
    /// value). Takes ownership of `values`: when `current` has exactly `names` in that order (a row rewritten
    /// with the same layout, the common case), the new row is `values` over `current`'s shared names array.
    static member Overwrite(current: IReadOnlyDictionary<string, obj>, names: string[], values: obj[]) : CompactRow =
        let sameLayout (c: CompactRow) =
            let mutable same = c.Names.Length = names.Length
            let mutable i = 0
            while same && i < names.Length do
                same <- String.Equals(c.Names[i], names[i], StringComparison.Ordinal)
                i <- i + 1
            same
        match current with
        | :? CompactRow as c when sameLayout c -> CompactRow(c.Names, values)
        | _ ->
            let pairs =
                [| if not (isNull current) then
                       for kv in current -> kv.Key, kv.Value
                   for i in 0 .. names.Length - 1 -> names[i], values[i] |]
            CompactRow.OfPairs pairs

    interface IReadOnlyDictionary<string, obj> with
        member this.Item
            with get (key: string) =
                match this.IndexOf key with
                | -1 -> raise (KeyNotFoundException(sprintf "the row has no column %s" key))
                | i -> values[i]
        member _.Keys = names :> seq<string>
        member _.Values = values :> seq<obj>
        member this.ContainsKey(key: string) = this.IndexOf key >= 0
        member this.TryGetValue(key: string, value: byref<obj>) =
            match this.IndexOf key with
            | -1 ->
                value <- null
                false
            | i ->
                value <- values[i]
                true

    interface IReadOnlyCollection<KeyValuePair<string, obj>> with
        member _.Count = names.Length

    interface IEnumerable<KeyValuePair<string, obj>> with
        member _.GetEnumerator() : IEnumerator<KeyValuePair<string, obj>> =
            (Seq.init names.Length (fun i -> KeyValuePair(names[i], values[i]))).GetEnumerator()

    interface IEnumerable with
        member this.GetEnumerator() : IEnumerator =
            ((this :> IEnumerable<KeyValuePair<string, obj>>).GetEnumerator()) :> IEnumerator

    override _.ToString() =
        "{" + String.Join(", ", Array.map2 (fun (n: string) (v: obj) -> sprintf "%s: %O" n v) names values) + "}"
