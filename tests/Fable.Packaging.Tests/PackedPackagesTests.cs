// The packages `./build.sh test` packed into artifacts/packages (or FABLE_PACKAGES): one per src/ project, each fit
// to publish (NuspecRules), one version for all, README/LICENSE/XML docs inside, a symbol package with SourceLink.
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace PackagingTests;

public sealed class PackedPackagesTests
{
    const string Repository = "https://github.com/fable-dotnet/fable-dotnet";

    static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Fable.sln"))) return d.FullName;
        throw new InvalidOperationException("Fable.sln not found above the test binaries");
    }

    static string Feed()
    {
        var dir = Environment.GetEnvironmentVariable("FABLE_PACKAGES") is { Length: > 0 } env ? env : Path.Combine(RepoRoot(), "artifacts", "packages");
        if (!Directory.Exists(dir) || Directory.GetFiles(dir, "*.nupkg").Length == 0)
            throw new InvalidOperationException($"no packages in {dir}: run `./build.sh pack` (or `./build.sh test`, which packs before testing)");
        return dir;
    }

    static IReadOnlyList<string> Packages() =>
        Directory.GetFiles(Feed(), "*.nupkg").Where(f => !f.EndsWith(".symbols.nupkg", StringComparison.Ordinal)).Order().ToList();

    static XDocument Nuspec(ZipArchive zip) =>
        XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal) && !e.FullName.Contains('/')).Open());

    static string MetaOf(XDocument nuspec, string name) =>
        nuspec.Descendants().First(e => e.Name.LocalName == name).Value.Trim();

    [Fact]
    public void Every_package_is_fit_to_publish()
    {
        var problems = Packages().SelectMany(p => { using var zip = ZipFile.OpenRead(p); return NuspecRules.Problems(Nuspec(zip)); }).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_src_project_has_its_package_and_all_share_the_version_of_Directory_Build_props()
    {
        var props = File.ReadAllText(Path.Combine(RepoRoot(), "Directory.Build.props"));
        var version = Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;
        var assemblies = new List<string>();
        foreach (var p in Packages())
        {
            using var zip = ZipFile.OpenRead(p);
            Assert.Equal(version, MetaOf(Nuspec(zip), "version"));
            assemblies.AddRange(zip.Entries.Where(e => e.FullName.StartsWith("lib/", StringComparison.Ordinal) && e.Name.EndsWith(".dll", StringComparison.Ordinal)).Select(e => e.Name[..^4]));
        }
        foreach (var project in Directory.GetFiles(Path.Combine(RepoRoot(), "src"), "*.?sproj", SearchOption.AllDirectories))
        {
            var assembly = Regex.Match(File.ReadAllText(project), "<AssemblyName>([^<]+)</AssemblyName>") is { Success: true } m ? m.Groups[1].Value : Path.GetFileNameWithoutExtension(project);
            Assert.True(assemblies.Contains(assembly), $"{project} has no package in {Feed()} (packed: {string.Join(", ", assemblies)})");
        }
    }

    [Fact]
    public void Every_package_carries_its_README_LICENSE_and_XML_docs()
    {
        foreach (var p in Packages())
        {
            using var zip = ZipFile.OpenRead(p);
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains(MetaOf(Nuspec(zip), "readme"), names);
            Assert.Contains("LICENSE", names);
            foreach (var dll in names.Where(n => n.StartsWith("lib/", StringComparison.Ordinal) && n.EndsWith(".dll", StringComparison.Ordinal)))
                Assert.True(names.Contains(dll[..^4] + ".xml"), $"{Path.GetFileName(p)}: {dll} has no XML documentation beside it");
        }
    }

    [Fact]
    public void Every_package_has_a_symbol_package_whose_PDBs_link_to_the_repository()
    {
        foreach (var p in Packages())
        {
            var snupkg = Path.ChangeExtension(p, ".snupkg");
            Assert.True(File.Exists(snupkg), $"no symbol package {snupkg}");
            using var zip = ZipFile.OpenRead(snupkg);
            var pdbs = zip.Entries.Where(e => e.Name.EndsWith(".pdb", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(pdbs);
            foreach (var pdb in pdbs)
            {
                using var s = new MemoryStream();
                pdb.Open().CopyTo(s);
                var text = Encoding.UTF8.GetString(s.ToArray());
                Assert.True(text.Contains("https://raw.githubusercontent.com/fable-dotnet/fable-dotnet/"),
                    $"{Path.GetFileName(snupkg)}: {pdb.FullName} has no SourceLink to {Repository} (pack in a git clone)");
            }
            using var nupkg = ZipFile.OpenRead(p);
            var repository = Nuspec(nupkg).Descendants().First(e => e.Name.LocalName == "repository");
            Assert.Equal(Repository, repository.Attribute("url")?.Value);
            Assert.Matches("^[0-9a-f]{40}$", repository.Attribute("commit")?.Value ?? "");
        }
    }
}
