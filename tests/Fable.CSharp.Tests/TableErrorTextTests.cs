// Errors of the table API name the ordinary table as a table (never "aggregate ..."), say what was wrong and what to do.
using Fable.CSharp;
using Xunit;

namespace FacadeTests;

public sealed class TableErrorTextTests
{
    [Fact]
    public async Task A_key_of_the_wrong_type_on_an_ordinary_table_names_the_table_and_the_key_type_it_takes()
    {
        await using var app = await new InMemoryHarness().App();
        var error = await Expect.Left(app.Transact(u => u.Tables.Get("ledger", 42L)));
        Assert.Contains("ledger", error.Message, StringComparison.Ordinal);
        Assert.Contains("uuid", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("aggregate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_duplicate_row_in_an_ordinary_table_is_a_Conflict_naming_the_table_and_Upsert()
    {
        await using var app = await new InMemoryHarness().App();
        var id = Guid.NewGuid();
        var row = Rows.Of(("id", id), ("account_id", Guid.NewGuid()), ("event_id", 1L), ("amount", 5L));
        var error = await Expect.Left(app.Transact(u => u.Tables.Insert("ledger", row).Bind(_ => u.Tables.Insert("ledger", row))));
        Assert.Equal(FableErrors.ConflictCode, error.Code);
        Assert.Contains($"a row with id {id} already exists in ledger", error.Message, StringComparison.Ordinal);
        Assert.Contains("Upsert", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("aggregate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_undeclared_table_says_how_to_declare_it()
    {
        await using var app = await new InMemoryHarness().App();
        var error = await Expect.Left(app.Transact(u => u.Tables.Get("ledgers", Guid.NewGuid())));
        Assert.Equal(FableErrors.InvalidDefinitionCode, error.Code);
        Assert.Contains("table ledgers is not declared", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("aggregate", error.Message, StringComparison.Ordinal);
    }
}
