// What an app's running code needs from its registration: which aggregate types it knows and its JSON options.
using System.Text.Json;

namespace Fable.CSharp;

/// <summary>The registered aggregate types (by reference) and the JSON options of one app.</summary>
internal sealed class Registry(JsonSerializerOptions json)
{
    private readonly HashSet<object> aggregates = new(ReferenceEqualityComparer.Instance);

    public JsonSerializerOptions Json { get; } = json;

    public bool Add(object aggregateType) => aggregates.Add(aggregateType);

    public bool Has(object aggregateType) => aggregates.Contains(aggregateType);
}
