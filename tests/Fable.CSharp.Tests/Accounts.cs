// The small domain the facade tests run on: accounts (an aggregate) with a ledger table written by a handler,
// plus event types chosen to hit each error path (unregistered, unrouted, a failing handler).
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using static LanguageExt.Prelude;

namespace FacadeTests;

public sealed record Opened(string Owner);
public sealed record Deposited(long Amount);
public sealed record Withdrawn(long Amount);
public sealed record Exploded(string Why);
public sealed record Unrouted(int N);
public sealed record NeverRegistered(int N);

public sealed record Account(Guid Id, string? Owner, long Balance, bool IsOpen);

public sealed record Counted(long N);
public sealed record Counter(long Id, long Total);
public sealed record Tag(string Id, string? Owner);

public sealed record Totals(int Opened, long Deposited, long Withdrawn);

public static class Accounts
{
    public static readonly Error NotOpen = Error.New(1001, "the account is not open");
    public static readonly Error AlreadyOpen = Error.New(1002, "the account is already open");
    public static readonly Error Insufficient = Error.New(1003, "insufficient funds");
    public static readonly Error Boom = Error.New(4242, "boom");

    public static readonly AggregateType<Account, Guid> Type =
        AggregateType<Account, Guid>.Create("accounts",
                initial: id => new Account(id, null, 0, false),
                toRow: a => Rows.Of(("owner", a.Owner), ("balance", a.Balance), ("is_open", a.IsOpen)),
                ofRow: r => new Account(r.Value<Guid>("id"), r.Value<string>("owner"), r.Value<long>("balance"), r.Value<bool>("is_open")))
            .Columns(t => t.Text("owner", nullable: true).BigInt("balance").Boolean("is_open"))
            .On<Opened>((a, e) => a with { Owner = e.Owner, IsOpen = true })
            .On<Deposited>((a, e) => a with { Balance = a.Balance + e.Amount })
            .On<Withdrawn>((a, e) => a with { Balance = a.Balance - e.Amount });

    /// <summary>A bigint-keyed aggregate: deposits add up.</summary>
    public static readonly AggregateType<Counter, long> Counters =
        AggregateType.Create<Counter, long>("counters", id => new Counter(id, 0), c => Rows.Of(("total", c.Total)),
                                            r => new Counter(r.Value<long>("id"), r.Value<long>("total")))
            .Columns(t => t.BigInt("total"))
            .On<Counted>((c, e) => c with { Total = c.Total + e.N });

    /// <summary>A text-keyed aggregate: opening names its owner.</summary>
    public static readonly AggregateType<Tag, string> Tags =
        AggregateType.Create<Tag, string>("tags", id => new Tag(id, null), t => Rows.Of(("owner", t.Owner)),
                                          r => new Tag(r.Value<string>("id")!, r.Value<string>("owner")))
            .Columns(t => t.Text("owner", nullable: true))
            .On<Opened>((t, e) => t with { Owner = e.Owner });

    /// <summary>Writes one ledger row per deposit; Exploded writes one, then its second handler fails.</summary>
    public static readonly Routes Routes = Routes.Empty
        .On<Opened>()
        .On<Counted>()
        .On<Deposited>("ledger", (ctx, e) => ctx.Tables.Insert("ledger", Ledger(ctx, e.Amount)))
        .On<Withdrawn>("ledger", (ctx, e) => ctx.Tables.Insert("ledger", Ledger(ctx, -e.Amount)))
        .On<Exploded>("ledger", (ctx, _) => ctx.Tables.Insert("ledger", Ledger(ctx, 0)))
        .On<Exploded>("explode", (_, _) => Boom);

    public static IReadOnlyDictionary<string, object?> Ledger(HandlerContext ctx, long amount) =>
        Rows.Of(("id", Guid.NewGuid()), ("account_id", ctx.KeyOf(Type)), ("event_id", ctx.Recorded.Id), ("amount", amount));

    public static readonly ProcessManager<Totals> Statistics =
        ProcessManager<Totals>.Create("account-totals", new Totals(0, 0, 0))
            .On<Opened>((t, _) => t with { Opened = t.Opened + 1 })
            .On<Deposited>((ctx, t, e) =>
                ctx.Tables.Upsert("account_totals", Rows.Of(("id", "all"), ("deposited", t.Deposited + e.Amount)))
                   .Map(_ => t with { Deposited = t.Deposited + e.Amount }))
            .On<Withdrawn>((t, e) => t with { Withdrawn = t.Withdrawn + e.Amount });

    public static FableBuilder Register(FableBuilder b) =>
        b.Event<Opened>("opened")
         .Event<Deposited>("deposited")
         .Event<Withdrawn>("withdrawn")
         .Event<Exploded>("exploded")
         .Event<Unrouted>("unrouted")
         .Event<Counted>("counted")
         .Aggregate(Type)
         .Aggregate(Counters)
         .Aggregate(Tags)
         .Table("ledger", KeyKind.Uuid, t => t.Uuid("account_id").BigInt("event_id").BigInt("amount"))
         .Table("account_totals", KeyKind.Text, t => t.BigInt("deposited"))
         .Routes(Routes)
         .ProcessManager(Statistics);

    // Decisions, composed with Bind like the seed's `with` chain.
    public static Either<Error, Unit> MustBeOpen(Account a) => a.IsOpen ? unit : NotOpen;

    public static Either<Error, IEnumerable<object>> Open(Account a, string owner) =>
        a.IsOpen ? AlreadyOpen : Events.Of(new Opened(owner));

    public static Func<Account, Either<Error, IEnumerable<object>>> Deposit(long amount) =>
        a => MustBeOpen(a).Bind(_ => Events.Of(new Deposited(amount)));

    public static Func<Account, Either<Error, IEnumerable<object>>> Withdraw(long amount) =>
        a => MustBeOpen(a)
            .Bind(_ => a.Balance >= amount ? Right<Error, Unit>(unit) : Insufficient)
            .Bind(_ => Events.Of(new Withdrawn(amount)));
}
