// An upcaster: turns a stored payload of one version into the next version's JSON shape.
using System.Text.Json.Nodes;

namespace Fable.CSharp;

/// <summary>Reads payloads of version <paramref name="FromVersion"/> and returns version <c>FromVersion + 1</c>.</summary>
/// <param name="FromVersion">The version this upcaster reads (1 up to the current version - 1).</param>
/// <param name="Apply">The transformation; it may modify and return its argument.</param>
public sealed record Upcaster(int FromVersion, Func<JsonNode, JsonNode> Apply);
