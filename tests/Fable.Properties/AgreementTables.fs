// Declared tables and the table API give the same answers on both interpreters: one explicit case per divergence
// of issue 11 ("No schema in memory", "Table API"), each run on a fresh instance of both and compared (and checked
// against the answer both must give), and a generated property of value round trips through every column type.
module Fable.Tests.AgreementTables

open System
open System.Globalization
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Support

type Opened = { Owner: string }
type Touched = { N: int64 }

type Acct = { Owner: string }

let private acctIn (kind: KeyType) (toRow: Acct -> Row) : AggregateDef<Acct> =
    { Table = "accts"
      KeyKind = kind
      Initial = fun _ -> { Owner = null }
      Evolve = fun s e -> match e with :? Opened as o -> { Owner = o.Owner } | _ -> s
      ToRow = toRow
      OfRow = fun r -> { Owner = match r["owner"] with :? string as s -> s | _ -> null } }

let private accts = acctIn KeyType.Uuid (fun s -> Row.ofSeq [ "owner", box s.Owner ])

let private col name t = TableDecl.column name t
let private opt name t = TableDecl.nullable name t

/// Every column type, nullable, for the round-trip property.
let private everyColumn =
    [ opt "u" ColumnType.Uuid; opt "b" ColumnType.BigInt; opt "i" ColumnType.Integer; opt "t" ColumnType.Text
      opt "bo" ColumnType.Boolean; opt "n" ColumnType.Numeric; opt "d" ColumnType.DoublePrecision
      opt "ts" ColumnType.TimestampTz; opt "j" ColumnType.Jsonb; opt "by" ColumnType.Bytea ]

let private tables: TableSpec list =
    [ TableDecl.aggregate "accts" KeyType.Uuid [ opt "owner" ColumnType.Text ]
      TableDecl.table "nn" KeyType.Int [ col "a" ColumnType.BigInt; col "b" ColumnType.Text ]
      TableDecl.table "vals" KeyType.Uuid [ opt "amount" ColumnType.Numeric; opt "at" ColumnType.TimestampTz; opt "note" ColumnType.Text ]
      TableDecl.table "ids" KeyType.Text [ opt "v" ColumnType.Text ]
      TableDecl.table "every" KeyType.Int everyColumn ]

/// A handler whose first table call fails (a new row without its NOT NULL column b) and whose second succeeds.
let private touch (args: HandlerArgs) (_: Touched) : Task<Result<unit, FableError>> =
    task {
        let t = args.Uow.Tables
        let! failed = t.Upsert("nn", Row.ofSeq [ "id", box 1L; "a", box 1L ], args.CancellationToken)
        let! second = t.Insert("nn", Row.ofSeq [ "id", box 2L; "a", box 2L; "b", box "two" ], args.CancellationToken)
        match failed, second with
        | Error _, Ok() -> return Ok()
        | Ok(), _ -> return Error(FableError.reject "the upsert of a new row without b was taken")
        | _, Error e -> return Error e
    }

let private runtime =
    let events =
        EventRegistry.empty
        |> EventRegistry.add (EventType.create<Opened> "opened")
        |> EventRegistry.add (EventType.create<Touched> "touched")
    let router =
        Router.empty
        |> Router.route<Opened> []
        |> Router.route<Touched> [ Router.handler<Touched> "touch" touch ]
    match Runtime.build { Events = events; Router = router; ProcessManagers = []; Tables = [] } with
    | Ok rt -> rt
    | Error e -> failwithf "the table agreement domain is invalid: %O" e

/// A value with its .NET type, in the invariant culture (times with their kind, bytes in hex).
let show (v: obj) =
    match v with
    | null -> "null"
    | :? DateTime as d -> sprintf "DateTime(%O) %s" d.Kind (d.ToString("o", CultureInfo.InvariantCulture))
    | :? (byte[]) as b -> "Byte[] " + Convert.ToHexString b
    | :? double as d -> "Double " + d.ToString("R", CultureInfo.InvariantCulture)
    | :? IFormattable as f -> v.GetType().Name + " " + f.ToString(null, CultureInfo.InvariantCulture)
    | v -> v.GetType().Name + " " + string v

let showRow (r: Row) =
    r |> Seq.sortBy (fun kv -> kv.Key) |> Seq.map (fun kv -> kv.Key + "=" + show kv.Value) |> String.concat ", "

let private outcome (f: 'T -> string) (r: Result<'T, FableError>) =
    match r with
    | Ok v -> "ok " + f v
    | Error e -> sprintf "error %d %s" e.Code e.Message

let private unit' () = ""
let private rowOpt (r: Row option) = match r with Some r -> showRow r | None -> "none"
let private rowList (rs: Row list) = rs |> List.map (fun r -> "[" + showRow r + "]") |> String.concat " "

/// Runs `work` in one unit of work of the instance and shows its outcome.
let private tx (inst: Instance) (f: 'T -> string) (work: ITables -> Task<Result<'T, FableError>>) =
    run (inst.Interpreter.Transact((fun uow -> work uow.Tables), ct)) |> outcome f

let private uid = Guid "5b1f2c7e-9d3a-4c21-8e6f-0a1b2c3d4e5f"

/// One scenario: its lines of outcomes, and what both interpreters must answer.
type private Case = { Name: string; Run: Instance -> string list; Expect: string list -> unit }

let private startsWith (prefix: string) (what: string) (line: string) =
    Expect.isTrue (line.StartsWith(prefix, StringComparison.Ordinal)) (sprintf "%s: %s should start with %s" what line prefix)

let private cases: Case list =
    [ { Name = "a typo in a table name is refused alike"
        Run = fun inst -> [ tx inst unit' (fun t -> t.Insert("ledgr", Row.ofSeq [ "id", box 1L ], ct)) ]
        Expect = fun lines -> startsWith "error 7009 invalid definition: table ledgr is not declared" "typo table" lines[0] }
      { Name = "a typo in a column name is refused alike"
        Run = fun inst -> [ tx inst unit' (fun t -> t.Insert("vals", Row.ofSeq [ "id", box uid; "amout", box 1m ], ct)) ]
        Expect = fun lines -> startsWith "error 7009 invalid definition: table vals has no declared column amout" "typo column" lines[0] }
      { Name = "a ToRow column the aggregate table lacks is refused alike"
        Run =
          fun inst ->
              let typo = acctIn KeyType.Uuid (fun s -> Row.ofSeq [ "ownr", box s.Owner ])
              [ run (Store.append inst.Interpreter typo (AggregateKey.Uuid uid) [ box ({ Owner = "ada" }: Opened) ] ct) |> outcome (fun _ -> "") ]
        Expect = fun lines -> startsWith "error 7009 invalid definition: aggregate table accts has no declared column ownr" "ToRow column" lines[0] }
      { Name = "KeyType.Int on a uuid table is refused alike"
        Run =
          fun inst ->
              let intKeyed = acctIn KeyType.Int (fun s -> Row.ofSeq [ "owner", box s.Owner ])
              [ run (Store.append inst.Interpreter intKeyed (AggregateKey.Int 7L) [ box ({ Owner = "ada" }: Opened) ] ct) |> outcome (fun _ -> "") ]
        Expect = fun lines -> startsWith "error 7009 invalid definition: aggregate table accts is declared with Uuid keys" "int key" lines[0] }
      { Name = "Upsert listing some columns of a NOT NULL table updates an existing row and refuses a new one alike"
        Run =
          fun inst ->
              [ tx inst unit' (fun t -> t.Insert("nn", Row.ofSeq [ "id", box 1L; "a", box 1L; "b", box "one" ], ct))
                tx inst unit' (fun t -> t.Upsert("nn", Row.ofSeq [ "id", box 1L; "a", box 5L ], ct))
                tx inst rowOpt (fun t -> t.Get("nn", box 1L, ct))
                tx inst unit' (fun t -> t.Upsert("nn", Row.ofSeq [ "id", box 3L; "a", box 3L ], ct)) ]
        Expect =
          fun lines ->
              Expect.equal lines[0..2] [ "ok "; "ok "; "ok a=Int64 5, b=String one, id=Int64 1" ] "the upsert updates only a"
              startsWith "error 7012 column nn.b (text) cannot be stored: the column is NOT NULL" "a new row without b" lines[3] }
      { Name = "a failed table call inside a handler leaves the emit usable alike"
        Run =
          fun inst ->
              [ run (Store.append inst.Interpreter accts (AggregateKey.Uuid uid) [ box { N = 1L } ] ct) |> outcome (fun _ -> "")
                tx inst rowList (fun t -> t.Find("nn", "b", "two", ct))
                tx inst rowOpt (fun t -> t.Get("nn", box 1L, ct)) ]
        Expect = fun lines -> Expect.equal lines [ "ok "; "ok [a=Int64 2, b=String two, id=Int64 2]"; "ok none" ] "the second call and the emit commit" }
      { Name = "a Guid's text finds a uuid alike"
        Run =
          fun inst ->
              [ tx inst unit' (fun t -> t.Insert("vals", Row.ofSeq [ "id", box uid; "note", box "n" ], ct))
                tx inst rowOpt (fun t -> t.Get("vals", box (uid.ToString "D"), ct))
                tx inst rowOpt (fun t -> t.Get("vals", box (uid.ToString("D").ToUpperInvariant()), ct))
                tx inst rowList (fun t -> t.Find("vals", "id", box (uid.ToString "D"), ct)) ]
        Expect =
          fun lines ->
              let row = sprintf "amount=null, at=null, id=Guid %O, note=String n" uid
              Expect.equal lines [ "ok "; "ok " + row; "ok " + row; "ok [" + row + "]" ] "the text finds the row" }
      { Name = "decimal 10 and 10.0 compare alike"
        Run =
          fun inst ->
              [ tx inst unit' (fun t -> t.Insert("vals", Row.ofSeq [ "id", box uid; "amount", box 10.0m ], ct))
                tx inst rowList (fun t -> t.Find("vals", "amount", box 10, ct))
                tx inst rowList (fun t -> t.Find("vals", "amount", box 10m, ct)) ]
        Expect =
          fun lines ->
              let row = sprintf "ok [amount=Decimal 10.0, at=null, id=Guid %O, note=null]" uid
              Expect.equal lines [ "ok "; row; row ] "10 and 10m find 10.0" }
      { Name = "a bigint for a uuid key is an error alike"
        Run =
          fun inst ->
              [ tx inst rowOpt (fun t -> t.Get("vals", box 42L, ct))
                tx inst string (fun t -> t.Delete("vals", box 42L, ct)) ]
        Expect =
          fun lines ->
              for l in lines do
                  startsWith "error 7012 column vals.id (uuid) cannot be stored: a Int64 is not a uuid value" "a bigint key" l }
      { Name = "text ids are ordered by code point alike"
        Run =
          fun inst ->
              let ids = [ "\U0001F600"; "z"; "\uFFFF"; "a"; "\uE000"; "\uD7FF" ]
              [ for id in ids do
                    yield tx inst unit' (fun t -> t.Insert("ids", Row.ofSeq [ "id", box id; "v", box "x" ], ct))
                yield tx inst (List.map (fun (r: Row) -> sprintf "%X" (Char.ConvertToUtf32(string r["id"], 0))) >> String.concat " ")
                    (fun t -> t.Find("ids", "v", "x", ct)) ]
        Expect = fun lines -> Expect.equal (List.last lines) "ok 61 7A D7FF E000 FFFF 1F600" "code point order" }
      { Name = "a DateTimeOffset is stored as UTC microseconds alike"
        Run =
          fun inst ->
              let at = DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.FromHours 2.0).AddTicks 1234567L
              [ tx inst unit' (fun t -> t.Insert("vals", Row.ofSeq [ "id", box uid; "at", box at ], ct))
                tx inst rowOpt (fun t -> t.Get("vals", box uid, ct))
                tx inst rowList (fun t -> t.Find("vals", "at", box (at.AddTicks 2L), ct)) ]
        Expect =
          fun lines ->
              let row = sprintf "amount=null, at=DateTime(Utc) 2024-05-06T05:08:09.1234560Z, id=Guid %O, note=null" uid
              Expect.equal lines [ "ok "; "ok " + row; "ok [" + row + "]" ] "UTC, truncated to microseconds" } ]

/// Runs `f` on a fresh instance of `fixture` with the agreement tables.
let private on (fixture: Fixture) (f: Instance -> 'T) =
    let inst = run (fixture.Create runtime tables)
    try
        f inst
    finally
        wait (inst.Dispose())

let private explicitCase (reference: Fixture) (other: Fixture) (c: Case) =
    testCase c.Name (fun () ->
        let expected = on reference c.Run
        let actual = on other c.Run
        Expect.equal actual expected (sprintf "%s answers as %s" other.Name reference.Name)
        c.Expect expected)

let private g (gen: FsCheck.Gen<'a>) : FsCheck.Gen<obj> = Gen.map box gen

/// A value for column `c`, in one of the forms its type takes (or, now and then, a form it does not).
let private valueFor (c: ColumnType) : FsCheck.Gen<obj> =
    let wrong = Gen.elements [ box "not it"; box 1.5; box 'c'; box DateTime.Now ]
    let right =
        match c with
        | ColumnType.Uuid -> Gen.oneof [ g (Gen.fresh Guid.NewGuid); Gen.fresh (fun () -> box (Guid.NewGuid().ToString "D")) ]
        | ColumnType.BigInt -> Gen.oneof [ g (ArbMap.defaults |> ArbMap.generate<int64>); g (ArbMap.defaults |> ArbMap.generate<int>); g (Gen.elements [ Int64.MinValue; Int64.MaxValue ]) ]
        | ColumnType.Integer -> Gen.oneof [ g (ArbMap.defaults |> ArbMap.generate<int>); g (ArbMap.defaults |> ArbMap.generate<int16>); g (Gen.elements [ Int32.MinValue; Int32.MaxValue ]) ]
        | ColumnType.Text ->
            Gen.oneof [ g (ArbMap.defaults |> ArbMap.generate<string> |> Gen.filter (isNull >> not))
                        // A lone surrogate is built from its char: F# turns the string literal "\uD800" into U+FFFD.
                        g (Gen.elements [ "é"; "\U0001F600"; "\uE000x"; "a\u0000b"; string (char 0xD800); "x" + string (char 0xDC00) ]) ]
        | ColumnType.Boolean -> g (ArbMap.defaults |> ArbMap.generate<bool>)
        | ColumnType.Numeric ->
            Gen.map2 (fun (m: int64) (scale: int) -> box (decimal m / decimal (pown 10L scale)))
                (ArbMap.defaults |> ArbMap.generate<int64>) (Gen.choose (0, 6))
        | ColumnType.DoublePrecision ->
            Gen.oneof [ g (ArbMap.defaults |> ArbMap.generate<double>); g (ArbMap.defaults |> ArbMap.generate<single>)
                        g (Gen.elements [ Double.NaN; Double.PositiveInfinity; -0.0; Double.Epsilon ]) ]
        | ColumnType.TimestampTz ->
            let ticks = Gen.choose (0, Int32.MaxValue) |> Gen.map (fun t -> int64 t * 146_000_000L + int64 t)
            Gen.oneof
                [ Gen.map2 (fun (t: int64) (h: int) -> box (DateTimeOffset(DateTime(t).AddYears(100), TimeSpan.FromHours(float h)))) ticks (Gen.choose (-12, 12))
                  Gen.map (fun (t: int64) -> box (DateTime(t, DateTimeKind.Utc))) ticks ]
        | ColumnType.Jsonb -> g (Gen.elements [ "1"; "\"x\""; "[1, 2]"; "{\"a\": 1}"; "null"; "true"; "{\"a\": {\"b\": [true, null]}}" ])
        | ColumnType.Bytea -> g (ArbMap.defaults |> ArbMap.generate<byte[]> |> Gen.filter (isNull >> not))
    Gen.frequency [ 12, right; 1, wrong ]

/// Rows of `every`: ids 1..n, each column present or not.
let private everyRows =
    let row =
        everyColumn
        |> List.map (fun c -> Gen.oneof [ Gen.constant None; valueFor c.Type |> Gen.map (fun v -> Some(c.Name, v)) ])
        |> Gen.sequenceToList
        |> Gen.map (List.choose id)
    Gen.listOf row |> Gen.map (List.truncate 4)

let private roundTrip (rows: (string * obj) list list) (inst: Instance) =
    [ for (i, cols) in List.indexed rows do
          yield tx inst unit' (fun t -> t.Insert("every", Row.ofSeq (("id", box (int64 i)) :: cols), ct))
      for i in 0 .. rows.Length - 1 do
          yield tx inst rowOpt (fun t -> t.Get("every", box (int64 i), ct))
      for (i, cols) in List.indexed rows do
          for (c, v) in cols do
              yield sprintf "find %d %s: " i c + tx inst rowList (fun t -> t.Find("every", c, v, ct)) ]

let tests (reference: Fixture) (other: Fixture) =
    [ testList "explicit" [ for c in cases -> explicitCase reference other c ]
      propertyOn other "random values of every column type written through the table API read back alike" 40 everyRows (fun rows ->
          let expected = on reference (roundTrip rows)
          let actual = on other (roundTrip rows)
          Expect.equal actual expected (sprintf "%s answers as %s" other.Name reference.Name)) ]
