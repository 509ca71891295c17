// Whole emits on an in-memory app: the given events run their handlers, the When's recorded events, the rows of
// declared tables, and a failure that must leave nothing; each check shown passing and failing.
using Fable.CSharp;
using Fable.Testing;
using LanguageExt;
using LanguageExt.Common;
using Xunit;

namespace KitTests;

public sealed class AppSpecificationTests
{
    static readonly Guid Id = Guid.NewGuid();
    static AppSpecification Opened() => Specification.ForApp(Bank.Register).Given(Bank.Accounts, Id, new Opened("ada"), new Deposited(10));

    [Fact]
    public async Task Then_and_ThenRows_pass_on_the_emit_and_its_handler_rows() =>
        await Opened().When(Bank.Accounts, Id, a => Bank.Deposit(a, 5))
            .Then(new Deposited(5))
            .ThenRows("ledger", Rows.Of(("account_id", Id), ("amount", 10)), Rows.Of(("account_id", Id), ("amount", 5L)))
            .ThenRows("accounts", Rows.Of(("id", Id), ("owner", "ada"), ("balance", 15)));

    [Fact]
    public async Task Then_fails_on_other_events()
    {
        var ex = await Fails.WithAsync(() => Opened().When(Bank.Accounts, Id, a => Bank.Deposit(a, 5)).Then(new Deposited(50)).Run());
        Assert.Equal("Then", ex.Step);
        Assert.Contains("Deposited {\"amount\":5}", ex.Actual);
    }

    [Fact]
    public async Task ThenRows_fails_on_a_wrong_value_and_on_a_wrong_count()
    {
        var value = await Fails.WithAsync(() => Opened().When(Bank.Accounts, Id, a => Bank.Deposit(a, 5))
            .ThenRows("ledger", Rows.Of(("amount", 10)), Rows.Of(("amount", 6))).Run());
        Assert.Equal("ThenRows(ledger)", value.Step);
        Assert.Contains("row 2 of ledger (in id order) differs: column amount: expected 6", value.Hint);
        var count = await Fails.WithAsync(() => Opened().ThenRows("ledger").Run());
        Assert.Contains("1 row(s)", count.Actual);
        var column = await Fails.WithAsync(() => Opened().ThenRows("ledger", Rows.Of(("amount", 10), ("note", "x"))).Run());
        Assert.Contains("column note is not in the row", column.Hint);
    }

    [Fact]
    public async Task ThenFails_passes_on_a_refusal_that_left_nothing() =>
        await Opened().When(Bank.Accounts, Id, a => Bank.Withdraw(a, 50)).ThenFails(Bank.Insufficient).ThenRows("ledger", Rows.Of(("amount", 10)));

    [Fact]
    public async Task ThenFails_fails_when_the_operation_succeeded_or_failed_otherwise()
    {
        var accepted = await Fails.WithAsync(() => Opened().When(Bank.Accounts, Id, a => Bank.Deposit(a, 5)).ThenFails(1003).Run());
        Assert.Contains("succeeded", accepted.Actual);
        var other = await Fails.WithAsync(() => Opened().When(Bank.Accounts, Guid.NewGuid(), a => Bank.Withdraw(a, 5)).ThenFails(1003).Run());
        Assert.Contains("error 1001", other.Actual);
    }

    [Fact]
    public async Task ThenFails_fails_when_the_failed_operation_left_committed_work()
    {
        // Two transactions: the deposit commits, then the withdrawal is refused. The refusal does not undo the deposit.
        var ex = await Fails.WithAsync(() => Opened()
            .When(app => app.Emit(Bank.Accounts, Id, a => Bank.Deposit(a, 1)).Bind(_ => app.Emit(Bank.Accounts, Id, a => Bank.Withdraw(a, 99))))
            .ThenFails(Bank.Insufficient).Run());
        Assert.Contains("1 event(s) committed", ex.Actual);
        Assert.Contains("leave nothing", ex.Hint);
    }

    [Fact]
    public async Task ThenFails_passes_when_one_unit_of_work_rolls_everything_back() =>
        await Opened()
            .When(app => app.Transact(u => u.Emit(Bank.Accounts, Id, a => Bank.Deposit(a, 1)).Bind(_ => u.Emit(Bank.Accounts, Id, a => Bank.Withdraw(a, 99)))))
            .ThenFails(Bank.Insufficient);

    [Fact]
    public async Task ThenFails_sees_a_table_written_outside_the_failed_transaction()
    {
        var ex = await Fails.WithAsync(() => Opened()
            .When(app => app.Transact(u => u.Tables.Insert("account_totals", Rows.Of(("id", "x"), ("amount", 1L))))
                            .Bind(_ => app.Emit(Bank.Accounts, Id, a => Bank.Withdraw(a, 99))))
            .ThenFails(Bank.Insufficient).Run());
        Assert.Contains("table account_totals changed", ex.Actual);
    }

    [Fact]
    public async Task GivenRows_and_Then_checks_run_on_the_app() =>
        await Specification.ForApp(Bank.Register).GivenRows("account_totals", Rows.Of(("id", "seed"), ("amount", 3L)))
            .ThenRows("account_totals", Rows.Of(("id", "seed"), ("amount", 3)))
            .Then("no account yet", app => app.Load(Bank.Accounts, Id).Map(o => o.IsNone));

    [Fact]
    public async Task A_refused_Given_fails_at_Given_and_a_missing_When_at_Then()
    {
        var given = await Fails.WithAsync(() => Specification.ForApp(Bank.Register).Given(app => app.Emit(Bank.Accounts, Id, a => Bank.Deposit(a, 1))).Run());
        Assert.StartsWith("Given (setup)", given.Step);
        Assert.Contains("error 1001", given.Actual);
        var noWhen = await Fails.WithAsync(() => Opened().Then(new Deposited(1)).Run());
        Assert.Equal("no When", noWhen.Actual);
    }

    [Fact]
    public async Task A_registration_that_does_not_build_fails_at_Build()
    {
        var ex = await Fails.WithAsync(() => Specification.ForApp(b => b.Aggregate(Bank.Accounts)).Run());
        Assert.Equal("Build", ex.Step);
        Assert.Contains("not a registered event type", ex.Actual);
    }

    [Fact]
    public async Task ThenRows_on_an_undeclared_table_says_it_is_not_declared()
    {
        var ex = await Fails.WithAsync(() => Opened().ThenRows("ledgers").Run());
        Assert.Contains("table ledgers is not declared", ex.Actual);
        Assert.Contains("declared: accounts", ex.Actual.Replace("ledger, account_totals, ", ""));
    }
}
