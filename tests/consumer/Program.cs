// Runs the README's quick start against the packed packages: in memory, then on PostgreSQL when
// FABLE_PG_CONNECTION is set. Prints one line per check and "N passed, N failed" (build.sh adds it to its totals).
using Npgsql;
using QuickStart;

var passed = 0;
var failed = 0;

async Task Check(string name, Func<Task<string>> run)
{
    const string expected = "refused 1, balance 120";
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
