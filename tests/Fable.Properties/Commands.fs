// Commands of the account domain, their pure decisions, and the sequential model a run must agree with.
module Fable.Tests.Commands

open Fable.FSharp
open Fable.Tests.Domain

/// What a caller asks of an account.
type Command =
    | Open of owner: string
    | Deposit of amount: int64
    | Withdraw of amount: int64
    | Note of text: string
    | Close
    /// Several deposits recorded by one emit.
    | DepositMany of amounts: int64 list

/// The decision of a command on the account's current state.
let decide (cmd: Command) (s: Account) : Result<obj list, FableError> =
    match cmd with
    | Open owner -> if s.EventCount > 0L then UntypedDecider.reject "already opened" else Ok [ box { Owner = owner } ]
    | _ when s.Closed -> UntypedDecider.reject "closed"
    | Deposit a -> Ok [ box { Amount = a; BalanceBefore = s.Balance } ]
    | Withdraw a ->
        if a > s.Balance then UntypedDecider.reject "insufficient funds"
        else Ok [ box ({ Taken = a; BalanceBefore = s.Balance }: Withdrawn) ]
    | Note t -> Ok [ box { Text = t; Fault = "" } ]
    | Close -> if s.Balance <> 0L then UntypedDecider.reject "balance is not zero" else Ok [ box { Reason = "done" } ]
    | DepositMany amounts ->
        let events, _ =
            amounts
            |> List.mapFold (fun balance a -> box ({ Amount = a; BalanceBefore = balance }: Deposited), balance + a) s.Balance
        Ok events

/// The state and events a sequence of commands produces when run one after another (rejections record nothing).
let model (key: AggregateKey) (cmds: Command list) =
    cmds
    |> List.fold
        (fun (s, recorded) cmd ->
            match UntypedDecider.run accounts.Evolve (decide cmd) s with
            | Ok(s', events) -> s', recorded @ events
            | Error _ -> s, recorded)
        (accounts.Initial key, [])
