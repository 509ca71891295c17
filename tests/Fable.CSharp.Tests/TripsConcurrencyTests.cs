// The trips sample under contention: 16 concurrent StartTrip of one animal (each on its own tracker) give exactly one
// active trip, in memory and on PostgreSQL, because the animal is booked (locked) before "animal available" is read.
using Fable.CSharp;
using LanguageExt;
using LanguageExt.Common;
using TripsSample.Domain;
using Xunit;

namespace FacadeTests;

public static class TripsRace
{
    public static async Task Sixteen_concurrent_starts_with_one_animal_have_exactly_one_winner(FableApp app)
    {
        var owner = new User(Guid.NewGuid(), "owner", IsAdmin: false);
        var rex = new Animal(Guid.NewGuid(), "Rex", owner.Id);
        var trackers = Enumerable.Range(0, 17).Select(i => new Tracker(Guid.NewGuid(), $"T-{i}", Registered: true)).ToArray();
        await Expect.Right(app.Transact(u => trackers.Aggregate(u.Tables.Insert("animals", rex.Row),
                                                                (acc, t) => acc.Bind(_ => u.Tables.Insert("trackers", t.Row)))));
        // A first trip, ended: the animal's booking row exists, so the race is on its lock, not on its first emit.
        var first = Guid.NewGuid();
        await Expect.Right(TripCommands.StartTrip(app, owner, rex, trackers[16], first, DateTimeOffset.UtcNow)
                                       .Bind(t => app.Emit(t, TripCommands.EndTrip(DateTimeOffset.UtcNow))));

        // Open the connections first (on PostgreSQL) and release the 16 starts together, so they overlap.
        await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => app.Transact(u => u.Tables.Get("animals", rex.Id)).ToEither())));
        using var go = new ManualResetEventSlim();
        var starts = trackers.Take(16).Select(t => Task.Run(() =>
        {
            go.Wait();
            return TripCommands.StartTrip(app, owner, rex, t, Guid.NewGuid(), DateTimeOffset.UtcNow).ToEither();
        })).ToArray();
        go.Set();
        var results = await Task.WhenAll(starts);

        Assert.Single(results, r => r.IsRight);
        Assert.All(results.Where(r => r.IsLeft).Select(r => (Error)r), e =>
            Assert.True(e.Code == TripErrors.AnimalUnavailable || e is FableErrors.Conflict { Retryable: true }, $"unexpected {e}"));
        var active = await Expect.Right(app.Transact(u => u.Tables.Find("trips", "animal_id", rex.Id)));
        Assert.Single(active, r => r.Value<string>("status") == "active");
    }
}

public sealed class TripsConcurrencyTests : IAsyncLifetime
{
    private readonly PostgresHarness h = new();

    public Task InitializeAsync() => Task.CompletedTask;
    public async Task DisposeAsync() => await h.DisposeAsync();

    [Fact]
    public async Task In_memory_sixteen_concurrent_starts_with_one_animal_have_exactly_one_winner()
    {
        await using var app = await Expect.Right(TripsApp.Register(FableBuilder.Create()).UseInMemory().Build());
        await TripsRace.Sixteen_concurrent_starts_with_one_animal_have_exactly_one_winner(app);
    }

    [PostgresFact]
    public async Task On_PostgreSQL_sixteen_concurrent_starts_with_one_animal_have_exactly_one_winner()
    {
        var (source, schema) = await h.Schema(TripsApp.Ddl);
        await using var app = await Expect.Right(TripsApp.Register(FableBuilder.Create()).UsePostgres(source, schema + "_fable").Build());
        await TripsRace.Sixteen_concurrent_starts_with_one_animal_have_exactly_one_winner(app);
    }
}
