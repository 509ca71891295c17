// The core's definitions built from C# ones: aggregate definitions, event types, start positions and the
// validated runtime with its declared tables.
using Fable.FSharp;
using System.Text.Json;
using System.Text.Json.Nodes;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace Fable.CSharp;

internal static class CoreDefinitions
{
    public static AggregateDef<S> Def<S, K>(AggregateType<S, K> t) where K : notnull =>
        t.Core as AggregateDef<S> ?? (AggregateDef<S>)(t.Core = new AggregateDef<S>(
            t.Table, (global::Fable.FSharp.KeyType)(int)t.KeyKind,
            FuncConvert.FromFunc<AggregateKey, S>(k => t.Initial(Keys<K>.OfCore(k))),
            FuncConvert.FromFunc<S, object, S>(t.Evolve),
            // A null row goes through: the core refuses it (InvalidDefinition) on every interpreter alike.
            FuncConvert.FromFunc<S, IReadOnlyDictionary<string, object>>(s => t.ToRow(s)!),
            FuncConvert.FromFunc<IReadOnlyDictionary<string, object>, S>(row => t.OfRow(row!))));

    public static EventType EventType(Type clr, string name, int version, IEnumerable<Upcaster> upcasters) =>
        new(clr, name, version, MapModule.OfSeq(upcasters.Select(u =>
            Tuple.Create(u.FromVersion, FuncConvert.FromFunc<JsonNode, JsonNode>(u.Apply)))));

    public static global::Fable.FSharp.StartAt StartAt(StartPosition start) => start switch
    {
        StartPosition.AfterPosition a => global::Fable.FSharp.StartAt.NewAfter(Conversions.Pos(a.Position)),
        StartPosition.FromHead => global::Fable.FSharp.StartAt.Head,
        _ => global::Fable.FSharp.StartAt.Origin,
    };

    /// <summary>Validates and builds the runtime; Left is the core's error (InvalidDefinition or a lone DuplicateRoute).</summary>
    public static Either<Error, global::Fable.FSharp.Runtime> Runtime(IEnumerable<EventType> events, JsonSerializerOptions json, Router router,
                                                                 IEnumerable<ProcessManagerDef> processManagers,
                                                                 IEnumerable<(string Name, KeyKind KeyKind, bool IsAggregate, TableColumns Columns)> tables)
    {
        var decls = tables.Select(t => new TableDecl(
            t.Name, (global::Fable.FSharp.KeyType)(int)t.KeyKind, t.IsAggregate ? TableKind.Aggregate : TableKind.Ordinary,
            ListModule.OfSeq(t.Columns.Columns.Select(c => new ColumnDecl(c.Name, ColumnTypeOf(c.Type), c.Nullable)))));
        var definition = new Definition(new EventRegistry(ListModule.OfSeq(events), json), router, ListModule.OfSeq(processManagers),
                                        ListModule.OfSeq(decls));
        var r = RuntimeModule.build(definition);
        return r.IsOk ? r.ResultValue : ErrorConversions.ToError(r.ErrorValue);
    }

    static ColumnType ColumnTypeOf(TableColumns.Kind k) => k switch
    {
        TableColumns.Kind.Uuid => ColumnType.Uuid,
        TableColumns.Kind.BigInt => ColumnType.BigInt,
        TableColumns.Kind.Integer => ColumnType.Integer,
        TableColumns.Kind.Text => ColumnType.Text,
        TableColumns.Kind.Boolean => ColumnType.Boolean,
        TableColumns.Kind.Numeric => ColumnType.Numeric,
        TableColumns.Kind.Double => ColumnType.DoublePrecision,
        TableColumns.Kind.TimestampTz => ColumnType.TimestampTz,
        TableColumns.Kind.Jsonb => ColumnType.Jsonb,
        _ => ColumnType.Bytea,
    };

    public static Either<Error, object> Decode(IEventCodec codec, RecordedEvent r)
    {
        var d = codec.Decode(r.TypeName, r.TypeVersion, r.Data);
        // Explicit: with R = object, a conditional would turn the error itself into a Right.
        return d.IsOk ? Prelude.Right<Error, object>(d.ResultValue) : Prelude.Left<Error, object>(ErrorConversions.ToError(d.ErrorValue));
    }

}
