// The FsCheck helpers on a sound aggregate (they pass) and on one whose OfRow loses the balance (replay fails,
// with FsCheck's counterexample in the message).
using Fable.CSharp;
using Fable.Testing;
using FsCheck;
using FsCheck.Fluent;
using LanguageExt;
using LanguageExt.Common;
using Xunit;

namespace KitTests;

/// <summary>A generated command, shown by FsCheck in counterexamples.</summary>
public sealed record Command(string Kind, long Amount)
{
    public Func<Account, Either<Error, IEnumerable<object>>> Decide => Kind switch
    {
        "open" => a => Bank.Open(a, "ada"),
        "deposit" => a => Bank.Deposit(a, Amount),
        _ => a => Bank.Withdraw(a, Amount),
    };
}

public sealed class PropertyTests
{
    static readonly Gen<Guid> Keys = Gen.Fresh(Guid.NewGuid);
    static readonly Gen<Command> Commands =
        Gen.Elements("open", "deposit", "withdraw").Zip(Gen.Choose(1, 100), (k, n) => new Command(k, n));

    [Fact]
    public void Replay_gives_the_row_of_a_sound_aggregate() =>
        AggregateProperties.ReplayGivesTheRow(Bank.Register, Bank.Accounts, Keys, Commands, c => c.Decide, maxTest: 30);

    [Fact]
    public void Replay_gives_the_row_from_generated_histories() =>
        AggregateProperties.ReplayGivesTheRow(Bank.Register, Bank.Accounts, Keys,
            Gen.Choose(1, 50).Select(n => new object[] { new Opened("ada"), new Deposited(n) }), maxTest: 20);

    [Fact]
    public void Replay_fails_when_OfRow_loses_state()
    {
        var ex = Fails.With(() => AggregateProperties.ReplayGivesTheRow(b => Bank.Register(b, Bank.Forgetful), Bank.Forgetful, Keys, Commands,
                                                                        c => c.Decide, maxTest: 100));
        Assert.Contains("replaying the log of accounts gives the row", ex.Subject);
        Assert.Contains("balance", ex.Actual);
        Assert.Contains("ToRow/OfRow", ex.Hint);
    }

    [Fact]
    public void A_refused_decision_leaves_nothing() =>
        AggregateProperties.RefusedDecisionLeavesNothing(Bank.Register, Bank.Accounts, Keys, Commands, c => c.Decide, maxTest: 30);
}
