// The pure Given/When/Then: each assertion passes when the decision does what is expected, and throws
// SpecificationException naming the step, expected and actual when it does not.
using Fable.CSharp;
using Fable.Testing;
using LanguageExt;
using LanguageExt.Common;
using Xunit;

namespace KitTests;

public sealed class DecisionSpecificationTests
{
    static readonly AggregateSpecification<Account, Guid> Spec = Specification.For(Bank.Accounts);

    [Fact]
    public void Then_passes_on_the_decided_events() =>
        Spec.Given(new Opened("ada"), new Deposited(10)).When(a => Bank.Deposit(a, 5)).Then(new Deposited(5));

    [Fact]
    public void Then_fails_on_other_events_and_says_which_differs()
    {
        var ex = Fails.With(() => Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).Then(new Deposited(6)));
        Assert.Equal("Then", ex.Step);
        Assert.Contains("Deposited {\"amount\":6}", ex.Expected);
        Assert.Contains("event 1 differs", ex.Actual);
        Assert.Contains("what to do:", ex.Message);
    }

    [Fact]
    public void Then_fails_when_the_decision_refused() =>
        Assert.Contains("refused with error 1001", Fails.With(() => Spec.When(a => Bank.Deposit(a, 5)).Then(new Deposited(5))).Actual);

    [Fact]
    public void Then_fails_on_a_missing_or_an_extra_event()
    {
        Assert.Contains("missing", Fails.With(() => Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5))
                                                         .Then(new Deposited(5), new Deposited(5))).Actual);
        Assert.Contains("more event", Fails.With(() => Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).Then()).Actual);
    }

    [Fact]
    public void Then_compares_class_events_by_value()
    {
        Spec.When(_ => Events.Of(new Noted { Text = "hi" })).Then(new Noted { Text = "hi" });
        Fails.With(() => Spec.When(_ => Events.Of(new Noted { Text = "hi" })).Then(new Noted { Text = "ho" }));
    }

    [Fact]
    public void ThenFails_passes_on_the_users_own_code_and_on_the_error_itself()
    {
        Spec.When(a => Bank.Deposit(a, 5)).ThenFails(1001);
        Spec.Given(new Opened("ada")).When(a => Bank.Withdraw(a, 5)).ThenFails(Bank.Insufficient).ThenFails(1003, "insufficient");
    }

    [Fact]
    public void ThenFails_fails_when_accepted_on_another_code_and_on_another_message()
    {
        var accepted = Fails.With(() => Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).ThenFails(1001));
        Assert.Contains("accepted and recorded [Deposited {\"amount\":5}]", accepted.Actual);
        var other = Fails.With(() => Spec.When(a => Bank.Withdraw(a, 5)).ThenFails(Bank.Insufficient));
        Assert.Contains("error 1001", other.Actual);
        Assert.Contains("another rule refused first", other.Hint);
        Fails.With(() => Spec.When(a => Bank.Deposit(a, 5)).ThenFails(1001, "closed"));
    }

    [Fact]
    public void ThenFails_takes_FableErrors_codes() =>
        Spec.When(_ => new FableErrors.Rejected("no", "refused")).ThenFails(FableErrors.RejectedCode);

    [Fact]
    public void ThenState_passes_on_the_state_after_the_decided_events()
    {
        var id = new Guid("00000000-0000-0000-0000-000000000001");
        Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).Then(new Deposited(5)).ThenState(new Account(id, "ada", 5));
        Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).ThenState(a => a.Balance == 5, "balance 5");
    }

    [Fact]
    public void ThenState_fails_on_another_state_and_after_a_refusal()
    {
        var other = Fails.With(() => Spec.Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).ThenState(a => a.Balance == 6, "balance 6"));
        Assert.Equal("ThenState", other.Step);
        Assert.Contains("\"balance\":5", other.Actual);
        var wrong = Fails.With(() => Specification.For(Bank.Accounts, Guid.Empty).Given(new Opened("ada")).When(a => Bank.Deposit(a, 5))
                                                  .ThenState(new Account(Guid.Empty, "bob", 5)));
        Assert.Contains("\"owner\":\"bob\"", wrong.Expected);
        Assert.Contains("refused", Fails.With(() => Spec.When(a => Bank.Deposit(a, 5)).ThenState(a => true)).Actual);
    }

    [Fact]
    public void A_decision_that_throws_fails_at_When_with_the_exception()
    {
        var ex = Fails.With(() => Spec.When(_ => throw new InvalidOperationException("boom")));
        Assert.Equal("When", ex.Step);
        Assert.Contains("boom", ex.Actual);
        Assert.IsType<InvalidOperationException>(ex.InnerException);
    }

    [Fact]
    public void Given_folds_through_evolve_from_the_initial_state() =>
        Assert.Equal(7, Spec.Given(new Opened("ada"), new Deposited(10), new Withdrawn(3)).State.Balance);
}
