// What a published package's .nuspec must say: no SDK placeholder, a licence, a repository, a README, release notes,
// and dependency ranges rather than exact pins.
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace PackagingTests;

/// <summary>The rules a packed .nuspec must follow; each broken rule is one line of text.</summary>
public static class NuspecRules
{
    static string? Meta(XElement metadata, string name) =>
        metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value.Trim();

    /// <summary>An exact pin: `[1.2.3]` (or `[1.2.3,1.2.3]`), which makes a consumer on any other version fail restore.</summary>
    public static bool IsExactPin(string range)
    {
        var m = Regex.Match(range.Trim(), @"^\[\s*([^,\]]+?)\s*(?:,\s*([^\]]+?)\s*)?\]$");
        return m.Success && (!m.Groups[2].Success || m.Groups[1].Value == m.Groups[2].Value);
    }

    /// <summary>Every problem of one .nuspec document (empty when it is fit to publish).</summary>
    public static IReadOnlyList<string> Problems(XDocument nuspec)
    {
        var metadata = nuspec.Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "metadata");
        if (metadata is null) return ["no <metadata> element"];
        var problems = new List<string>();
        var id = Meta(metadata, "id") ?? "";
        var description = Meta(metadata, "description");
        if (string.IsNullOrEmpty(description) || description == "Package Description" || description == id)
            problems.Add($"{id}: placeholder description '{description}'");
        var authors = Meta(metadata, "authors");
        if (string.IsNullOrEmpty(authors) || authors == id || id.StartsWith(authors + ".", StringComparison.Ordinal) || authors.StartsWith("Fable.", StringComparison.Ordinal))
            problems.Add($"{id}: placeholder authors '{authors}' (a project name, not people)");
        var license = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "license");
        if (license is null || license.Attribute("type")?.Value != "expression" || license.Value.Trim() != "MIT")
            problems.Add($"{id}: no MIT licence expression");
        var repository = metadata.Elements().FirstOrDefault(e => e.Name.LocalName == "repository");
        if (repository is null || !(repository.Attribute("url")?.Value ?? "").StartsWith("https://", StringComparison.Ordinal))
            problems.Add($"{id}: no repository url");
        if (string.IsNullOrEmpty(Meta(metadata, "projectUrl"))) problems.Add($"{id}: no projectUrl");
        if (string.IsNullOrEmpty(Meta(metadata, "readme"))) problems.Add($"{id}: no readme");
        if (string.IsNullOrEmpty(Meta(metadata, "releaseNotes"))) problems.Add($"{id}: no release notes");
        if (string.IsNullOrEmpty(Meta(metadata, "tags"))) problems.Add($"{id}: no tags");
        foreach (var dep in metadata.Descendants().Where(e => e.Name.LocalName == "dependency"))
        {
            var range = dep.Attribute("version")?.Value ?? "";
            if (IsExactPin(range))
                problems.Add($"{id}: dependency {dep.Attribute("id")?.Value} is pinned exactly ({range}); use a range from the tested minimum");
        }
        return problems;
    }
}
