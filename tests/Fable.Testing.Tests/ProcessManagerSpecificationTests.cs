// Process managers: given events, then the state and the writes after catching up, and a handler failure.
using Fable.CSharp;
using Fable.Testing;
using Xunit;

namespace KitTests;

public sealed class ProcessManagerSpecificationTests
{
    static readonly Guid Id = Guid.NewGuid();
    static ProcessManagerSpecification<Totals> Deposits() =>
        Specification.ForProcessManager(Bank.Register, Bank.TotalsPm).Given(Bank.Accounts, Id, new Opened("ada"), new Deposited(10), new Deposited(5));

    [Fact]
    public async Task ThenState_and_ThenRows_pass_after_catching_up() =>
        await Deposits().ThenState(new Totals(2, 15)).ThenRows("account_totals", Rows.Of(("id", "all"), ("amount", 15)));

    [Fact]
    public async Task ThenState_fails_on_another_state()
    {
        var ex = await Fails.WithAsync(() => Deposits().ThenState(new Totals(2, 16)).Run());
        Assert.Equal("ThenState(totals)", ex.Step);
        Assert.Contains("\"amount\":15", ex.Actual);
    }

    [Fact]
    public async Task ThenRows_fails_on_other_writes() =>
        Assert.Contains("column amount: expected 16",
                        (await Fails.WithAsync(() => Deposits().ThenRows("account_totals", Rows.Of(("amount", 16))).Run())).Hint);

    [Fact]
    public async Task A_failing_handler_fails_ThenState_and_passes_ThenFailed()
    {
        var failing = Deposits().Given(Bank.Accounts, Id, new Deposited(5000), new Withdrawn(2000));
        var ex = await Fails.WithAsync(() => failing.ThenState(new Totals(3, 5015)).Run());
        Assert.Contains("withdrawals above 1000 need a review", ex.Actual);
        await failing.ThenFailed("need a review");
        var none = await Fails.WithAsync(() => Deposits().ThenFailed().Run());
        Assert.Contains("no error", none.Actual);
    }

    [Fact]
    public async Task A_handler_failing_under_a_retry_policy_fails_the_Then_instead_of_hanging()
    {
        var retrying = ProcessManager<Totals>.Create("retrying", new Totals(0, 0))
            .WithErrorPolicy(ErrorPolicy.Retry(TimeSpan.FromMilliseconds(20)))
            .On<Deposited>((_, s, _) => LanguageExt.EitherAsync<LanguageExt.Common.Error, Totals>.Left(LanguageExt.Common.Error.New(9, "ledger offline")));
        var ex = await Fails.WithAsync(() => Specification.ForProcessManager(b => Bank.Register(b).ProcessManager(retrying), retrying)
            .Given(Bank.Accounts, Id, new Opened("ada"), new Deposited(1)).ThenState(new Totals(1, 1)).Run());
        Assert.Contains("ledger offline", ex.Actual);
    }
}
