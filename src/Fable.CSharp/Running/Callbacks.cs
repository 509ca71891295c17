// User code the core calls back while running: route handlers and process-manager handlers, each given its
// C# context over the core's unit of work.
using Fable.FSharp;
using System.Text.Json;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using FUnit = Microsoft.FSharp.Core.Unit;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

internal static class Callbacks
{
    /// <summary>The router of <paramref name="entries"/>; a named route without a handler is a problem.</summary>
    public static Router Router(IEnumerable<Routes.Entry> entries, Registry registry, List<string> problems)
    {
        var router = RouterModule.empty;
        foreach (var entry in entries)
        {
            if (entry.Name is not null && entry.Run is null)
            {
                problems.Add($"handler {entry.Name} for {entry.EventType.Name} is null");
                continue;
            }
            var handlers = entry.Run is { } run
                ? ListModule.OfSeq([new Handler(entry.Name!, FuncConvert.FromFunc<HandlerArgs, Task<FSharpResult<FUnit, FableError>>>(
                    args => RunHandler(entry.Name!, run, args, registry)))])
                : FSharpList<Handler>.Empty;
            router = RouterModule.routeType(entry.EventType, handlers, router);
        }
        return router;
    }

    static async Task<FSharpResult<FUnit, FableError>> RunHandler(string name, Func<HandlerContext, object, Task<Either<Error, Unit>>> run,
                                                                  HandlerArgs args, Registry registry)
    {
        var work = new UnitOfWork(new UowAdapter(args.Uow, registry, args.CancellationToken));
        var ctx = new HandlerContext(work, args.Aggregate.Table, args.Aggregate.Key.Value, args.State, Conversions.Recorded(args.Recorded),
                                     args.Replaying, args.CancellationToken);
        var result = await run(ctx, args.Event).ConfigureAwait(false);
        return result.Match(
            Right: _ => CoreCalls.Ok<FUnit>(null!),
            Left: e => e is FableErrors.Cancelled
                ? CoreCalls.Err<FUnit>(FableError.Cancelled)
                : CoreCalls.Err<FUnit>(FableError.NewHandlerFailed(args.Recorded.TypeName, name, e.Message, FSharpOption<Exception>.Some(new CarriedError(e)))));
    }

    public static ProcessManagerDef ProcessManager<S>(ProcessManager<S> pm, Registry registry)
    {
        var start = CoreDefinitions.StartAt(pm.Start);
        var policy = pm.ErrorPolicy switch
        {
            ErrorPolicy.Retrying r => global::Fable.FSharp.OnFailure.NewRetry(r.Interval, r.MaxAttempts is { } n ? FSharpOption<int>.Some(n) : null),
            _ => global::Fable.FSharp.OnFailure.Stop,
        };
        var def = new ProcessManagerDef(
            pm.Name, pm.Initial!,
            FuncConvert.FromFunc<IUnitOfWork, object, Incoming, CancellationToken, Task<FSharpResult<object, FableError>>>(
                (uow, s, incoming, ct) => HandleProcess(pm, registry, uow, (S)s, incoming, ct)),
            policy, start, pm.BatchSize,
            FuncConvert.FromFunc<object, string>(s => JsonSerializer.Serialize((S)s, registry.Json)),
            FuncConvert.FromFunc<string, object>(j => JsonSerializer.Deserialize<S>(j, registry.Json)!),
            PmPartitioning.Single);
        return global::Fable.FSharp.ProcessManager.withPartitions(pm.PartitionCount, def);
    }

    static Task<FSharpResult<object, FableError>> HandleProcess<S>(ProcessManager<S> pm, Registry registry, IUnitOfWork uow, S state,
                                                                   Incoming incoming, CancellationToken ct)
    {
        var evt = incoming.Event?.Value;
        if (evt is null)
        {
            // Not decodable here: if this process manager handles the type, report why instead of skipping it.
            var r = incoming.Recorded;
            var handled = pm.Handlers.Keys.Any(t => uow.Codec.TryNameOf(t)?.Value == r.TypeName);
            if (!handled) return Task.FromResult(CoreCalls.Ok<object>(state!));
            var decoded = uow.Codec.Decode(r.TypeName, r.TypeVersion, r.Data);
            if (decoded.IsError) return Task.FromResult(CoreCalls.Err<object>(decoded.ErrorValue));
            evt = decoded.ResultValue;
        }
        if (!pm.Handlers.TryGetValue(evt.GetType(), out var handle)) return Task.FromResult(CoreCalls.Ok<object>(state!));
        var ctx = new ProcessContext(new UnitOfWork(new UowAdapter(uow, registry, ct)), Conversions.Recorded(incoming.Recorded), ct);
        return Handled(pm.Name, incoming.Recorded.TypeName, () => handle(ctx, state, evt));
    }

    /// <summary>Runs a process-manager handler: the user's own error (a Left or an exception) becomes HandlerFailed
    /// (7006) naming the process manager, with the user's error (and its code) inside; Fable's own errors (a Conflict
    /// of an emit inside, Cancelled) keep their code, so the error policy sees them as they are.</summary>
    static async Task<FSharpResult<object, FableError>> Handled<S>(string name, string eventType, Func<Task<Either<Error, S>>> run)
    {
        try
        {
            var result = await run().ConfigureAwait(false);
            return result.Match(
                Right: s => CoreCalls.Ok<object>(s!),
                Left: e => CoreCalls.Err<object>(e.GetType().DeclaringType == typeof(FableErrors)
                    ? ErrorConversions.ToFable(e)
                    : Failed(name, eventType, $"{e.Message} (your error code {e.Code})", e)));
        }
        catch (OperationCanceledException)
        {
            return CoreCalls.Err<object>(FableError.Cancelled);
        }
        catch (Exception ex)
        {
            return CoreCalls.Err<object>(Failed(name, eventType, $"it threw {ex.GetType().Name}: {ex.Message}", new FableErrors.Thrown($"process manager {name}'s handler for {eventType}", ex)));
        }
    }

    static FableError Failed(string name, string eventType, string what, Error inner) =>
        FableError.NewHandlerFailed(eventType, name,
            $"{what}; fix the handler or the data: the process manager's error policy retries this event or stops it until Enable or Reset",
            FSharpOption<Exception>.Some(new CarriedError(inner)));

}
