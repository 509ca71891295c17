// The C# face must not leak F#: no public or protected signature of Fable.CSharp mentions a type of FSharp.Core
// (nor of the F# core assembly). The detector is checked against a type that does leak, so it can fail.
using Fable.CSharp;
using System.Reflection;
using Xunit;

namespace FacadeTests;

public sealed class PublicApiTests
{
    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                          BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static bool Visible(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);
    private static bool Visible(FieldInfo f) => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly;

    /// <summary>Every type a type's visible surface mentions, with where it is mentioned.</summary>
    private static IEnumerable<(string Where, Type Type)> Surface(Type t)
    {
        if (t.BaseType is { } b) yield return ($"{t} base type", b);
        foreach (var i in t.GetInterfaces()) yield return ($"{t} interface", i);
        foreach (var g in t.IsGenericTypeDefinition ? t.GetGenericArguments() : [])
            foreach (var c in g.GetGenericParameterConstraints()) yield return ($"{t} constraint on {g}", c);
        foreach (var m in t.GetMembers(Declared))
        {
            switch (m)
            {
                case MethodInfo mi when Visible(mi):
                    yield return ($"{t}.{mi.Name} return", mi.ReturnType);
                    foreach (var p in mi.GetParameters()) yield return ($"{t}.{mi.Name}({p.Name})", p.ParameterType);
                    foreach (var g in mi.IsGenericMethodDefinition ? mi.GetGenericArguments() : [])
                        foreach (var c in g.GetGenericParameterConstraints()) yield return ($"{t}.{mi.Name} constraint", c);
                    break;
                case ConstructorInfo ci when Visible(ci):
                    foreach (var p in ci.GetParameters()) yield return ($"{t}..ctor({p.Name})", p.ParameterType);
                    break;
                case PropertyInfo pi when Visible(pi.GetMethod) || Visible(pi.SetMethod):
                    yield return ($"{t}.{pi.Name}", pi.PropertyType);
                    foreach (var p in pi.GetIndexParameters()) yield return ($"{t}.{pi.Name}[{p.Name}]", p.ParameterType);
                    break;
                case FieldInfo fi when Visible(fi):
                    yield return ($"{t}.{fi.Name}", fi.FieldType);
                    break;
                case EventInfo ei when Visible(ei.AddMethod):
                    yield return ($"{t}.{ei.Name}", ei.EventHandlerType!);
                    break;
            }
        }
    }

    /// <summary>The type and every type inside it (generic arguments, array elements, by-ref targets).</summary>
    private static IEnumerable<Type> Parts(Type t)
    {
        yield return t;
        if (t.HasElementType) foreach (var p in Parts(t.GetElementType()!)) yield return p;
        if (t.IsGenericType && !t.IsGenericTypeDefinition)
            foreach (var a in t.GetGenericArguments()) foreach (var p in Parts(a)) yield return p;
    }

    private static List<string> Leaks(IEnumerable<Type> types, Func<Type, bool> forbidden) =>
        types.SelectMany(Surface)
             .SelectMany(s => Parts(s.Type).Where(forbidden).Select(p => $"{s.Where}: {p}"))
             .Distinct()
             .ToList();

    private static bool FromFSharpCore(Type t) => !t.IsGenericParameter && t.Assembly.GetName().Name == "FSharp.Core";
    private static bool FromFSharpCoreOrCore(Type t) =>
        !t.IsGenericParameter && t.Assembly.GetName().Name is "FSharp.Core" or "Fable.Core.FSharp";

    private static IEnumerable<Type> PublicTypes() =>
        typeof(FableApp).Assembly.GetTypes().Where(t => t.IsVisible);

    [Fact]
    public void The_detector_finds_FSharp_Core_types_where_they_are()
    {
        var leaky = Type.GetType("Fable.FSharp.StoredEvent, Fable.Core.FSharp", throwOnError: true)!;
        Assert.Contains(Leaks([leaky], FromFSharpCore), l => l.Contains("FSharpOption", StringComparison.Ordinal));
        Assert.Contains(Leaks([typeof(Holder)], FromFSharpCore), l => l.Contains("FSharpList", StringComparison.Ordinal));
    }

    [Fact]
    public void No_public_signature_of_FableCSharp_mentions_an_FSharp_Core_type()
    {
        var types = PublicTypes().ToList();
        Assert.Contains(typeof(FableErrors.Conflict), types); // nested types are included
        Assert.Empty(Leaks(types, FromFSharpCore));
    }

    [Fact]
    public void No_public_signature_of_FableCSharp_mentions_a_type_of_the_FSharp_core_assembly()
    {
        Assert.Empty(Leaks(PublicTypes(), FromFSharpCoreOrCore));
    }

    [Fact]
    public void Every_public_async_method_takes_an_optional_CancellationToken_last()
    {
        static bool Async(Type t) =>
            typeof(Task).IsAssignableFrom(t) || t == typeof(ValueTask) ||
            (t.IsGenericType && t.GetGenericTypeDefinition() is var d && (d == typeof(ValueTask<>) || d == typeof(LanguageExt.EitherAsync<,>)));
        var methods = PublicTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => !m.IsSpecialName && Async(m.ReturnType) && m.Name != nameof(IAsyncDisposable.DisposeAsync))
            .ToList();
        Assert.Contains(methods, m => m.Name == nameof(FableApp.Emit));
        var missing = methods
            .Where(m => m.GetParameters() is not [.., { ParameterType: var last, HasDefaultValue: true }] || last != typeof(CancellationToken))
            .Select(m => $"{m.DeclaringType}.{m.Name}")
            .ToList();
        Assert.Empty(missing);
    }

    [Fact]
    public void StartPosition_and_ErrorPolicy_are_closed_unions_of_sealed_cases()
    {
        foreach (var union in new[] { typeof(StartPosition), typeof(ErrorPolicy) })
        {
            Assert.True(union.IsAbstract, $"{union} is abstract");
            Assert.DoesNotContain(union.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance),
                                  c => c.IsPublic || c.IsFamily || c.IsFamilyOrAssembly || c.IsAssembly);
            Assert.All(union.GetNestedTypes().Where(union.IsAssignableFrom), c => Assert.True(c.IsSealed, $"{c} is sealed"));
        }
        static string Describe(StartPosition s) => s switch
        {
            StartPosition.FromOrigin => "origin",
            StartPosition.FromHead => "head",
            StartPosition.AfterPosition(var p) => $"after {p.Tx}:{p.Id}",
            _ => "impossible",
        };
        Assert.Equal(["origin", "head", "after 3:4"],
                     new[] { StartPosition.Origin, StartPosition.Head, StartPosition.After(new Position(3, 4)) }.Select(Describe));
        var retry = Assert.IsType<ErrorPolicy.Retrying>(ErrorPolicy.Retry(TimeSpan.FromSeconds(2), 3));
        Assert.Equal((TimeSpan.FromSeconds(2), (int?)3), (retry.Interval, retry.MaxAttempts));
        Assert.IsType<ErrorPolicy.Stopping>(ErrorPolicy.Stop);
    }

    /// <summary>Public parameters named like a key (key, id, *Key, *Id) typed <c>object</c>.</summary>
    private static List<string> ObjectKeys(IEnumerable<Type> types) =>
        types.SelectMany(t => t.GetMembers(Declared).OfType<MethodBase>().Where(Visible)
                              .SelectMany(m => m.GetParameters().Select(p => (t, m, p))))
             .Where(x => x.p.ParameterType == typeof(object) && x.p.Name is { } n &&
                         (n.Equals("key", StringComparison.OrdinalIgnoreCase) || n.Equals("id", StringComparison.OrdinalIgnoreCase) ||
                          n.EndsWith("Key", StringComparison.Ordinal) || n.EndsWith("Id", StringComparison.Ordinal)))
             .Select(x => $"{x.t}.{x.m.Name}({x.p.Name})")
             .Distinct()
             .ToList();

    [Fact]
    public void The_object_key_detector_finds_what_is_there()
    {
        Assert.Equal([$"{typeof(KeyHolder)}.Get(id)"], ObjectKeys([typeof(KeyHolder)]));
    }

    [Fact]
    public void No_public_parameter_takes_a_key_as_object()
    {
        Assert.Empty(ObjectKeys(PublicTypes()));
    }

    /// <summary>Takes a key as object on purpose, to prove the object-key detector can fail.</summary>
    public sealed class KeyHolder
    {
        public object Get(object id) => id;
    }

    /// <summary>A type that leaks on purpose, to prove the detector sees generic arguments inside a signature.</summary>
    public sealed class Holder
    {
        public Task<IReadOnlyList<Microsoft.FSharp.Collections.FSharpList<int>>>? Value { get; set; }
    }
}
