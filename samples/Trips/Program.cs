// The trips story: reference data, trips started (one refused), alarms and grants, a trip ended,
// then the events, rows and process-manager output. In memory by default; `--postgres "<conn>"` runs the same code on PostgreSQL.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using Npgsql;
using TripsSample.Domain;

var postgres = args.SkipWhile(a => a != "--postgres").Skip(1).FirstOrDefault();
if (args.Contains("--postgres") && string.IsNullOrWhiteSpace(postgres))
{
    Console.Error.WriteLine("usage: dotnet run --project samples/Trips [-- --postgres \"<connection string>\"]");
    return 2;
}

// Automatic preparation: Fable's statements parsed and planned once per connection (docs/postgres.md).
await using var dataSource = postgres is null ? null : NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(postgres) { MaxAutoPrepare = 64 }.ConnectionString);
var builder = TripsApp.Register(FableBuilder.Create());
if (dataSource is null) builder.UseInMemory();
else
{
    try
    {
        await using var ddl = dataSource.CreateCommand(TripsApp.Ddl);
        await ddl.ExecuteNonQueryAsync();
    }
    catch (NpgsqlException e)
    {
        Console.Error.WriteLine($"cannot create the sample tables: {e.Message}");
        return 1;
    }
    builder.UsePostgres(dataSource);
}

var built = await builder.Build().ToEither();
if (built.IsLeft)
{
    Console.Error.WriteLine($"cannot start: {(Error)built}");
    return 1;
}
await using var app = (FableApp)built;
foreach (var warning in app.Warnings) Console.WriteLine($"warning: {warning}\n");
var names = new Dictionary<object, string>();
string Name(object? id) => id is not null && names.TryGetValue(id, out var n) ? n : id?.ToString() ?? "-";

Console.WriteLine($"Fable trips sample on the {app.Interpreter} interpreter\n");

// Reference data: ordinary rows, written in one unit of work.
var alice = new User(Guid.NewGuid(), "alice", IsAdmin: false);
var bob = new User(Guid.NewGuid(), "bob", IsAdmin: false);
var carol = new User(Guid.NewGuid(), "carol", IsAdmin: false);
var rex = new Animal(Guid.NewGuid(), "Rex", alice.Id);
var bella = new Animal(Guid.NewGuid(), "Bella", bob.Id);
var t100 = new Tracker(Guid.NewGuid(), "T-100", Registered: true);
var t200 = new Tracker(Guid.NewGuid(), "T-200", Registered: true);
var t300 = new Tracker(Guid.NewGuid(), "T-300", Registered: false);
var (trip1, trip2, trip3) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
foreach (var (id, name) in new[] { (alice.Id, "alice"), (bob.Id, "bob"), (carol.Id, "carol"), (rex.Id, "Rex"), (bella.Id, "Bella"),
                                   (t100.Id, "T-100"), (t200.Id, "T-200"), (t300.Id, "T-300"), (trip1, "trip-1"), (trip2, "trip-2"),
                                   (trip3, "trip-3") })
    names[id] = name;

await Must(app.Transact(u =>
    u.Tables.Insert("animals", rex.Row).Bind(_ => u.Tables.Insert("animals", bella.Row))
     .Bind(_ => u.Tables.Insert("trackers", t100.Row)).Bind(_ => u.Tables.Insert("trackers", t200.Row))
     .Bind(_ => u.Tables.Insert("trackers", t300.Row))));
Console.WriteLine("reference data: Rex (owned by alice), Bella (owned by bob); trackers T-100, T-200 registered, T-300 not");

var t0 = new DateTimeOffset(2026, 1, 5, 8, 0, 0, TimeSpan.Zero);

// 1. alice starts trip-1: every check of the seed's start_trip runs inside the serialised section.
var started = await Must(TripCommands.StartTrip(app, alice, rex, t100, trip1, t0));
Console.WriteLine($"\n1. alice starts trip-1 with Rex on T-100 -> {Show(started)}");

// 2. One chain, no await between steps: an alarm, a grant to bob, revoke it, another alarm.
var chained = await Must(
    app.Emit(started, TripCommands.RaiseAlarm("geofence", t0.AddMinutes(25)))
       .Bind(t => app.Emit(t, TripCommands.IssueGrant(bob, "viewer")))
       .Bind(t => app.Emit(t, TripCommands.RevokeGrant(bob)))
       .Bind(t => app.Emit(t, TripCommands.RaiseAlarm("low-battery", t0.AddMinutes(70)))));
Console.WriteLine($"2. alarm, grant bob, revoke bob, alarm (one Bind chain) -> {Show(chained)}");

// 3. Refused commands come back as the domain's own errors, with their codes.
await Refused("3. carol starts trip-2 with Rex on T-200", TripCommands.StartTrip(app, carol, rex, t200, trip2, t0.AddMinutes(30)));
await Refused("   bob starts trip-2 with Bella on T-100", TripCommands.StartTrip(app, bob, bella, t100, trip2, t0.AddMinutes(30)));
await Refused("   bob starts trip-2 with Bella on T-300", TripCommands.StartTrip(app, bob, bella, t300, trip2, t0.AddMinutes(30)));

// 4. bob starts trip-2 on a free, registered tracker; then trip-1 ends; a stale snapshot is a Conflict.
var trip2State = await Must(TripCommands.StartTrip(app, bob, bella, t200, trip2, t0.AddMinutes(31)));
Console.WriteLine($"4. bob starts trip-2 with Bella on T-200 -> {Show(trip2State)}");
var ended = await Must(app.Emit(chained, TripCommands.EndTrip(t0.AddMinutes(90))));
Console.WriteLine($"   trip-1 ends -> {Show(ended)}");
await Refused("   an alarm on trip-1 from the old snapshot", app.Emit(chained, TripCommands.RaiseAlarm("late", t0.AddMinutes(95))));
var trip3State = await Must(TripCommands.StartTrip(app, alice, rex, t100, trip3, t0.AddMinutes(120)));
Console.WriteLine($"   alice starts trip-3 with Rex on T-100 (both free again) -> {Show(trip3State)}");

// 5. The events of trip-1 as recorded (a chain by prev_event_id).
Console.WriteLine("\n5. events of trip-1 (ids shown by name):");
var guids = new System.Text.RegularExpressions.Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
foreach (var e in await Must(app.Log(Trips.Type, trip1)))
    Console.WriteLine($"   #{e.Id} {e.TypeName,-20} prev {e.PrevEventId?.ToString() ?? "-",-4} {guids.Replace(e.Data, m => Name(Guid.Parse(m.Value)))}");

// 6. The rows the events produced: the aggregate table and its associated tables.
Console.WriteLine("\n6. rows:");
foreach (var trip in new[] { trip1, trip2, trip3 })
{
    var row = await Must(app.Get(Trips.Type, trip));
    var t = row.State;
    Console.WriteLine($"   trips        {Name(t.Id)}: {t.Status.ToString().ToLowerInvariant()}, {Name(t.AnimalId)} on {Name(t.TrackerId)}, " +
                      $"alarms {t.AlarmCount}, last_event_id {row.LastEventId}");
}
await Must(app.Transact(u =>
    u.Tables.Find("trip_grants", "trip_id", trip1)
     .Bind(g1 => u.Tables.Find("trip_grants", "trip_id", trip2).Map(g2 => g1.Concat(g2)))
     .Bind(grants => u.Tables.Find("trip_alarms", "trip_id", trip1).Map(alarms =>
     {
         foreach (var g in grants)
             Console.WriteLine($"   trip_grants  {Name(g.Value<Guid>("trip_id"))}: {Name(g.Value<Guid>("user_id"))} as {g.Value<string>("role")}");
         foreach (var a in alarms)
             Console.WriteLine($"   trip_alarms  {Name(a.Value<Guid>("trip_id"))}: {a.Value<string>("kind")} at {a.Value<DateTimeOffset>("raised_at"):HH:mm}");
         return Unit.Default;
     }))));

// 7. The statistics process manager catches up with the log and shows its read model.
await Must(app.ProcessManagers.CatchUp());
var totals = await Must(app.ProcessManagers.State(TripStatistics.ProcessManager));
var status = await Must(app.ProcessManagers.Status(TripStatistics.ProcessManager.Name));
Console.WriteLine($"\n7. process manager {status.Name}: at {status.Position}, lag {status.Lag}, state {totals}");
foreach (var animal in new[] { rex, bella })
{
    var stats = await Must(app.Transact(u => u.Tables.Get("trip_statistics", animal.Id)));
    stats.IfSome(s => Console.WriteLine(
        $"   trip_statistics {animal.Name}: trips {s.Value<int>("trips")}, ended {s.Value<int>("ended")}, " +
        $"alarms {s.Value<int>("alarms")}, minutes {s.Value<double>("minutes")}"));
}
return 0;

string Show(Aggregate<Trip, Guid> a) => $"{a.State.Status.ToString().ToLowerInvariant()}, alarms {a.State.AlarmCount}, last_event_id {a.LastEventId}";

async Task Refused<T>(string what, EitherAsync<Error, T> command)
{
    var outcome = await command.Match(
        Right: _ => "accepted (unexpected)",
        Left: e => e is FableErrors.Conflict c
            ? $"refused: {c.Code} conflict (expected last event {c.ExpectedEventId}, found {c.ActualEventId})"
            : $"refused: {e.Code} {e.Message}");
    Console.WriteLine($"{what} -> {outcome}");
}

static async Task<T> Must<T>(EitherAsync<Error, T> step) =>
    (await step.ToEither()).Match(r => r, e => throw new InvalidOperationException($"sample step failed: {e}"));
