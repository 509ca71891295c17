// Every Fable error is a LanguageExt Expected with its stable code (Infrastructure is Exceptional),
// and the codes are the F# core's.
using Fable.CSharp;
using LanguageExt.Common;
using Xunit;

namespace FacadeTests;

public sealed class ErrorTests
{
    public static TheoryData<Error, int> Cases() => new()
    {
        { new FableErrors.Rejected("why", "no"), 7001 },
        { new FableErrors.Conflict("t", 1L, 1, 2, false, "stale"), 7002 },
        { new FableErrors.NotFound("t", 1L), 7003 },
        { new FableErrors.UnknownEventType("x", 1), 7004 },
        { new FableErrors.UndecodablePayload("x", 1, "bad"), 7005 },
        { new FableErrors.HandlerFailed("x", "h", "failed", LanguageExt.Option<Error>.None), 7006 },
        { new FableErrors.NoRoute("x"), 7007 },
        { new FableErrors.DuplicateRoute("x", "h"), 7008 },
        { new FableErrors.InvalidDefinition(["p"]), 7009 },
        { new FableErrors.Cancelled(), 7011 },
        { new FableErrors.Unstorable("column t.c", "a lone surrogate"), 7012 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_expected_error_has_its_stable_code(Error error, int code)
    {
        Assert.Equal(code, error.Code);
        Assert.True(error.IsExpected);
        Assert.IsAssignableFrom<Expected>(error);
    }

    [Fact]
    public void Infrastructure_is_Exceptional_with_its_code_and_cause()
    {
        var cause = new TimeoutException("db down");
        var error = new FableErrors.Infrastructure("db down", cause);
        Assert.Equal(FableErrors.InfrastructureCode, error.Code);
        Assert.True(error.IsExceptional);
        Assert.IsAssignableFrom<Exceptional>(error);
        Assert.Same(cause, error.ToException());
    }

    [Fact]
    public void The_codes_are_the_FSharp_cores_codes()
    {
        var core = Type.GetType("Fable.FSharp.ErrorCodes, Fable.Core.FSharp", throwOnError: true)!;
        var codes = typeof(FableErrors).GetFields().Where(f => f.IsLiteral && f.Name.EndsWith("Code", StringComparison.Ordinal)).ToArray();
        Assert.Equal(12, codes.Length);
        foreach (var field in codes)
        {
            var name = field.Name[..^"Code".Length];
            var expected = core.GetProperty(name)!.GetValue(null);
            Assert.Equal(expected, field.GetValue(null));
        }
    }
}
