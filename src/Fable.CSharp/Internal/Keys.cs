// Typed aggregate keys: which key kind a C# key type stands for, and the conversions to and from the core's
// AggregateKey, resolved once per key type (no reflection per emit).
using Fable.FSharp;

namespace Fable.CSharp;

/// <summary>The key kind of <typeparamref name="TKey"/> and its conversions; Kind is null for an unsupported type.</summary>
internal static class Keys<TKey> where TKey : notnull
{
    public static readonly KeyKind? Kind =
        typeof(TKey) == typeof(Guid) ? KeyKind.Uuid
        : typeof(TKey) == typeof(long) ? KeyKind.Int
        : typeof(TKey) == typeof(string) ? KeyKind.Text
        : null;

    private static readonly Func<TKey, AggregateKey> toCore =
        typeof(TKey) == typeof(Guid) ? (Func<TKey, AggregateKey>)(object)new Func<Guid, AggregateKey>(AggregateKey.NewUuid)
        : typeof(TKey) == typeof(long) ? (Func<TKey, AggregateKey>)(object)new Func<long, AggregateKey>(AggregateKey.NewInt)
        : typeof(TKey) == typeof(string) ? (Func<TKey, AggregateKey>)(object)new Func<string, AggregateKey>(AggregateKey.NewText)
        : _ => throw new InvalidOperationException($"{typeof(TKey).Name} is not an aggregate key type");

    /// <summary>The core's key; a null string key is refused before.</summary>
    public static AggregateKey ToCore(TKey key) => toCore(key);

    /// <summary>The typed key of a core key of this kind.</summary>
    public static TKey OfCore(AggregateKey key) => (TKey)key.Value;
}
