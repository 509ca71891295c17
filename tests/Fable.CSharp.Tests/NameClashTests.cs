// No type name a C# user can see twice: a public top-level type of the F# core never has the simple name (generic
// arity ignored) of one of the C# face, so `using Fable.FSharp; using Fable.CSharp;` is never ambiguous (issue 12).
using Fable.CSharp;
using System.Reflection;
using Xunit;

namespace FacadeTests;

public sealed class NameClashTests
{
    private static string Simple(Type t) => t.Name.Split('`')[0];

    /// <summary>What a C# user sees of an assembly: its public top-level types.</summary>
    private static IEnumerable<Type> Seen(Assembly a) => a.GetExportedTypes().Where(t => t.IsPublic && !t.IsNested);

    /// <summary>The simple names that types of both groups share, with the types that carry them.</summary>
    internal static List<string> Clashes(IEnumerable<Type> left, IEnumerable<Type> right)
    {
        static ILookup<string, Type> ByName(IEnumerable<Type> ts) =>
            ts.ToLookup(Simple, StringComparer.Ordinal);
        var l = ByName(left);
        var r = ByName(right);
        return l.Where(g => r.Contains(g.Key))
                .Select(g => $"{g.Key}: {string.Join(", ", g.Concat(r[g.Key]).Select(t => t.FullName))}")
                .OrderBy(s => s, StringComparer.Ordinal)
                .ToList();
    }

    private static Assembly Core => Type.GetType("Fable.FSharp.AggregateId, Fable.Core.FSharp", throwOnError: true)!.Assembly;

    [Fact]
    public void No_public_type_name_is_in_both_assemblies() =>
        Assert.Empty(Clashes(Seen(Core), Seen(typeof(FableApp).Assembly)));

    [Fact]
    public void The_detector_finds_a_name_in_both_groups()
    {
        var clashes = Clashes([typeof(A.Twice), typeof(A.Once)], [typeof(B.Twice<>)]);
        Assert.Equal(["Twice: FacadeTests.NameClashTests+A+Twice, FacadeTests.NameClashTests+B+Twice`1"], clashes);
    }

    private static class A
    {
        public sealed class Twice;
        public sealed class Once;
    }

    private static class B
    {
        public sealed class Twice<T>;
    }
}
