// Registration problems: Build reports all of them at once as one error and never throws.
using Fable.CSharp;
using LanguageExt;
using Xunit;

namespace FacadeTests;

public sealed class BuildTests
{
    private sealed record Thing(Guid Id);

    [Fact]
    public async Task Build_reports_every_registration_problem_in_one_InvalidDefinition()
    {
        var broken = AggregateType<Thing, Guid>.Create(" ", id => new Thing(id), null!, _ => new Thing(Guid.Empty))
                                         .On<Opened>((t, _) => t)
                                         .On<Opened>((t, _) => t);
        var builder = FableBuilder.Create()
            .Event<Opened>("opened")
            .Event<Deposited>("opened")                                        // duplicate stable name
            .Event<Withdrawn>("withdrawn", 2, new Upcaster(5, n => n))         // upcaster outside 1..1
            .Aggregate(broken)                                                  // blank table, no ToRow, evolves Opened twice
            .Routes(Routes.Empty.On<Exploded>("x", (_, _) => LanguageExt.Prelude.unit)) // Exploded is not registered
            .ProcessManager(ProcessManager<int>.Create("", 0).WithBatchSize(0)); // blank name, batch size 0
        var error = await Expect.Left(builder.Build());                          // and no interpreter
        var invalid = Assert.IsType<FableErrors.InvalidDefinition>(error);
        Assert.Equal(FableErrors.InvalidDefinitionCode, invalid.Code);
        string[] expected =
        [
            "blank table name", "no state-to-row mapping", "evolves Opened twice", "name opened is registered 2 times",
            "upcaster from v5", "Exploded is routed but not registered", "process manager has a blank name", "batch size 0",
            "no interpreter chosen",
        ];
        foreach (var fragment in expected)
            Assert.Contains(invalid.Problems, p => p.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_handler_registered_twice_for_one_type_is_DuplicateRoute()
    {
        var routes = Routes.Empty.On<Deposited>("ledger", (_, _) => LanguageExt.Prelude.unit);
        var error = await Expect.Left(Accounts.Register(FableBuilder.Create()).Routes(routes).UseInMemory().Build());
        var duplicate = Assert.IsType<FableErrors.DuplicateRoute>(error);
        Assert.Equal(("Deposited", "ledger"), (duplicate.EventType, duplicate.Handler));
        Assert.Equal(FableErrors.DuplicateRouteCode, duplicate.Code);
    }

    [Fact]
    public async Task Routes_from_separate_modules_merge_and_run_in_registration_order()
    {
        var order = new List<string>();
        var moduleA = Routes.Empty.OnAsync<Opened>("a", (_, _) => { order.Add("a"); return Task.CompletedTask; });
        var moduleB = Routes.Empty.OnAsync<Opened>("b", (_, _) => { order.Add("b"); return Task.CompletedTask; });
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).Routes(moduleA.Include(moduleB)).UseInMemory().Build());
        await Expect.Right(app.Emit(Accounts.Type, Guid.NewGuid(), a => Accounts.Open(a, "ada")));
        Assert.Equal(["a", "b"], order);
    }

    [Fact]
    public async Task An_evolved_event_type_without_a_route_is_reported_by_Build()
    {
        var type = AggregateType<Thing, Guid>.Create("things", id => new Thing(id), _ => Rows.Of(), _ => new Thing(Guid.Empty))
                                       .On<Withdrawn>((t, _) => t);
        var error = await Expect.Left(FableBuilder.Create().Event<Withdrawn>("withdrawn").Aggregate(type).UseInMemory().Build());
        Assert.Contains(Assert.IsType<FableErrors.InvalidDefinition>(error).Problems, p => p.Contains("has no route", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_ToRow_that_returns_null_writes_id_or_throws_fails_Build_in_memory_as_on_PostgreSQL()
    {
        AggregateType<Thing, Guid> With(Func<Thing, IReadOnlyDictionary<string, object?>> toRow, string table) =>
            AggregateType<Thing, Guid>.Create(table, id => new Thing(id), toRow, _ => new Thing(Guid.Empty));
        var builder = FableBuilder.Create()
            .Aggregate(With(_ => null!, "nulls"))
            .Aggregate(With(t => Rows.Of(("id", t.Id)), "ids"))
            .Aggregate(With(_ => throw new InvalidOperationException("no row"), "throws"))
            .UseInMemory();
        var problems = Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(builder.Build())).Problems;
        Assert.Contains(problems, p => p.Contains("ToRow of aggregate nulls returned null", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("ToRow of aggregate ids writes column id, which Fable owns", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("aggregate throws: ToRow threw on the initial state: no row", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Emitting_to_an_aggregate_type_that_is_not_registered_is_InvalidDefinition()
    {
        var other = AggregateType<Thing, Guid>.Create("things", id => new Thing(id), _ => Rows.Of(), _ => new Thing(Guid.Empty));
        await using var app = await new InMemoryHarness().App();
        var error = await Expect.Left(app.Append(other, Guid.NewGuid(), [new Opened("x")]));
        Assert.Contains("no aggregate type registered", Assert.IsType<FableErrors.InvalidDefinition>(error).Problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_aggregate_type_is_known_by_its_table_so_a_second_definition_of_a_registered_table_reaches_it()
    {
        await using var app = await new InMemoryHarness().App();
        var again = AggregateType<Account, Guid>.Create("accounts", id => new Account(id, null, 0, false), _ => Rows.Of(), _ => null!);
        var id = Guid.NewGuid();
        var opened = await Expect.Right(app.Emit(again, id, a => Accounts.Open(a, "ada")));
        Assert.Equal("ada", opened.State.Owner);
        Assert.Same(Accounts.Type, opened.Type);
        var otherTypes = AggregateType<Thing, Guid>.Create("accounts", k => new Thing(k), _ => Rows.Of(), _ => new Thing(Guid.Empty));
        var error = Assert.IsType<FableErrors.InvalidDefinition>(await Expect.Left(app.Load(otherTypes, id)));
        Assert.Contains("is registered as AggregateType<Account, Guid>", error.Problems[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Two_definitions_of_one_table_or_an_unsupported_key_type_are_refused_at_Build()
    {
        var twice = AggregateType<Account, Guid>.Create("accounts", id => new Account(id, null, 0, false), _ => Rows.Of(), _ => null!);
        var error = await Expect.Left(Accounts.Register(FableBuilder.Create()).Aggregate(twice).UseInMemory().Build());
        Assert.Contains(Assert.IsType<FableErrors.InvalidDefinition>(error).Problems,
                        p => p.Contains("aggregate table accounts is registered by 2 aggregate types", StringComparison.Ordinal));
        var intKeys = AggregateType<Thing, int>.Create("things", k => new Thing(Guid.Empty), _ => Rows.Of(), _ => new Thing(Guid.Empty));
        var refused = await Expect.Left(Accounts.Register(FableBuilder.Create()).Aggregate(intKeys).UseInMemory().Build());
        Assert.Contains(Assert.IsType<FableErrors.InvalidDefinition>(refused).Problems,
                        p => p.Contains("aggregate things has Int32 keys; use Guid (uuid), long (bigint) or string (text)", StringComparison.Ordinal));
    }
    [Fact]
    public async Task An_unreachable_database_is_an_Exceptional_Infrastructure_error()
    {
        await using var nowhere = Npgsql.NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=3");
        var error = await Expect.Left(Accounts.Register(FableBuilder.Create()).UsePostgres(nowhere).Build());
        var infrastructure = Assert.IsType<FableErrors.Infrastructure>(error);
        Assert.True(infrastructure.IsExceptional);
        Assert.Equal(FableErrors.InfrastructureCode, infrastructure.Code);
    }

    [Fact]
    public async Task InTransaction_on_the_in_memory_interpreter_is_InvalidDefinition()
    {
        await using var app = await new InMemoryHarness().App();
        var error = await Expect.Left(app.InTransaction(null!, null!, u => u.Load(Accounts.Type, Guid.NewGuid())));
        Assert.IsType<FableErrors.InvalidDefinition>(error);
    }
}
