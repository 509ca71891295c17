// Calling the F# core from C# and C# from the core: Result <-> Either, exceptions turned into Cancelled,
// Infrastructure or the caller's own Exceptional error.
using Fable.FSharp;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Core;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

internal static class CoreCalls
{
    public static FSharpResult<T, FableError> Ok<T>(T v) => FSharpResult<T, FableError>.NewOk(v);
    public static FSharpResult<T, FableError> Err<T>(FableError e) => FSharpResult<T, FableError>.NewError(e);
    public static FSharpResult<T, FableError> ToResult<T>(Either<Error, T> e) => e.Match(Right: Ok, Left: l => Err<T>(ErrorConversions.ToFable(l)));

    /// <summary>Runs a core call; maps its result, and turns an exception into Cancelled or Infrastructure.</summary>
    public static async Task<Either<Error, R>> Call<T, R>(Func<Task<FSharpResult<T, FableError>>> call, Func<T, R> map)
    {
        try
        {
            var r = await call().ConfigureAwait(false);
            return r.IsOk ? map(r.ResultValue) : ErrorConversions.ToError(r.ErrorValue);
        }
        catch (Exception ex)
        {
            return ErrorConversions.Thrown(ex);
        }
    }

    /// <summary>Runs C# code the core called back; an exception becomes the caller's own Exceptional error
    /// (or Cancelled) so the core rolls back and the caller sees it.</summary>
    public static async Task<FSharpResult<T, FableError>> Back<T>(Func<Task<Either<Error, T>>> run)
    {
        try
        {
            return ToResult(await run().ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            return Err<T>(FableError.Cancelled);
        }
        catch (Exception ex)
        {
            var thrown = new FableErrors.Thrown("the work of the unit of work (so nothing of it was committed)", ex);
            return Err<T>(FableError.NewRejected(thrown, thrown.Message));
        }
    }
    /// <summary>Runs a core call that returns a bare task; an exception becomes Cancelled or Infrastructure.</summary>
    public static async Task<Either<Error, Unit>> Run(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
            return Unit.Default;
        }
        catch (Exception ex)
        {
            return ErrorConversions.Thrown(ex);
        }
    }
}
