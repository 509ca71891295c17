// The interpreter a scenario runs on (in memory, or a throwaway PostgreSQL schema), and result assertions.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Xunit.Sdk;

namespace FacadeTests;

/// <summary>Creates isolated apps on one interpreter.</summary>
public interface IHarness
{
    /// <summary>A fresh app with the accounts domain plus <paramref name="more"/> registrations.</summary>
    Task<FableApp> App(Func<FableBuilder, FableBuilder>? more = null);
}

/// <summary>Fresh in-memory stores.</summary>
public sealed class InMemoryHarness : IHarness
{
    public async Task<FableApp> App(Func<FableBuilder, FableBuilder>? more = null)
    {
        var builder = Accounts.Register(FableBuilder.Create()).UseInMemory();
        return await Expect.Right((more ?? (b => b))(builder).Build());
    }
}

/// <summary>Assertions over LanguageExt results.</summary>
public static class Expect
{
    public static async Task<T> Right<T>(EitherAsync<Error, T> result) =>
        (await result.ToEither()).Match(r => r, e => throw new XunitException($"expected Right, got Left: {e}"));

    public static async Task<Error> Left<T>(EitherAsync<Error, T> result) =>
        (await result.ToEither()).Match(r => throw new XunitException($"expected Left, got Right: {r}"), e => e);

    public static T Right<T>(Either<Error, T> result) =>
        result.Match(r => r, e => throw new XunitException($"expected Right, got Left: {e}"));

    /// <summary>The committed ledger rows of an account, read in a unit of work of their own.</summary>
    public static Task<IReadOnlyList<IReadOnlyDictionary<string, object?>>> Ledger(FableApp app, Guid account) =>
        Right(app.Transact(u => u.Tables.Find("ledger", "account_id", account)));
}
