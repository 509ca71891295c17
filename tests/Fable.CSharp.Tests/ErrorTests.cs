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
        Assert.Equal(13, codes.Length);
        foreach (var field in codes)
        {
            var name = field.Name[..^"Code".Length];
            var expected = core.GetProperty(name)!.GetValue(null);
            Assert.Equal(expected, field.GetValue(null));
        }
    }
}

public sealed class ProcessManagerErrorTests
{
    private static async Task<string> LastErrorOf(Func<ProcessManager<int>, ProcessManager<int>> handler)
    {
        var pm = handler(ProcessManager<int>.Create("picky", 0).WithErrorPolicy(ErrorPolicy.Stop));
        await using var app = await new InMemoryHarness().App(b => b.ProcessManager(pm));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(1))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        var status = await Expect.Right(app.ProcessManagers.Status("picky"));
        Assert.False(status.Active);
        return status.LastError!;
    }

    [Fact]
    public async Task A_process_manager_handlers_own_error_is_HandlerFailed_7006_keeping_its_code_and_message()
    {
        var error = await LastErrorOf(pm => pm.On<Deposited>((_, _, _) => LanguageExt.EitherAsync<Error, int>.Left(Error.New(55, "the ledger is closed"))));
        Assert.Contains("(7006)", error, StringComparison.Ordinal);
        Assert.Contains("picky", error, StringComparison.Ordinal);
        Assert.Contains("the ledger is closed (your error code 55)", error, StringComparison.Ordinal);
        Assert.Contains("Enable or Reset", error, StringComparison.Ordinal);
        Assert.DoesNotContain("7001", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_process_manager_handler_that_throws_is_HandlerFailed_7006_naming_the_exception_not_its_HResult()
    {
        var error = await LastErrorOf(pm => pm.On<Deposited>(async (ProcessContext _, int _, Deposited _) =>
        {
            await Task.Yield();
            if (DateTime.UtcNow.Year > 0) throw new InvalidOperationException("no ledger");
            return LanguageExt.Prelude.Right<Error, int>(0);
        }));
        Assert.Contains("(7006)", error, StringComparison.Ordinal);
        Assert.Contains("it threw InvalidOperationException: no ledger", error, StringComparison.Ordinal);
        Assert.DoesNotContain("-2146233079", error, StringComparison.Ordinal);
    }
}

public sealed class UnknownEventTypeTextTests
{
    [Fact]
    public async Task An_unregistered_event_type_says_how_to_register_it()
    {
        await using var app = await new InMemoryHarness().App();
        var error = Assert.IsType<FableErrors.UnknownEventType>(await Expect.Left(app.Append(Accounts.Type, Guid.NewGuid(), [new NeverRegistered(1)])));
        Assert.Equal(7004, error.Code);
        Assert.Contains("NeverRegistered is not registered with this app", error.Message, StringComparison.Ordinal);
        Assert.Contains("FableBuilder.Event<FacadeTests.NeverRegistered>(\"stable-name\")", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_recorded_type_this_app_does_not_know_says_to_register_the_name_and_version_or_an_upcaster()
    {
        var error = new FableErrors.UnknownEventType("frozen", 3);
        Assert.Equal(7004, error.Code);
        Assert.Contains("event type frozen v3 is not registered", error.Message, StringComparison.Ordinal);
        Assert.Contains("FableBuilder.Event<T>(\"frozen\", 3)", error.Message, StringComparison.Ordinal);
        Assert.Contains("upcaster from v3", error.Message, StringComparison.Ordinal);
    }
}

public sealed class HandlerFailedTextTests
{
    [Fact]
    public async Task A_decision_that_throws_says_the_decision_threw_and_nothing_was_recorded()
    {
        await using var app = await new InMemoryHarness().App();
        var error = await Expect.Left(app.Emit(Accounts.Type, Guid.NewGuid(), (Account _) => throw new InvalidOperationException("boom")));
        Assert.Equal(7006, error.Code);
        Assert.Contains("the decision threw, so nothing was recorded: boom", error.Message, StringComparison.Ordinal);
        Assert.Contains("Events.Reject", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("handler decide for decide", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_message_that_already_names_its_handler_is_not_prefixed_twice()
    {
        var error = new FableErrors.HandlerFailed("accounts", "OfRow", "handler OfRow for accounts failed: no owner", LanguageExt.Option<Error>.None);
        Assert.Equal("handler OfRow for accounts failed: no owner", error.Message);
    }
}
