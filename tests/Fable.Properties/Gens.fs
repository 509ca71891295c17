// FsCheck generators: texts, commands, histories, fault kinds and interleavings of emits over several threads.
module Fable.Tests.Gens

open FsCheck
open FsCheck.FSharp
open Fable.Tests.Commands

/// Texts with quotes, escapes, non-ASCII letters and surrogate pairs (never NUL, which text columns refuse).
let text =
    let pieces = [| "a"; "Z"; "7"; " "; "\""; "\\"; "/"; "é"; "ß"; "字"; "😀"; "\n"; "\t"; "{"; "}"; "'"; ";" |]
    Gen.elements pieces |> Gen.listOf |> Gen.map (String.concat "")

/// An amount of money.
let amount = Gen.choose (1, 500) |> Gen.map int64

/// A command, mostly deposits and withdrawals.
let command =
    Gen.frequency
        [ 6, amount |> Gen.map Deposit
          4, amount |> Gen.map Withdraw
          2, text |> Gen.map Note
          1, text |> Gen.map Open
          1, Gen.constant Close
          2, Gen.choose (1, 4) |> Gen.bind (fun n -> Gen.listOfLength n amount) |> Gen.map DepositMany ]

/// A sequence of commands on one account.
let history = Gen.sized (fun size -> Gen.choose (0, min 30 (size + 1)) |> Gen.bind (fun n -> Gen.listOfLength n command))

/// One emit of an interleaving: which account, what command.
type Step = { Account: int; Command: Command }

/// Work one thread does: a single emit, or several emits in one unit of work.
type Job =
    | Single of Step
    /// Several emits in one unit of work; `AllOrNothing`: the work returns the first error (else it ignores errors).
    | Together of steps: Step list * allOrNothing: bool

/// Jobs spread over threads.
type Interleaving = { Accounts: int; Threads: Job list list }

let private step accounts = Gen.map2 (fun a c -> { Account = a; Command = c }) (Gen.choose (0, accounts - 1)) command

let private job accounts =
    Gen.frequency
        [ 4, step accounts |> Gen.map Single
          1, Gen.map2 (fun steps all -> Together(steps, all)) (Gen.choose (2, 4) |> Gen.bind (fun n -> Gen.listOfLength n (step accounts))) (Gen.elements [ true; false ]) ]

/// An interleaving of 1–6 accounts over 1–8 threads with up to 12 jobs each.
let interleaving =
    gen {
        let! accounts = Gen.choose (1, 6)
        let! threads = Gen.choose (1, 8)
        let! jobs = Gen.listOfLength threads (Gen.choose (0, 12) |> Gen.bind (fun n -> Gen.listOfLength n (job accounts)))
        return { Accounts = accounts; Threads = jobs }
    }
