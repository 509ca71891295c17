// Ordinary rows inside the current transaction, as LanguageExt results. Writes commit or roll back with it.
using LanguageExt;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>Rows of ordinary tables (each with a primary key column <c>id</c>) inside the current unit of work.
/// Rows are <see cref="IReadOnlyDictionary{TKey,TValue}"/> of column name to value; build them with
/// <see cref="Rows.Of"/>. Chain calls with <c>Bind</c>: calls on one unit of work must not overlap.</summary>
public sealed class Tables
{
    private readonly UowAdapter uow;

    internal Tables(UowAdapter uow) => this.uow = uow;

    /// <summary>The row of <paramref name="table"/> whose <c>id</c> is <paramref name="id"/>, if any.</summary>
    /// <typeparam name="TKey">The type of the table's <c>id</c> (Guid, long, int, string, …; the declared key type
    /// decides which is accepted).</typeparam>
    public EitherAsync<Error, Option<IReadOnlyDictionary<string, object?>>> Get<TKey>(string table, TKey id, CancellationToken ct = default)
        where TKey : notnull =>
        uow.Get(table, id, uow.Token(ct)).ToAsync();

    /// <summary>The rows of <paramref name="table"/> whose <paramref name="column"/> equals <paramref name="value"/>,
    /// ordered by <c>id</c>.</summary>
    public EitherAsync<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>> Find(string table, string column, object value, CancellationToken ct = default) =>
        uow.Find(table, column, value, uow.Token(ct)).ToAsync();

    /// <summary>Inserts <paramref name="row"/> (which must hold <c>id</c>); an existing id is a
    /// <see cref="FableErrors.Conflict"/>.</summary>
    public EitherAsync<Error, Unit> Insert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct = default) =>
        uow.Insert(table, row, uow.Token(ct)).ToAsync();

    /// <summary>Inserts <paramref name="row"/>, or updates the columns it lists when its <c>id</c> exists.</summary>
    public EitherAsync<Error, Unit> Upsert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct = default) =>
        uow.Upsert(table, row, uow.Token(ct)).ToAsync();

    /// <summary>Deletes the row with <paramref name="id"/>; true when a row was deleted.</summary>
    /// <typeparam name="TKey">The type of the table's <c>id</c>.</typeparam>
    public EitherAsync<Error, bool> Delete<TKey>(string table, TKey id, CancellationToken ct = default) where TKey : notnull =>
        uow.Delete(table, id, uow.Token(ct)).ToAsync();
}
