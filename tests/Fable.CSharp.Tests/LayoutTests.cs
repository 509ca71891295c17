// The C# face's folders form layers: Internal (conversions) <- Running (the running app) <- Building (the builder).
// A file may use types of its own folder and of the layers below it, never of a layer above (no folder cycles).
using System.Text.RegularExpressions;
using Xunit;

namespace FacadeTests;

public sealed partial class LayoutTests
{
    private static readonly string[] Layers = ["Internal", "Running", "Building"];

    [GeneratedRegex(@"\b(?:class|record|struct|interface|enum)\s+(\w+)|\bdelegate\s[^;(]*?(\w+)\s*\(")]
    private static partial Regex Declaration();

    [GeneratedRegex("\"[^\"\n]*\"")]
    private static partial Regex StringLiteral();

    /// <summary>"file uses Type (of a higher layer)" for every upward use; comments and string literals are ignored.</summary>
    private static List<string> UpwardUses(IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> sources)
    {
        static string Code(string text) =>
            StringLiteral().Replace(string.Join('\n', text.Split('\n').Where(l => !l.TrimStart().StartsWith("//", StringComparison.Ordinal))), "\"\"");
        var declared = Layers.ToDictionary(l => l, l => sources.GetValueOrDefault(l, new Dictionary<string, string>())
            .Values.SelectMany(t => Declaration().Matches(Code(t)).Select(m => m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value))
            .ToHashSet());
        var found = new List<string>();
        for (var i = 0; i < Layers.Length; i++)
            foreach (var (file, text) in sources.GetValueOrDefault(Layers[i], new Dictionary<string, string>()))
                foreach (var higher in Layers.Skip(i + 1))
                    foreach (var name in declared[higher].Where(n => Regex.IsMatch(Code(text), $@"\b{n}\b")))
                        found.Add($"{Layers[i]}/{file} uses {name} of {higher}");
        return found;
    }

    [Fact]
    public void The_detector_finds_an_upward_use()
    {
        var sources = new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["Internal"] = new Dictionary<string, string> { ["A.cs"] = "internal static class A { static B b; }" },
            ["Running"] = new Dictionary<string, string> { ["B.cs"] = "// uses A\ninternal sealed class B { A a; }" },
        };
        Assert.Equal(["Internal/A.cs uses B of Running"], UpwardUses(sources));
    }

    [Fact]
    public void Internal_Running_and_Building_have_no_folder_cycle()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Fable.sln"))) root = root.Parent;
        Assert.NotNull(root);
        var face = Path.Combine(root.FullName, "src", "Fable.CSharp");
        var sources = Layers.ToDictionary(l => l, l => (IReadOnlyDictionary<string, string>)Directory
            .GetFiles(Path.Combine(face, l), "*.cs").ToDictionary(f => Path.GetFileName(f), File.ReadAllText));
        Assert.All(Layers, l => Assert.NotEmpty(sources[l]));
        Assert.Empty(UpwardUses(sources));
    }
}
