// What an app's running code needs from its registration: its aggregate types (known by table) and its JSON options.
using System.Text.Json;
using LanguageExt.Common;

namespace Fable.CSharp;

/// <summary>The registered aggregate types, by table, and the JSON options of one app.</summary>
internal sealed class Registry(JsonSerializerOptions json)
{
    private readonly Dictionary<string, object> aggregates = new(StringComparer.Ordinal);

    public JsonSerializerOptions Json { get; } = json;

    /// <summary>Registers <paramref name="aggregateType"/> for <paramref name="table"/>; false when the table has one.</summary>
    public bool Add(string table, object aggregateType) => aggregates.TryAdd(table, aggregateType);

    /// <summary>The registered definition of <paramref name="type"/>'s table (the same instance, or the one registered
    /// for its table when its state and key types match); an InvalidDefinition saying what to do otherwise.</summary>
    public (AggregateType<S, K>? Type, Error? Problem) Resolve<S, K>(AggregateType<S, K>? type) where K : notnull
    {
        if (type is null) return (null, new FableErrors.InvalidDefinition(["the aggregate type is null"]));
        if (!aggregates.TryGetValue(type.Table, out var registered))
            return (null, new FableErrors.InvalidDefinition(
                [$"table {type.Table} has no aggregate type registered with this app: register it with FableBuilder.Aggregate(...) before Build"]));
        if (registered is AggregateType<S, K> same) return (same, null);
        return (null, new FableErrors.InvalidDefinition(
            [$"table {type.Table} is registered as {registered}, not as {type}: use the registered state and key types"]));
    }
}
