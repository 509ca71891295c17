// The one file that touches FSharp.Core types: converts errors, keys, options, lists and results between the
// F# core and C#, builds the core's definitions from C# ones, and adapts its interpreter, unit of work and host.
using Fable.FSharp;
using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Nodes;
using Fable.FSharp.Postgres;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using Npgsql;
using FUnit = Microsoft.FSharp.Core.Unit;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

/// <summary>Carries a C# error through the F# core (as a HandlerFailed's inner exception) and back.</summary>
internal sealed class CarriedError(Error error) : Exception(error.Message)
{
    public Error Error { get; } = error;
}

internal static class Interop
{
    // ---- values ----

    public static long? Opt(FSharpOption<long>? o) => o is null ? null : o.Value;
    public static FSharpOption<long>? Opt(long? v) => v is { } x ? FSharpOption<long>.Some(x) : null;
    public static FSharpOption<T>? Some<T>(T? v) where T : class => v is null ? null : FSharpOption<T>.Some(v);
    public static Position Pos(global::Fable.FSharp.Position p) => new(p.Tx, p.Id);
    public static global::Fable.FSharp.Position Pos(Position p) => new(p.Tx, p.Id);

    public static RecordedEvent Recorded(global::Fable.FSharp.RecordedEvent r) =>
        new(r.Id, Opt(r.PrevEventId), r.Aggregate.Table, r.Aggregate.Key.Value, r.TypeName, r.TypeVersion, r.Meta, r.Data,
            r.InsertedAt, Pos(r.Position));

    public static RecordedEvent<K> Recorded<K>(global::Fable.FSharp.RecordedEvent r) where K : notnull =>
        new(r.Id, Opt(r.PrevEventId), r.Aggregate.Table, Keys<K>.OfCore(r.Aggregate.Key), r.TypeName, r.TypeVersion, r.Meta, r.Data,
            r.InsertedAt, Pos(r.Position));

    /// <summary>The core's key of <paramref name="id"/>; a null string key is an InvalidDefinition.</summary>
    public static Either<Error, AggregateKey> Key<K>(string table, K id) where K : notnull =>
        id is null
            ? new FableErrors.InvalidDefinition([$"aggregate {table}: the key is null; pass a {typeof(K).Name}"])
            : Keys<K>.ToCore(id);

    static FSharpOption<AggregateId>? AggregateOf(string? table, object? key) =>
        table is not null && key is not null && AggregateKeyModule.tryOfObj(key) is { } k
            ? FSharpOption<AggregateId>.Some(new AggregateId(table, k.Value)) : null;

    // ---- errors ----

    public static Error ToError(FableError e) => e switch
    {
        FableError.Rejected r => r.reason as Error ?? new FableErrors.Rejected(r.reason, r.message),
        FableError.Conflict c => new FableErrors.Conflict(c.aggregate?.Value.Table, c.aggregate?.Value.Key.Value,
                                                          Opt(c.expected), Opt(c.actual), c.retryable, c.message),
        FableError.NotFound n => new FableErrors.NotFound(n.aggregate.Table, n.aggregate.Key.Value),
        FableError.UnknownEventType u => new FableErrors.UnknownEventType(u.typeName, u.version),
        FableError.UndecodablePayload p => new FableErrors.UndecodablePayload(p.typeName, p.version, p.reason),
        FableError.Unstorable u => new FableErrors.Unstorable(u.where, u.reason),
        FableError.HandlerFailed h => new FableErrors.HandlerFailed(h.eventType, h.handler, h.message,
            h.inner?.Value switch
            {
                null => Option<Error>.None,
                CarriedError c => c.Error,
                var ex => Error.New(ex),
            }),
        FableError.NoRoute n => new FableErrors.NoRoute(n.eventType),
        FableError.DuplicateRoute d => new FableErrors.DuplicateRoute(d.eventType, d.handler),
        FableError.InvalidDefinition d => new FableErrors.InvalidDefinition(d.problems.ToArray()),
        FableError.Infrastructure i => new FableErrors.Infrastructure(i.message, i.inner?.Value),
        _ when e.IsCancelled => new FableErrors.Cancelled(),
        _ => new FableErrors.Infrastructure(e.Message, null),
    };

    public static FableError ToFable(Error e) => e switch
    {
        FableErrors.Rejected r => FableError.NewRejected(r.Reason, r.Message),
        FableErrors.Conflict c => FableError.NewConflict(AggregateOf(c.Table, c.Key), Opt(c.ExpectedEventId), Opt(c.ActualEventId), c.Retryable, c.Message),
        FableErrors.NotFound n => AggregateOf(n.Table, n.Key) is { } a ? FableError.NewNotFound(a.Value) : FableError.NewRejected(e, e.Message),
        FableErrors.UnknownEventType u => FableError.NewUnknownEventType(u.TypeName, u.Version),
        FableErrors.UndecodablePayload p => FableError.NewUndecodablePayload(p.TypeName, p.Version, p.Reason),
        FableErrors.Unstorable u => FableError.NewUnstorable(u.Where, u.Reason),
        FableErrors.HandlerFailed h => FableError.NewHandlerFailed(h.EventType, h.Handler, h.Message,
            h.Inner.Case is Error inner ? FSharpOption<Exception>.Some(new CarriedError(inner)) : null),
        FableErrors.NoRoute n => FableError.NewNoRoute(n.EventType),
        FableErrors.DuplicateRoute d => FableError.NewDuplicateRoute(d.EventType, d.Handler),
        FableErrors.InvalidDefinition d => FableError.NewInvalidDefinition(ListModule.OfSeq(d.Problems)),
        FableErrors.Infrastructure i => FableError.NewInfrastructure(i.Message, Some(i.Cause)),
        FableErrors.Cancelled => FableError.Cancelled,
        _ => FableError.NewRejected(e, e.Message),
    };

    static Error Thrown(Exception ex) => ex is OperationCanceledException ? new FableErrors.Cancelled() : new FableErrors.Infrastructure(ex.Message, ex);

    // ---- results ----

    static FSharpResult<T, FableError> Ok<T>(T v) => FSharpResult<T, FableError>.NewOk(v);
    static FSharpResult<T, FableError> Err<T>(FableError e) => FSharpResult<T, FableError>.NewError(e);
    static FSharpResult<T, FableError> ToResult<T>(Either<Error, T> e) => e.Match(Right: Ok, Left: l => Err<T>(ToFable(l)));

    /// <summary>Runs a core call; maps its result, and turns an exception into Cancelled or Infrastructure.</summary>
    public static async Task<Either<Error, R>> Call<T, R>(Func<Task<FSharpResult<T, FableError>>> call, Func<T, R> map)
    {
        try
        {
            var r = await call().ConfigureAwait(false);
            return r.IsOk ? map(r.ResultValue) : ToError(r.ErrorValue);
        }
        catch (Exception ex)
        {
            return Thrown(ex);
        }
    }

    /// <summary>Runs C# code the core called back; an exception becomes the caller's own Exceptional error
    /// (or Cancelled) so the core rolls back and the caller sees it.</summary>
    static async Task<FSharpResult<T, FableError>> Back<T>(Func<Task<Either<Error, T>>> run)
    {
        try
        {
            return ToResult(await run().ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            return Err<T>(FableError.Cancelled);
        }
        catch (Exception ex)
        {
            return Err<T>(FableError.NewRejected(Error.New(ex), ex.Message));
        }
    }

    // ---- definitions ----

    public static AggregateDef<S> Def<S, K>(AggregateType<S, K> t) where K : notnull =>
        t.Core as AggregateDef<S> ?? (AggregateDef<S>)(t.Core = new AggregateDef<S>(
            t.Table, (global::Fable.FSharp.KeyKind)(int)t.KeyKind,
            FuncConvert.FromFunc<AggregateKey, S>(k => t.Initial(Keys<K>.OfCore(k))),
            FuncConvert.FromFunc<S, object, S>(t.Evolve),
            // A null row goes through: the core refuses it (InvalidDefinition) on every interpreter alike.
            FuncConvert.FromFunc<S, IReadOnlyDictionary<string, object>>(s => t.ToRow(s)!),
            FuncConvert.FromFunc<IReadOnlyDictionary<string, object>, S>(row => t.OfRow(row!))));

    public static EventType EventType(Type clr, string name, int version, IEnumerable<Upcaster> upcasters) =>
        new(clr, name, version, MapModule.OfSeq(upcasters.Select(u =>
            Tuple.Create(u.FromVersion, FuncConvert.FromFunc<JsonNode, JsonNode>(u.Apply)))));

    /// <summary>The router of <paramref name="entries"/>; a named route without a handler is a problem.</summary>
    public static Router Router(IEnumerable<Routes.Entry> entries, Registry registry, List<string> problems)
    {
        var router = RouterModule.empty;
        foreach (var entry in entries)
        {
            if (entry.Name is not null && entry.Run is null)
            {
                problems.Add($"handler {entry.Name} for {entry.EventType.Name} is null");
                continue;
            }
            var handlers = entry.Run is { } run
                ? ListModule.OfSeq([new Handler(entry.Name!, FuncConvert.FromFunc<HandlerArgs, Task<FSharpResult<FUnit, FableError>>>(
                    args => RunHandler(entry.Name!, run, args, registry)))])
                : FSharpList<Handler>.Empty;
            router = RouterModule.routeType(entry.EventType, handlers, router);
        }
        return router;
    }

    static async Task<FSharpResult<FUnit, FableError>> RunHandler(string name, Func<HandlerContext, object, Task<Either<Error, Unit>>> run,
                                                                  HandlerArgs args, Registry registry)
    {
        var work = new UnitOfWork(new UowAdapter(args.Uow, registry, args.CancellationToken));
        var ctx = new HandlerContext(work, args.Aggregate.Table, args.Aggregate.Key.Value, args.State, Recorded(args.Recorded),
                                     args.Replaying, args.CancellationToken);
        var result = await run(ctx, args.Event).ConfigureAwait(false);
        return result.Match(
            Right: _ => Ok<FUnit>(null!),
            Left: e => e is FableErrors.Cancelled
                ? Err<FUnit>(FableError.Cancelled)
                : Err<FUnit>(FableError.NewHandlerFailed(args.Recorded.TypeName, name, e.Message, FSharpOption<Exception>.Some(new CarriedError(e)))));
    }

    public static ProcessManagerDef ProcessManager<S>(ProcessManager<S> pm, Registry registry)
    {
        var start = StartAt(pm.Start);
        var policy = pm.ErrorPolicy switch
        {
            ErrorPolicy.Retrying r => global::Fable.FSharp.ErrorPolicy.NewRetry(r.Interval, r.MaxAttempts is { } n ? FSharpOption<int>.Some(n) : null),
            _ => global::Fable.FSharp.ErrorPolicy.Stop,
        };
        return new ProcessManagerDef(
            pm.Name, pm.Initial!,
            FuncConvert.FromFunc<IUnitOfWork, object, Incoming, CancellationToken, Task<FSharpResult<object, FableError>>>(
                (uow, s, incoming, ct) => HandleProcess(pm, registry, uow, (S)s, incoming, ct)),
            policy, start, pm.BatchSize,
            FuncConvert.FromFunc<object, string>(s => JsonSerializer.Serialize((S)s, registry.Json)),
            FuncConvert.FromFunc<string, object>(j => JsonSerializer.Deserialize<S>(j, registry.Json)!));
    }

    static Task<FSharpResult<object, FableError>> HandleProcess<S>(ProcessManager<S> pm, Registry registry, IUnitOfWork uow, S state,
                                                                   Incoming incoming, CancellationToken ct)
    {
        var evt = incoming.Event?.Value;
        if (evt is null)
        {
            // Not decodable here: if this process manager handles the type, report why instead of skipping it.
            var r = incoming.Recorded;
            var handled = pm.Handlers.Keys.Any(t => uow.Codec.TryNameOf(t)?.Value == r.TypeName);
            if (!handled) return Task.FromResult(Ok<object>(state!));
            var decoded = uow.Codec.Decode(r.TypeName, r.TypeVersion, r.Data);
            if (decoded.IsError) return Task.FromResult(Err<object>(decoded.ErrorValue));
            evt = decoded.ResultValue;
        }
        if (!pm.Handlers.TryGetValue(evt.GetType(), out var handle)) return Task.FromResult(Ok<object>(state!));
        var ctx = new ProcessContext(new UnitOfWork(new UowAdapter(uow, registry, ct)), Recorded(incoming.Recorded), ct);
        return Back(async () => (await handle(ctx, state, evt).ConfigureAwait(false)).Map(s => (object)s!));
    }

    /// <summary>Validates and builds the runtime; Left is the core's error (InvalidDefinition or a lone DuplicateRoute).</summary>
    public static Either<Error, global::Fable.FSharp.Runtime> Runtime(IEnumerable<EventType> events, JsonSerializerOptions json, Router router,
                                                                 IEnumerable<ProcessManagerDef> processManagers,
                                                                 IEnumerable<(string Name, KeyKind KeyKind, bool IsAggregate, TableColumns Columns)> tables)
    {
        var decls = tables.Select(t => new TableDecl(
            t.Name, (global::Fable.FSharp.KeyKind)(int)t.KeyKind, t.IsAggregate ? TableKind.Aggregate : TableKind.Ordinary,
            ListModule.OfSeq(t.Columns.Columns.Select(c => new ColumnDecl(c.Name, ColumnTypeOf(c.Type), c.Nullable)))));
        var definition = new Definition(new EventRegistry(ListModule.OfSeq(events), json), router, ListModule.OfSeq(processManagers),
                                        ListModule.OfSeq(decls));
        var r = RuntimeModule.build(definition);
        return r.IsOk ? r.ResultValue : ToError(r.ErrorValue);
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
        return d.IsOk ? Prelude.Right<Error, object>(d.ResultValue) : Prelude.Left<Error, object>(ToError(d.ErrorValue));
    }

    // ---- the interpreter ----

    public static Task<Either<Error, R>> Transact<R>(IInterpreter interpreter, Registry registry,
                                                      Func<UnitOfWork, EitherAsync<Error, R>> work, CancellationToken ct) =>
        Call(() => interpreter.Transact(Work(registry, work, ct), ct), r => r);

    static FSharpFunc<IUnitOfWork, Task<FSharpResult<R, FableError>>> Work<R>(Registry registry, Func<UnitOfWork, EitherAsync<Error, R>> work,
                                                                             CancellationToken ct) =>
        FuncConvert.FromFunc<IUnitOfWork, Task<FSharpResult<R, FableError>>>(
            uow => Back(() => work(new UnitOfWork(new UowAdapter(uow, registry, ct))).ToEither()));

    /// <summary>One emit as a transaction of its own (the interpreter may fold the commit into it).</summary>
    public static Task<Either<Error, Aggregate<S, K>>> Emit<S, K>(IInterpreter interpreter, Registry registry, AggregateType<S, K> type, K id,
                                                                  Expectation expectation, Decision<S> decision, CancellationToken ct) where K : notnull =>
        UowAdapter.EmitWith(registry, type, id, expectation, decision, (def, key, expected, decide) => interpreter.Emit(def, key, expected, decide, ct));

    public static Task<Either<Error, IReadOnlyList<RecordedEvent>>> ReadAll(IInterpreter interpreter, Position after, int max, CancellationToken ct) =>
        Call(() => interpreter.ReadAll(Pos(after), max, ct), es => (IReadOnlyList<RecordedEvent>)es.Select(Recorded).ToArray());

    public static Task<Either<Error, Position>> Head(IInterpreter interpreter, CancellationToken ct) =>
        Call(() => interpreter.Head(ct), Pos);

    // ---- the process-manager host ----

    public static Task<Either<Error, Unit>> CatchUp(IProcessManagerHost host, CancellationToken ct) =>
        Call(() => host.CatchUp(ct), _ => Unit.Default);

    public static Task<Either<Error, ProcessManagerStatus>> Status(IProcessManagerHost host, string name, CancellationToken ct) =>
        Call(() => host.Status(name, ct), s => new ProcessManagerStatus(
            s.Name, Pos(s.Position), s.Lag, s.Active, s.LastError?.Value, s.Attempts, s.Holder?.Value, s.State));

    public static Task<Either<Error, Unit>> Enable(IProcessManagerHost host, string name, CancellationToken ct) =>
        Call(() => host.Enable(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Disable(IProcessManagerHost host, string name, CancellationToken ct) =>
        Call(() => host.Disable(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Reset(IProcessManagerHost host, string name, StartPosition start, CancellationToken ct) =>
        start is null
            ? Task.FromResult<Either<Error, Unit>>(new FableErrors.InvalidDefinition([$"Reset of process manager {name} was given a null start position"]))
            : Call(() => host.Reset(name, StartAt(start), ct), _ => Unit.Default);

    static global::Fable.FSharp.StartAt StartAt(StartPosition start) => start switch
    {
        StartPosition.AfterPosition a => global::Fable.FSharp.StartAt.NewAfter(Pos(a.Position)),
        StartPosition.FromHead => global::Fable.FSharp.StartAt.Head,
        _ => global::Fable.FSharp.StartAt.Origin,
    };

    public static Task<Either<Error, Unit>> Rebuild(IProcessManagerHost host, string name, CancellationToken ct) =>
        Call(() => host.Rebuild(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Start(IProcessManagerHost host, CancellationToken ct) =>
        Run(() => host.Start(ct));

    public static Task<Either<Error, Unit>> Stop(IProcessManagerHost host, CancellationToken ct) =>
        Run(() => host.Stop().WaitAsync(ct));

    /// <summary>Runs a core call that returns a bare task; an exception becomes Cancelled or Infrastructure.</summary>
    static async Task<Either<Error, Unit>> Run(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
            return Unit.Default;
        }
        catch (Exception ex)
        {
            return Thrown(ex);
        }
    }

    // ---- interpreters ----

    /// <summary>Creates the in-memory store and checks every aggregate definition on it, as PostgreSQL's Build does.</summary>
    public static async Task<Either<Error, Backend>> InMemory(global::Fable.FSharp.Runtime runtime, Func<DateTimeOffset>? clock, TimeSpan? lockTimeout,
                                                              IEnumerable<AggregateChecker> checks, CancellationToken ct)
    {
        if (lockTimeout is { } t && t <= TimeSpan.Zero)
            return new FableErrors.InvalidDefinition([$"the in-memory lock timeout must be positive, got {t}"]);
        var store = global::Fable.FSharp.InMemory.InMemoryStore.Create(
            runtime, clock is null ? null : FSharpOption<FSharpFunc<FUnit, DateTimeOffset>>.Some(FuncConvert.FromFunc(clock)),
            lockTimeout is { } timeout ? FSharpOption<TimeSpan>.Some(timeout) : null);
        var problems = await Problems(store, checks, ct).ConfigureAwait(false);
        if (problems.Count > 0) return new FableErrors.InvalidDefinition(problems);
        return new Backend("in-memory", store.Interpreter, store.ProcessManagers, null);
    }

    /// <summary>Every problem the aggregate checks find on <paramref name="store"/>.</summary>
    static async Task<List<string>> Problems(object store, IEnumerable<AggregateChecker> checks, CancellationToken ct)
    {
        var problems = new List<string>();
        foreach (var check in checks)
            (await check(store, ct).ConfigureAwait(false)).IfLeft(e =>
                problems.AddRange(e is FableErrors.InvalidDefinition d ? d.Problems : [e.Message]));
        return problems;
    }

    /// <summary>Migrates Fable's schema, creates the store and registers the process managers (not started).</summary>
    public static async Task<Either<Error, Backend>> Postgres(NpgsqlDataSource dataSource, global::Fable.FSharp.Runtime runtime, PostgresSettings settings,
                                                               IEnumerable<AggregateChecker> checks, CancellationToken ct)
    {
        var created = await Call(() => PostgresStore.Create(dataSource, runtime,
            FSharpOption<PostgresOptions>.Some(new PostgresOptions(settings.Schema, settings.Notify)), FSharpOption<CancellationToken>.Some(ct)), s => s);
        if (created.IsLeft) return created.Map(_ => (Backend)null!);
        var store = (PostgresStore)created;
        var problems = await Problems(store, checks, ct).ConfigureAwait(false);
        if (problems.Count > 0) return new FableErrors.InvalidDefinition(problems);
        var host = await Call(() => PostgresProcessManagers.Create(store,
            Some(settings.RunnerId),
            settings.PollInterval is { } poll ? FSharpOption<TimeSpan>.Some(poll) : null,
            settings.Log is { } log ? FSharpOption<FSharpFunc<string, FUnit>>.Some(FuncConvert.FromAction(log)) : null,
            FSharpOption<CancellationToken>.Some(ct)), h => h);
        return host.Map(h => new Backend("postgres", store, h, store));
    }

    /// <summary>Checks one aggregate type on a store: its definition (Initial, ToRow) on both interpreters, and on
    /// PostgreSQL its table too (columns, key type and last_event_id).</summary>
    public static AggregateChecker Checker<S, K>(AggregateType<S, K> type) where K : notnull =>
        (store, ct) => store is PostgresStore pg
            ? Call(() => pg.CheckAggregate(Def(type), FSharpOption<CancellationToken>.Some(ct)), _ => Unit.Default)
            : Call(() => ((global::Fable.FSharp.InMemory.InMemoryStore)store).CheckAggregate(Def(type), FSharpOption<CancellationToken>.Some(ct)), _ => Unit.Default);

    /// <summary>Runs <paramref name="work"/> in the caller's open transaction (Postgres only).</summary>
    public static Task<Either<Error, R>> InTransaction<R>(object? store, Registry registry, NpgsqlConnection connection, NpgsqlTransaction transaction,
                                                          Func<UnitOfWork, EitherAsync<Error, R>> work, CancellationToken ct) =>
        store is PostgresStore pg
            ? Call(() => pg.InTransaction(connection, transaction, Work(registry, work, ct), FSharpOption<CancellationToken>.Some(ct)), r => r)
            : Task.FromResult<Either<Error, R>>(new FableErrors.InvalidDefinition(["InTransaction needs the PostgreSQL interpreter (UsePostgres)"]));

}

/// <summary>The core's unit of work with C# types: what <see cref="UnitOfWork"/> and the contexts call.</summary>
internal sealed class UowAdapter(IUnitOfWork uow, Registry registry, CancellationToken token)
{
    public CancellationToken Token(CancellationToken ct) => ct.CanBeCanceled ? ct : token;
    public DbConnection? Connection => uow.Connection?.Value;
    public DbTransaction? Transaction => uow.Transaction?.Value;

    public Task<Either<Error, Aggregate<S, K>>> Emit<S, K>(AggregateType<S, K> type, K id, Expectation expectation, Decision<S> decision,
                                                           CancellationToken ct) where K : notnull =>
        EmitWith(registry, type, id, expectation, decision, (def, key, expected, decide) => uow.Emit(def, key, expected, decide, ct));

    /// <summary>Checks and converts an emit's arguments, then runs it with <paramref name="run"/> (on this unit of work,
    /// or on the interpreter as a transaction of its own).</summary>
    public static Task<Either<Error, Aggregate<S, K>>> EmitWith<S, K>(Registry registry, AggregateType<S, K> type, K id, Expectation expectation,
        Decision<S> decision, Func<AggregateDef<S>, AggregateKey, Fable.FSharp.Expected, Decide<S>, Task<FSharpResult<Emitted<S>, FableError>>> run)
        where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Aggregate<S, K>>>(problem);
        if (decision is null || (decision.Pure is null && decision.InTransaction is null))
            return Task.FromResult<Either<Error, Aggregate<S, K>>>(new FableErrors.InvalidDefinition(["the decision is null"]));
        var expected = expectation.Exact ? Fable.FSharp.Expected.NewAt(Interop.Opt(expectation.LastEventId)) : Fable.FSharp.Expected.Any;
        var decide = decision.Pure is { } pure
            ? Decide<S>.NewPure(FuncConvert.FromFunc<S, FSharpResult<FSharpList<object>, FableError>>(s => Events(pure(s))))
            : Decide<S>.NewInTransaction(FuncConvert.FromFunc<IUnitOfWork, S, CancellationToken, Task<FSharpResult<FSharpList<object>, FableError>>>(
                async (u, s, c) =>
                {
                    var ctx = new DecideContext(new UnitOfWork(new UowAdapter(u, registry, c)), c);
                    return Events(await decision.InTransaction!(ctx, s).ConfigureAwait(false));
                }));
        return Interop.Call(() => run(def!, key!, expected, decide),
                            e => Snapshot(registered!, e.Aggregate, e.Events.Select(Interop.Recorded<K>).ToArray()));
    }

    public Task<Either<Error, Option<Aggregate<S, K>>>> Load<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Option<Aggregate<S, K>>>>(problem);
        return Interop.Call(() => uow.Load(def!, key!, ct), o => o is null ? Option<Aggregate<S, K>>.None : Snapshot(registered!, o.Value, []));
    }

    public Task<Either<Error, IReadOnlyList<RecordedEvent<K>>>> Log<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, _, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, IReadOnlyList<RecordedEvent<K>>>>(problem);
        return Interop.Call(() => uow.Log(new AggregateId(registered!.Table, key!), ct),
                            es => (IReadOnlyList<RecordedEvent<K>>)es.Select(Interop.Recorded<K>).ToArray());
    }

    public Task<Either<Error, Aggregate<S, K>>> Replay<S, K>(AggregateType<S, K> type, K id, CancellationToken ct) where K : notnull
    {
        var (registered, def, key, problem) = Check(registry, type, id);
        if (problem is not null) return Task.FromResult<Either<Error, Aggregate<S, K>>>(problem);
        return Interop.Call(() => uow.Replay(def!, key!, ct), a => Snapshot(registered!, a, []));
    }

    public Either<Error, object> Decode(RecordedEvent r) => Interop.Decode(uow.Codec, r);

    public Task<Either<Error, Option<IReadOnlyDictionary<string, object?>>>> Get(string table, object id, CancellationToken ct) =>
        Interop.Call(() => uow.Tables.Get(table, id, ct),
                     o => o is null ? Option<IReadOnlyDictionary<string, object?>>.None : Option<IReadOnlyDictionary<string, object?>>.Some(o.Value!));

    public Task<Either<Error, IReadOnlyList<IReadOnlyDictionary<string, object?>>>> Find(string table, string column, object value, CancellationToken ct) =>
        Interop.Call(() => uow.Tables.Find(table, column, value, ct), rows => (IReadOnlyList<IReadOnlyDictionary<string, object?>>)rows.ToArray()!);

    public Task<Either<Error, Unit>> Insert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct) =>
        Interop.Call(() => uow.Tables.Insert(table, row!, ct), _ => Unit.Default);

    public Task<Either<Error, Unit>> Upsert(string table, IReadOnlyDictionary<string, object?> row, CancellationToken ct) =>
        Interop.Call(() => uow.Tables.Upsert(table, row!, ct), _ => Unit.Default);

    public Task<Either<Error, bool>> Delete(string table, object id, CancellationToken ct) =>
        Interop.Call(() => uow.Tables.Delete(table, id, ct), b => b);

    static FSharpResult<FSharpList<object>, FableError> Events(Either<Error, IEnumerable<object>> decided) =>
        decided.Match(
            Right: es => es is null
                ? FSharpResult<FSharpList<object>, FableError>.NewError(FableError.NewInvalidDefinition(ListModule.OfSeq(["a decision returned a null event list"])))
                : FSharpResult<FSharpList<object>, FableError>.NewOk(ListModule.OfSeq(es)),
            Left: e => FSharpResult<FSharpList<object>, FableError>.NewError(Interop.ToFable(e)));

    static Aggregate<S, K> Snapshot<S, K>(AggregateType<S, K> type, global::Fable.FSharp.Aggregate<S> a, IReadOnlyList<RecordedEvent<K>> recorded)
        where K : notnull =>
        new(type, Keys<K>.OfCore(a.Id.Key), Interop.Opt(a.LastEventId), a.State, recorded);

    /// <summary>The registered definition of <paramref name="type"/>'s table, its core definition and key; or the problem.</summary>
    static (AggregateType<S, K>? Type, AggregateDef<S>? Def, AggregateKey? Key, Error? Problem) Check<S, K>(Registry registry, AggregateType<S, K> type, K id)
        where K : notnull
    {
        var (registered, problem) = registry.Resolve(type);
        if (problem is not null) return (null, null, null, problem);
        return Interop.Key(registered!.Table, id).Match(
            Right: k => (registered, Interop.Def(registered), k, (Error?)null),
            Left: e => ((AggregateType<S, K>?)null, (AggregateDef<S>?)null, (AggregateKey?)null, (Error?)e));
    }
}
