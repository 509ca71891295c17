// The failover test's domain: accounts that take numbered deposits, and an auditor process manager that writes one
// audit row per event with its running count, in its checkpoint's transaction.
using Fable.CSharp;
using LanguageExt;

namespace FailoverTests;

public sealed record Deposited(long Serial);

public sealed record Account(Guid Id, long Deposits, long LastSerial);

public static class Bank
{
    public const string Ddl = """
        CREATE SCHEMA bank;
        CREATE TABLE bank.accounts (id uuid PRIMARY KEY, last_event_id bigint NULL, deposits bigint NOT NULL, last_serial bigint NOT NULL);
        CREATE TABLE bank.audit (id uuid PRIMARY KEY, event_id bigint NOT NULL, account_id uuid NOT NULL, n bigint NOT NULL);
        """;

    public static readonly AggregateType<Account, Guid> Accounts =
        AggregateType<Account, Guid>.Create("bank.accounts",
                initial: id => new Account(id, 0, 0),
                toRow: a => Rows.Of(("deposits", a.Deposits), ("last_serial", a.LastSerial)),
                ofRow: r => new Account(r.Value<Guid>("id"), r.Value<long>("deposits"), r.Value<long>("last_serial")))
            .Columns(t => t.BigInt("deposits").BigInt("last_serial"))
            .On<Deposited>((a, e) => a with { Deposits = a.Deposits + 1, LastSerial = e.Serial });

    /// <summary>One audit row per event (a random id, so a second handling would show as a second row), numbered by
    /// the process manager's state: the numbers grow along each account's chain when order is kept.</summary>
    public static readonly ProcessManager<long> Auditor =
        ProcessManager<long>.Create("auditor", 0L)
            .WithErrorPolicy(ErrorPolicy.Retry(TimeSpan.FromMilliseconds(100)))
            .On<Deposited>((ctx, n, _) =>
                ctx.TryKeyOf(Accounts, out var account)
                    ? ctx.Tables.Insert("bank.audit", Rows.Of(("id", Guid.NewGuid()), ("event_id", ctx.Recorded.Id),
                                                               ("account_id", account), ("n", n + 1)))
                         .Map(_ => n + 1)
                    : EitherAsync<LanguageExt.Common.Error, long>.Right(n));

    public static FableBuilder Register(FableBuilder b) =>
        b.Event<Deposited>("deposited")
         .Aggregate(Accounts)
         .Table("bank.audit", KeyKind.Uuid, t => t.BigInt("event_id").Uuid("account_id").BigInt("n"))
         .Routes(Routes.Empty.On<Deposited>())
         .ProcessManager(Auditor);
}
