// Values between the F# core and C#: options, positions, recorded events and keys.
using Fable.FSharp;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Core;

namespace Fable.CSharp;

internal static class Conversions
{
    public static long? Opt(FSharpOption<long>? o) => o is null ? null : o.Value;
    public static FSharpOption<long>? Opt(long? v) => v is { } x ? FSharpOption<long>.Some(x) : null;
    public static FSharpOption<T>? Some<T>(T? v) where T : class => v is null ? null : FSharpOption<T>.Some(v);
    public static Position Pos(global::Fable.FSharp.LogPosition p) => new(p.Tx, p.Id);
    public static global::Fable.FSharp.LogPosition Pos(Position p) => new(p.Tx, p.Id);

    public static RecordedEvent Recorded(global::Fable.FSharp.StoredEvent r) =>
        new(r.Id, Opt(r.PrevEventId), r.Aggregate.Table, r.Aggregate.Key.Value, r.TypeName, r.TypeVersion, r.Meta, r.Data,
            r.InsertedAt, Pos(r.Position));

    public static RecordedEvent<K> Recorded<K>(global::Fable.FSharp.StoredEvent r) where K : notnull =>
        new(r.Id, Opt(r.PrevEventId), r.Aggregate.Table, Keys<K>.OfCore(r.Aggregate.Key), r.TypeName, r.TypeVersion, r.Meta, r.Data,
            r.InsertedAt, Pos(r.Position));

    /// <summary>The core's key of <paramref name="id"/>; a null string key is an InvalidDefinition.</summary>
    public static Either<Error, AggregateKey> Key<K>(string table, K id) where K : notnull =>
        id is null
            ? new FableErrors.InvalidDefinition([$"aggregate {table}: the key is null; pass a {typeof(K).Name}"])
            : Keys<K>.ToCore(id);

    public static FSharpOption<AggregateId>? AggregateOf(string? table, object? key) =>
        table is not null && key is not null && AggregateKeyModule.tryOfObj(key) is { } k
            ? FSharpOption<AggregateId>.Some(new AggregateId(table, k.Value)) : null;
}
