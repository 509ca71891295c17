// The pending row writes of one unit of work in write order: a small array map (most units of work write one
// or two rows, where a linear scan beats hashing and allocates less), indexed by a dictionary once it grows.
namespace Fable.FSharp.InMemory

open System.Collections.Generic

/// Row key → pending write, in the order keys were first written. Not thread-safe (one unit of work).
[<Sealed>]
type internal WriteSet() =
    static let indexFrom = 8
    let mutable keys: RowKey[] = Array.zeroCreate 2
    let mutable values: Pending[] = Array.zeroCreate 2
    let mutable count = 0
    let mutable index: Dictionary<RowKey, int> = null

    let find (k: RowKey) =
        if not (isNull index) then
            match index.TryGetValue k with
            | true, i -> i
            | _ -> -1
        else
            let mutable i = 0
            let mutable found = -1
            while found < 0 && i < count do
                if keys[i].Equals k then found <- i
                i <- i + 1
            found

    /// How many rows have a pending write.
    member _.Count = count

    /// The key of the i-th written row.
    member _.Key(i: int) = keys[i]

    /// The pending write of the i-th written row.
    member _.Value(i: int) = values[i]

    /// The pending write of `k`, if any.
    member _.TryGet(k: RowKey, p: byref<Pending>) =
        match find k with
        | -1 -> false
        | i ->
            p <- values[i]
            true

    /// Sets the pending write of `k`; returns the one it replaces (ValueNone when `k` is new, appended last).
    member _.Set(k: RowKey, p: Pending) : Pending voption =
        match find k with
        | -1 ->
            if count = keys.Length then
                System.Array.Resize(&keys, count * 2)
                System.Array.Resize(&values, count * 2)
            keys[count] <- k
            values[count] <- p
            if not (isNull index) then index[k] <- count
            elif count + 1 > indexFrom then
                index <- Dictionary<RowKey, int>(count * 2)
                for i in 0..count do
                    index[keys[i]] <- i
            count <- count + 1
            ValueNone
        | i ->
            let old = values[i]
            values[i] <- p
            ValueSome old

    /// Undoes a `Set` that returned ValueNone: `k` must be the last key appended.
    member _.RemoveLast(k: RowKey) =
        if count = 0 || not (keys[count - 1].Equals k) then
            invalidOp "WriteSet.RemoveLast: the key is not the last one appended (undo out of order)"
        count <- count - 1
        if not (isNull index) then index.Remove k |> ignore
        keys[count] <- Unchecked.defaultof<RowKey>
        values[count] <- Unchecked.defaultof<Pending>
