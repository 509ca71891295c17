// The README's C# quick start, compiled and run by the tests (QuickStartTests) and by the consumer project that
// restores the packed packages (tests/consumer), in memory and on PostgreSQL, so it stays true.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Npgsql;

namespace QuickStart;

public sealed record Opened(string Owner);
public sealed record Deposited(long Amount);
public sealed record Account(Guid Id, string? Owner, long Balance);

public static class Bank
{
    public static readonly Error NotOpen = Error.New(1, "the account is not open");

    // An aggregate: its table, key type (Guid, long or string), initial state, row <-> state, the columns it writes, evolve per event type.
    public static readonly AggregateType<Account, Guid> Accounts =
        AggregateType.Create<Account, Guid>("accounts",
                initial: id => new Account(id, null, 0),
                toRow: a => Rows.Of(("owner", a.Owner), ("balance", a.Balance)),
                ofRow: r => new Account(r.Value<Guid>("id"), r.Value<string>("owner"), r.Value<long>("balance")))
            .Columns(t => t.Text("owner", nullable: true).BigInt("balance"))
            .On<Opened>((a, e) => a with { Owner = e.Owner })
            .On<Deposited>((a, e) => a with { Balance = a.Balance + e.Amount });

    // Handlers run in the emit's transaction: here each deposit also writes a ledger row.
    public static readonly Routes Routes = Routes.Empty
        .On<Opened>()
        .On<Deposited>("ledger", (ctx, e) =>
            ctx.Tables.Insert("ledger", Rows.Of(("id", ctx.Recorded.Id), ("account_id", ctx.KeyOf(Accounts)), ("amount", e.Amount))));

    public static Either<Error, IEnumerable<object>> Deposit(Account a, long amount) =>
        a.Owner is null ? NotOpen : Events.Of(new Deposited(amount));

    // The tables on PostgreSQL, in schema public (Fable keeps its own tables in its schema, `fable` by default).
    public const string Sql = """
        CREATE TABLE IF NOT EXISTS public.accounts (id uuid PRIMARY KEY, last_event_id bigint NULL, owner text, balance bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS public.ledger (id bigint PRIMARY KEY, account_id uuid NOT NULL REFERENCES public.accounts (id), amount bigint NOT NULL);
        """;

    public static async Task<string> Run(NpgsqlDataSource? postgres = null)
    {
        var builder = FableBuilder.Create()
            .Event<Opened>("opened")
            .Event<Deposited>("deposited")
            .Aggregate(Accounts)
            .Table("ledger", KeyKind.Int, t => t.Uuid("account_id").BigInt("amount"))
            .Routes(Routes);
        await using var app = await (postgres is null ? builder.UseInMemory() : builder.UsePostgres(postgres))
            .Build()
            .IfLeft(e => throw new InvalidOperationException(e.Message));

        var id = Guid.NewGuid();
        var refused = await app.Emit(Accounts, Guid.NewGuid(), a => Deposit(a, 5))
                               .Match(Right: _ => "accepted", Left: e => $"refused {e.Code}");
        var balance = await app.Emit(Accounts, id, a => Events.Of(new Opened("ada")))
                               .Bind(a => app.Emit(a, s => Deposit(s, 100)))
                               .Bind(a => app.Emit(a, s => Deposit(s, 20)))
                               .Match(Right: a => $"balance {a.State.Balance}", Left: e => $"refused {e.Code}");
        return $"{refused}, {balance}";
    }
}
