// Runs the README's quick start against the packed packages: in memory, then on PostgreSQL when
// FABLE_PG_CONNECTION is set. Prints one line per check and "N passed, N failed" (build.sh adds it to its totals).
using Fable.CSharp;
using Fable.Extensions.Hosting;
using Fable.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using QuickStart;

var passed = 0;
var failed = 0;

async Task Check(string name, Func<Task<string>> run, string expected = "refused 1, balance 120")
{
    try
    {
        var got = await run();
        if (got == expected) { passed++; Console.WriteLine($"ok   {name}: {got}"); }
        else { failed++; Console.WriteLine($"FAIL {name}: expected '{expected}', got '{got}'"); }
    }
    catch (Exception e)
    {
        failed++;
        Console.WriteLine($"FAIL {name}: {e.GetType().Name}: {e.Message}");
    }
}

Console.WriteLine($"Fable.EventSourcing.CSharp {typeof(Fable.CSharp.FableBuilder).Assembly.GetName().Version} from {typeof(Fable.CSharp.FableBuilder).Assembly.Location}");
await Check("quick start, in memory", () => Bank.Run());

// The test kit package: a refused decision, then an accepted one, as a user's test states them.
await Check("test kit, Given/When/Then", () =>
{
    Specification.For(Bank.Accounts).When(a => Bank.Deposit(a, 5)).ThenFails(Bank.NotOpen);
    Specification.For(Bank.Accounts).Given(new Opened("ada")).When(a => Bank.Deposit(a, 5)).Then(new Deposited(5));
    return Task.FromResult("specified");
}, expected: "specified");

// The hosting package: AddFable in a generic host, in memory by the options' switch.
await Check("hosting, AddFable in a generic host", async () =>
{
    using var host = Host.CreateDefaultBuilder()
        .ConfigureServices(s => s.AddFable(b => b.Event<Opened>("opened").Event<Deposited>("deposited").Aggregate(Bank.Accounts)
                                                 .Table("ledger", KeyKind.Int, t => t.Uuid("account_id").BigInt("amount"))
                                                 .Routes(Bank.Routes).UsePostgres(),
                                           o => o.InMemory = true))
        .Build();
    await host.StartAsync();
    var app = host.Services.GetRequiredService<FableApp>();
    var balance = await app.Emit(Bank.Accounts, Guid.NewGuid(), _ => Events.Of(new Opened("ada")))
                           .Bind(a => app.Emit(a, s => Bank.Deposit(s, 7)))
                           .Match(Right: a => $"balance {a.State.Balance}", Left: e => $"error {e}");
    await host.StopAsync();
    return balance;
}, expected: "balance 7");

var connection = Environment.GetEnvironmentVariable("FABLE_PG_CONNECTION");
if (string.IsNullOrWhiteSpace(connection))
    Console.WriteLine("skip quick start on PostgreSQL: FABLE_PG_CONNECTION is not set");
else
    await Check("quick start, PostgreSQL", async () =>
    {
        await using var source = NpgsqlDataSource.Create(connection);
        await using (var create = source.CreateCommand(Bank.Sql))
            await create.ExecuteNonQueryAsync();
        return await Bank.Run(source);
    });

Console.WriteLine($"{passed} passed, {failed} failed");
return failed == 0 ? 0 : 1;
