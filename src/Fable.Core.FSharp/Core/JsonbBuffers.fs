// The working state of the jsonb normaliser (JsonbText): per-thread buffers reused by every normalisation, the
// members of the objects being written and the order jsonb gives their keys, and the refusal it raises.
namespace Fable.FSharp

open System
open System.Collections.Generic

/// A member of an object being normalised: its unescaped key (in the key buffer) and where its value starts.
[<Struct>]
type internal JsonbMember = { KeyStart: int; KeyLen: int; ValStart: int; ValLen: int }

/// Per-thread buffers of the normaliser (reused: a normalisation allocates only its result).
[<Sealed; AllowNullLiteral>]
type internal JsonbBuffers() =
    /// The input (UTF-8).
    member val Input: byte[] = Array.zeroCreate 1024 with get, set
    /// The output (UTF-8).
    member val Out: byte[] = Array.zeroCreate 1024 with get, set
    /// Unescaped keys of the objects open on the stack.
    member val Keys: byte[] = Array.zeroCreate 256 with get, set
    /// A copy of an object's values while its members are written in order; unescaped strings.
    member val Scratch: byte[] = Array.zeroCreate 1024 with get, set
    /// The members of the objects open on the stack.
    member val Members: JsonbMember[] = Array.zeroCreate 32 with get, set
    /// Per open container: where it starts in Out, its first member, its key mark, its element count (-1: object).
    member val Frames: int[] = Array.zeroCreate 64 with get, set
    /// The position in Out, the depth, the members on the stack and the end of the keys in use (one run).
    member val Pos = 0 with get, set
    member val Depth = 0 with get, set
    member val MemberCount = 0 with get, set
    member val KeyPos = 0 with get, set
    /// The key order over these buffers.
    member val Order: IComparer<JsonbMember> = null with get, set

/// Orders members as jsonb orders keys (shorter first, then bytewise), equal keys in the order they were given.
[<Sealed>]
type internal JsonbKeyOrder(buffers: JsonbBuffers) =
    interface IComparer<JsonbMember> with
        member _.Compare(a, b) =
            if a.KeyLen <> b.KeyLen then compare a.KeyLen b.KeyLen
            else
                let c = ReadOnlySpan(buffers.Keys, a.KeyStart, a.KeyLen).SequenceCompareTo(ReadOnlySpan(buffers.Keys, b.KeyStart, b.KeyLen))
                if c <> 0 then c else compare a.ValStart b.ValStart

/// The per-thread buffers.
[<AbstractClass; Sealed>]
type internal JsonbState =
    [<ThreadStatic; DefaultValue>]
    static val mutable private current: JsonbBuffers

    /// This thread's buffers (made on first use; a buffer grown past 1 MB is dropped after use).
    static member Buffers =
        let b = JsonbState.current
        if isNull b then
            let b = JsonbBuffers()
            b.Order <- JsonbKeyOrder(b)
            JsonbState.current <- b
            b
        else b

    /// Forgets buffers that grew large, so that one big payload does not pin memory for the thread's life.
    static member Trim(b: JsonbBuffers) =
        if b.Out.Length > 1048576 || b.Input.Length > 1048576 || b.Scratch.Length > 1048576 || b.Keys.Length > 1048576 then
            JsonbState.current <- null

/// Why jsonb cannot store the text being normalised (raised while normalising, returned as an Error).
exception internal JsonbRefused of string

/// Growing buffers.
module internal JsonbBuffer =
    /// `a`, or a copy of it at least `need` long (twice as long at least).
    let inline grow (a: byte[]) (need: int) =
        if need <= a.Length then a
        else
            let b = Array.zeroCreate<byte> (max need (a.Length * 2))
            Buffer.BlockCopy(a, 0, b, 0, a.Length)
            b
