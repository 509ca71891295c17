// Code of the application's that throws (a route handler, a process-manager handler, the work of a Transact) comes
// back as FableErrors.Thrown (7013) holding the exception: a stable code, never the exception's HResult.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Xunit;
using static LanguageExt.Prelude;

namespace FacadeTests;

public sealed record Tripped(int N);

public sealed class ThrownTests
{
    private static Task<FableApp> App(IHarness harness) =>
        harness.App(b => b.Event<Tripped>("tripped")
                          .Routes(Routes.Empty.On<Tripped>("wire", (HandlerContext _, Tripped _) =>
                              DateTime.UtcNow.Year > 0 ? throw new InvalidOperationException("wire cut") : Task.FromResult(Right<Error, Unit>(unit)))));

    [Fact]
    public async Task The_work_of_a_Transact_that_throws_is_Thrown_7013_with_the_exception()
    {
        await using var app = await new InMemoryHarness().App();
        var boom = new InvalidOperationException("no ledger today");
        var error = await Expect.Left(app.Transact<int>(_ => throw boom));
        var thrown = Assert.IsType<FableErrors.Thrown>(error);
        Assert.Equal(7013, thrown.Code);
        Assert.Equal(FableErrors.ThrownCode, thrown.Code);
        Assert.Same(boom, thrown.ToException());
        Assert.Contains("InvalidOperationException: no ledger today", thrown.Message, StringComparison.Ordinal);
        Assert.Contains("nothing of it was committed", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_route_handler_that_throws_is_HandlerFailed_7006_whose_inner_error_is_Thrown_not_an_HResult()
    {
        await using var app = await App(new InMemoryHarness());
        var error = await Expect.Left(app.Append(Accounts.Type, Guid.NewGuid(), [new Tripped(1)]));
        var failed = Assert.IsType<FableErrors.HandlerFailed>(error);
        Assert.Equal(7006, failed.Code);
        Assert.Contains("wire", failed.Message, StringComparison.Ordinal);
        var inner = Assert.IsType<FableErrors.Thrown>(failed.Inner.Case);
        Assert.Equal(7013, inner.Code);
        Assert.IsType<InvalidOperationException>(inner.ToException());
        Assert.Contains("wire cut", inner.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("-2146233079", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_process_manager_handler_that_throws_keeps_Thrown_as_the_inner_error_of_its_failure()
    {
        var pm = ProcessManager<int>.Create("thrower", 0).WithErrorPolicy(ErrorPolicy.Stop)
            .On<Deposited>((ProcessContext _, int _, Deposited _) =>
                DateTime.UtcNow.Year > 0 ? throw new TimeoutException("mail server") : Task.FromResult(Right<Error, int>(0)));
        await using var app = await new InMemoryHarness().App(b => b.ProcessManager(pm));
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")).Bind(a => app.Emit(a, Accounts.Deposit(1))));
        await Expect.Right(app.ProcessManagers.CatchUp());
        var status = await Expect.Right(app.ProcessManagers.Status("thrower"));
        Assert.Contains("(7006)", status.LastError!, StringComparison.Ordinal);
        Assert.Contains("it threw TimeoutException: mail server", status.LastError!, StringComparison.Ordinal);
        Assert.DoesNotContain("-2146233083", status.LastError!, StringComparison.Ordinal);
    }

    [Fact]
    public void Thrown_has_its_stable_name_in_the_core()
    {
        var core = Type.GetType("Fable.FSharp.ErrorCodes, Fable.Core.FSharp", throwOnError: true)!;
        Assert.Equal(7013, core.GetProperty("Thrown")!.GetValue(null));
        Assert.Equal("fable.thrown", core.GetMethod("nameOf")!.Invoke(null, [7013]));
    }
}
