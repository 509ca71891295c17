// What Fable logs through Microsoft.Extensions.Logging: the event ids, levels and fields of the process-manager
// events both interpreters write, as high-performance LoggerMessage delegates. No logger given: NullLogger, silent.
namespace Fable.FSharp

open System
open Microsoft.Extensions.Logging
open Microsoft.Extensions.Logging.Abstractions

/// The categories and event ids Fable logs with.
module LogNames =
    /// The category of the process-manager runners and hosts.
    [<Literal>]
    let ProcessManagers = "Fable.ProcessManagers"
    /// A runner took a process manager over (lock acquired). Information.
    [<Literal>]
    let RunnerAcquired = 1001
    /// A runner let a process manager go (stopped or dropped its lock). Information.
    [<Literal>]
    let RunnerReleased = 1002
    /// A handler failed; the same event is tried again later. Warning.
    [<Literal>]
    let HandlerRetrying = 1003
    /// A handler failed and the process manager stopped (OnFailure.Stop or the last allowed attempt). Error.
    [<Literal>]
    let ProcessManagerStopped = 1004
    /// The runner itself failed (connection lost, database down); it backs off and starts again. Warning.
    [<Literal>]
    let RunnerFailed = 1005
    /// The notification listener lost its connection and reconnects. Warning.
    [<Literal>]
    let ListenerLost = 1006
    /// The notification listener is listening again after a loss. Information.
    [<Literal>]
    let ListenerRestored = 1007
    /// A process manager was enabled. Information.
    [<Literal>]
    let Enabled = 1010
    /// A process manager was disabled. Information.
    [<Literal>]
    let Disabled = 1011
    /// A process manager was reset to a position. Information.
    [<Literal>]
    let Reset = 1012
    /// A process manager was reset to the origin to handle the whole log again. Information.
    [<Literal>]
    let Rebuilt = 1013
    /// The category of what the C# `Build()` logs.
    [<Literal>]
    let Build = "Fable.Build"
    /// An aggregate or declared table resolves into Fable's own schema. Warning.
    [<Literal>]
    let TableInFableSchema = 1020
    /// The PostgreSQL data source prepares no statements (Max Auto Prepare is 0). Information.
    [<Literal>]
    let StatementsNotPrepared = 1021

/// The log events of process managers (LoggerMessage.Define: no allocation when the level is off).
module internal FableLog =
    let private ev (id: int) (name: string) = EventId(id, name)

    let private acquired =
        LoggerMessage.Define<string, string>(LogLevel.Information, ev LogNames.RunnerAcquired "RunnerAcquired",
            "Process manager {ProcessManager}: runner {Runner} took it over")
    let private released =
        LoggerMessage.Define<string, string>(LogLevel.Information, ev LogNames.RunnerReleased "RunnerReleased",
            "Process manager {ProcessManager}: runner {Runner} let it go")
    let private retrying =
        LoggerMessage.Define<string, string, int, int, TimeSpan, string>(LogLevel.Warning, ev LogNames.HandlerRetrying "HandlerRetrying",
            "Process manager {ProcessManager} failed at position {Position} (attempt {Attempts}, error {ErrorCode}); retrying in {RetryIn}: {Error}")
    let private stopped =
        LoggerMessage.Define<string, string, int, int, string>(LogLevel.Error, ev LogNames.ProcessManagerStopped "ProcessManagerStopped",
            "Process manager {ProcessManager} stopped at position {Position} after {Attempts} attempt(s) (error {ErrorCode}): {Error}. Enable, Reset or Rebuild it once the cause is fixed")
    let private runnerFailedMsg =
        LoggerMessage.Define<string, string, int, TimeSpan, string>(LogLevel.Warning, ev LogNames.RunnerFailed "RunnerFailed",
            "Process manager {ProcessManager}: runner {Runner} failed (error {ErrorCode}), starting again in {Backoff}: {Error}")
    let private listenerLostMsg =
        LoggerMessage.Define<string, TimeSpan, string>(LogLevel.Warning, ev LogNames.ListenerLost "ListenerLost",
            "Process-manager listener on channel {Channel} failed, reconnecting in {Backoff}: {Error}")
    let private listenerRestoredMsg =
        LoggerMessage.Define<string>(LogLevel.Information, ev LogNames.ListenerRestored "ListenerRestored",
            "Process-manager listener on channel {Channel} is listening again")
    let private enabled =
        LoggerMessage.Define<string>(LogLevel.Information, ev LogNames.Enabled "ProcessManagerEnabled", "Process manager {ProcessManager} enabled")
    let private disabled =
        LoggerMessage.Define<string>(LogLevel.Information, ev LogNames.Disabled "ProcessManagerDisabled", "Process manager {ProcessManager} disabled")
    let private reset =
        LoggerMessage.Define<string, string>(LogLevel.Information, ev LogNames.Reset "ProcessManagerReset",
            "Process manager {ProcessManager} reset to position {Position}")
    let private rebuilt =
        LoggerMessage.Define<string>(LogLevel.Information, ev LogNames.Rebuilt "ProcessManagerRebuilt",
            "Process manager {ProcessManager} reset to the origin to handle the whole log again")

    /// The process-manager logger of `factory` (NullLogger when there is none).
    let processManagers (factory: ILoggerFactory) : ILogger =
        if isNull factory then NullLogger.Instance :> ILogger else factory.CreateLogger LogNames.ProcessManagers

    /// The exception inside `e`, if any (logged with the event).
    let private exnOf (e: FableError) : exn =
        match e with
        | HandlerFailed(_, _, _, Some x)
        | Infrastructure(_, Some x) -> x
        | _ -> null

    let runnerAcquired (log: ILogger) (pm: string) (runner: string) = acquired.Invoke(log, pm, runner, null)
    let runnerReleased (log: ILogger) (pm: string) (runner: string) = released.Invoke(log, pm, runner, null)

    /// A failure of `evt` recorded with `attempts` counted: retrying after `retryIn` when `active`, else stopped.
    let failed (log: ILogger) (pm: string) (position: LogPosition) (attempts: int) (active: bool) (retryIn: TimeSpan) (err: FableError) (text: string) =
        if active then retrying.Invoke(log, pm, position.ToString(), attempts, err.Code, retryIn, text, exnOf err)
        else stopped.Invoke(log, pm, position.ToString(), attempts, err.Code, text, exnOf err)

    let runnerFailed (log: ILogger) (pm: string) (runner: string) (err: FableError) (backoff: TimeSpan) =
        runnerFailedMsg.Invoke(log, pm, runner, err.Code, backoff, err.Message, exnOf err)

    let listenerLost (log: ILogger) (channel: string) (backoff: TimeSpan) (e: exn) = listenerLostMsg.Invoke(log, channel, backoff, e.Message, e)
    let listenerRestored (log: ILogger) (channel: string) = listenerRestoredMsg.Invoke(log, channel, null)

    /// A control operation applied: Enable, Disable, Reset (to `position`) or Rebuild.
    let control (log: ILogger) (pm: string) (c: Control) =
        match c with
        | Control.Enable -> enabled.Invoke(log, pm, null)
        | Control.Disable -> disabled.Invoke(log, pm, null)
        | Control.Reset(p, _) -> reset.Invoke(log, pm, p.ToString(), null)
        | Control.Rebuild _ -> rebuilt.Invoke(log, pm, null)
