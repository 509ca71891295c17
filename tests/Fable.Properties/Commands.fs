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

/// The decision of a command on the account's current state, typed: the events of the union or the refusal's text.
let decideTyped (cmd: Command) (s: Account) : Result<AccountEvent list, string> =
    match cmd with
    | Open owner -> if s.EventCount > 0L then Error "already opened" else Ok [ Opened { Owner = owner } ]
    | _ when s.Closed -> Error "closed"
    | Deposit a -> Ok [ Deposited { Amount = a; BalanceBefore = s.Balance } ]
    | Withdraw a -> if a > s.Balance then Error "insufficient funds" else Ok [ Withdrawn { Taken = a; BalanceBefore = s.Balance } ]
    | Note t -> Ok [ Noted { Text = t; Fault = "" } ]
    | Close -> if s.Balance <> 0L then Error "balance is not zero" else Ok [ Closed { Reason = "done" } ]
    | DepositMany amounts ->
        let events, _ = amounts |> List.mapFold (fun balance a -> Deposited { Amount = a; BalanceBefore = balance }, balance + a) s.Balance
        Ok events

/// The same decision as the untyped interpreter contract takes it (the union's records; the refusal as Rejected).
let decide (cmd: Command) (s: Account) : Result<obj list, FableError> =
    match decideTyped cmd s with
    | Ok events -> Ok(List.map accountEvents.ToRecord events)
    | Error why -> UntypedDecider.reject why

/// The state and events a sequence of commands produces when run one after another (rejections record nothing).
let model (key: AggregateKey) (cmds: Command list) =
    cmds
    |> List.fold
        (fun (s, recorded) cmd ->
            match UntypedDecider.run accounts.Evolve (decide cmd) s with
            | Ok(s', events) -> s', recorded @ events
            | Error _ -> s, recorded)
        (accounts.Initial key, [])
