// The columns of a declared table, fluently: t => t.Uuid("account_id").BigInt("amount").Text("note", nullable: true).
// Each column type has one .NET value Fable stores and reads back; both interpreters refuse anything else alike.
using System.Collections.Immutable;

namespace Fable.CSharp;

/// <summary>The columns of a table besides <c>id</c> (and <c>last_event_id</c> for an aggregate table). Columns are
/// NOT NULL unless <c>nullable: true</c>. Immutable: each call returns a new value.</summary>
public sealed class TableColumns
{
    internal enum Kind { Uuid, BigInt, Integer, Text, Boolean, Numeric, Double, TimestampTz, Jsonb, Bytea }

    internal sealed record Column(string Name, Kind Type, bool Nullable);

    private TableColumns(ImmutableList<Column> columns) => Columns = columns;

    internal ImmutableList<Column> Columns { get; }

    /// <summary>No columns.</summary>
    public static TableColumns None { get; } = new(ImmutableList<Column>.Empty);

    private TableColumns Add(string name, Kind type, bool nullable) => new(Columns.Add(new Column(name ?? "", type, nullable)));

    /// <summary>A <c>uuid</c> column: <see cref="Guid"/> (a Guid's text is accepted).</summary>
    public TableColumns Uuid(string name, bool nullable = false) => Add(name, Kind.Uuid, nullable);
    /// <summary>A <c>bigint</c> column: <see cref="long"/> (smaller integers are widened).</summary>
    public TableColumns BigInt(string name, bool nullable = false) => Add(name, Kind.BigInt, nullable);
    /// <summary>An <c>integer</c> column: <see cref="int"/>.</summary>
    public TableColumns Integer(string name, bool nullable = false) => Add(name, Kind.Integer, nullable);
    /// <summary>A <c>text</c> column: <see cref="string"/>.</summary>
    public TableColumns Text(string name, bool nullable = false) => Add(name, Kind.Text, nullable);
    /// <summary>A <c>boolean</c> column: <see cref="bool"/>.</summary>
    public TableColumns Boolean(string name, bool nullable = false) => Add(name, Kind.Boolean, nullable);
    /// <summary>A <c>numeric</c> column: <see cref="decimal"/> (integers are accepted).</summary>
    public TableColumns Numeric(string name, bool nullable = false) => Add(name, Kind.Numeric, nullable);
    /// <summary>A <c>double precision</c> column: <see cref="double"/>.</summary>
    public TableColumns Double(string name, bool nullable = false) => Add(name, Kind.Double, nullable);
    /// <summary>A <c>timestamptz</c> column: a UTC <see cref="DateTime"/> in whole microseconds (a
    /// <see cref="DateTimeOffset"/> is converted to UTC).</summary>
    public TableColumns TimestampTz(string name, bool nullable = false) => Add(name, Kind.TimestampTz, nullable);
    /// <summary>A <c>jsonb</c> column: its JSON text.</summary>
    public TableColumns Jsonb(string name, bool nullable = false) => Add(name, Kind.Jsonb, nullable);
    /// <summary>A <c>bytea</c> column: <see cref="byte"/>[].</summary>
    public TableColumns Bytea(string name, bool nullable = false) => Add(name, Kind.Bytea, nullable);
}
