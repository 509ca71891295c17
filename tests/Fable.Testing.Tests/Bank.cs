// The small domain the kit's tests specify: accounts with a ledger row per deposit, a class-typed event (compared
// by value through JSON), and a process manager summing deposits into account_totals.
using Fable.CSharp;
using Fable.Testing;
using LanguageExt;
using LanguageExt.Common;

namespace KitTests;

public sealed record Opened(string Owner);
public sealed record Deposited(long Amount);
public sealed record Withdrawn(long Amount);

/// <summary>A class without Equals: the kit compares it by its JSON.</summary>
public sealed class Noted
{
    public string Text { get; set; } = "";
}

public sealed record Account(Guid Id, string? Owner, long Balance);

public sealed record Totals(int Deposits, long Amount);

public static class Bank
{
    public static readonly Error NotOpen = Error.New(1001, "the account is not open");
    public static readonly Error Insufficient = Error.New(1003, "insufficient funds");

    public static AggregateType<Account, Guid> Accounts { get; } = Define(r => r.Value<long>("balance"));

    /// <summary>The same aggregate with an OfRow that loses the balance: replay disagrees with the row.</summary>
    public static AggregateType<Account, Guid> Forgetful { get; } = Define(_ => 0);

    static AggregateType<Account, Guid> Define(Func<IReadOnlyDictionary<string, object?>, long> balance) =>
        AggregateType.Create<Account, Guid>("accounts",
                initial: id => new Account(id, null, 0),
                toRow: a => Rows.Of(("owner", a.Owner), ("balance", a.Balance)),
                ofRow: r => new Account(r.Value<Guid>("id"), r.Value<string>("owner"), balance(r)))
            .Columns(t => t.Text("owner", nullable: true).BigInt("balance"))
            .On<Opened>((a, e) => a with { Owner = e.Owner })
            .On<Deposited>((a, e) => a with { Balance = a.Balance + e.Amount })
            .On<Withdrawn>((a, e) => a with { Balance = a.Balance - e.Amount });

    public static readonly ProcessManager<Totals> TotalsPm =
        ProcessManager<Totals>.Create("totals", new Totals(0, 0))
            .WithErrorPolicy(ErrorPolicy.Stop)
            .On<Deposited>((ctx, s, e) =>
                ctx.Tables.Upsert("account_totals", Rows.Of(("id", "all"), ("amount", s.Amount + e.Amount)))
                   .Map(_ => s with { Deposits = s.Deposits + 1, Amount = s.Amount + e.Amount }))
            .On<Withdrawn>((ctx, s, e) => e.Amount > 1000
                ? EitherAsync<Error, Totals>.Left(Error.New(77, "withdrawals above 1000 need a review"))
                : EitherAsync<Error, Totals>.Right(s));

    public static Either<Error, IEnumerable<object>> Open(Account a, string owner) =>
        a.Owner is null ? Events.Of(new Opened(owner)) : Events.Reject(Error.New(1002, "already open"));

    public static Either<Error, IEnumerable<object>> Deposit(Account a, long amount) =>
        a.Owner is null ? NotOpen : Events.Of(new Deposited(amount));

    public static Either<Error, IEnumerable<object>> Withdraw(Account a, long amount) =>
        a.Owner is null ? NotOpen : a.Balance < amount ? Insufficient : Events.Of(new Withdrawn(amount));

    public static FableBuilder Register(FableBuilder b) => Register(b, Accounts);

    public static FableBuilder Register(FableBuilder b, AggregateType<Account, Guid> accounts) =>
        b.Event<Opened>("opened").Event<Deposited>("deposited").Event<Withdrawn>("withdrawn").Event<Noted>("noted")
         .Aggregate(accounts)
         .Table("ledger", KeyKind.Int, t => t.Uuid("account_id").BigInt("amount"))
         .Table("account_totals", KeyKind.Text, t => t.BigInt("amount"))
         .Routes(Routes.Empty.On<Opened>().On<Withdrawn>().On<Noted>()
             .On<Deposited>("ledger", (ctx, e) =>
                 ctx.Tables.Upsert("ledger", Rows.Of(("id", ctx.Recorded.Id), ("account_id", ctx.KeyOf(accounts)), ("amount", e.Amount)))))
         .ProcessManager(TotalsPm);

    public const string Ddl = """
        CREATE TABLE public.accounts (id uuid PRIMARY KEY, last_event_id bigint NULL, owner text, balance bigint NOT NULL);
        CREATE TABLE public.ledger (id bigint PRIMARY KEY, account_id uuid NOT NULL, amount bigint NOT NULL);
        CREATE TABLE public.account_totals (id text PRIMARY KEY, amount bigint NOT NULL);
        """;
}

/// <summary>Runs a step that must fail and returns the kit's exception for its message to be checked.</summary>
public static class Fails
{
    public static SpecificationException With(Action step) => Xunit.Assert.Throws<SpecificationException>(step);

    public static Task<SpecificationException> WithAsync(Func<Task> step) => Xunit.Assert.ThrowsAsync<SpecificationException>(step);
}
