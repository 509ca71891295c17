// The rules themselves: the nuspec `dotnet pack` wrote before the packaging work (placeholders, exact pins) fails
// them, one that follows them passes.
using System.Xml.Linq;
using Xunit;

namespace PackagingTests;

public sealed class NuspecRulesTests
{
    // What `dotnet pack src/Fable.CSharp` wrote before Directory.Build.props carried the package metadata.
    const string Placeholder = """
        <?xml version="1.0" encoding="utf-8"?>
        <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
          <metadata>
            <id>Fable.EventSourcing.CSharp</id>
            <version>1.0.0</version>
            <authors>Fable.CSharp</authors>
            <requireLicenseAcceptance>false</requireLicenseAcceptance>
            <description>Package Description</description>
            <dependencies>
              <group targetFramework="net10.0">
                <dependency id="Fable.EventSourcing.Core" version="1.0.0" exclude="Build,Analyzers" />
                <dependency id="LanguageExt.Core" version="[4.4.9]" exclude="Build,Analyzers" />
                <dependency id="Npgsql" version="[10.0.3]" exclude="Build,Analyzers" />
              </group>
            </dependencies>
          </metadata>
        </package>
        """;

    const string Good = """
        <?xml version="1.0" encoding="utf-8"?>
        <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
          <metadata>
            <id>Fable.EventSourcing.CSharp</id>
            <version>0.1.0</version>
            <authors>Fable for .NET contributors</authors>
            <license type="expression">MIT</license>
            <readme>README.md</readme>
            <projectUrl>https://github.com/fable-dotnet/fable-dotnet</projectUrl>
            <description>Event sourcing on ordinary PostgreSQL tables, for C#.</description>
            <releaseNotes>First release.</releaseNotes>
            <tags>event-sourcing postgresql</tags>
            <repository type="git" url="https://github.com/fable-dotnet/fable-dotnet" commit="0123abc" />
            <dependencies>
              <group targetFramework="net10.0">
                <dependency id="Fable.EventSourcing.Core" version="0.1.0" />
                <dependency id="LanguageExt.Core" version="[4.4.9, 5.0)" />
                <dependency id="Npgsql" version="10.0.3" />
              </group>
            </dependencies>
          </metadata>
        </package>
        """;

    [Fact]
    public void The_placeholder_nuspec_breaks_every_rule()
    {
        var problems = NuspecRules.Problems(XDocument.Parse(Placeholder));
        foreach (var expected in new[] { "placeholder description", "placeholder authors", "licence", "repository", "projectUrl", "readme", "release notes", "tags", "LanguageExt.Core is pinned", "Npgsql is pinned" })
            Assert.Contains(problems, p => p.Contains(expected));
        Assert.Equal(10, problems.Count);
    }

    [Fact]
    public void A_complete_nuspec_with_ranges_passes() => Assert.Empty(NuspecRules.Problems(XDocument.Parse(Good)));

    [Theory]
    [InlineData("[10.0.3]", true)]
    [InlineData("[10.0.3, 10.0.3]", true)]
    [InlineData("10.0.3", false)]
    [InlineData("[10.0.3, )", false)]
    [InlineData("[4.4.9, 5.0)", false)]
    [InlineData("(, 5.0]", false)]
    public void Exact_pins_are_told_from_ranges(string range, bool pinned) => Assert.Equal(pinned, NuspecRules.IsExactPin(range));
}
