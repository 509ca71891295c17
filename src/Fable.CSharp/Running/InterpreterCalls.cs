// The running app's calls into the core's interpreter and process-manager host, with C# types.
using Fable.FSharp;
using Fable.FSharp.Postgres;
using LanguageExt;
using LanguageExt.Common;
using Microsoft.FSharp.Core;
using Npgsql;
using Unit = LanguageExt.Unit;

namespace Fable.CSharp;

internal static class InterpreterCalls
{
    public static Task<Either<Error, R>> Transact<R>(IInterpreter interpreter, Registry registry,
                                                      Func<UnitOfWork, EitherAsync<Error, R>> work, CancellationToken ct) =>
        CoreCalls.Call(() => interpreter.Transact(Work(registry, work, ct), ct), r => r);

    static FSharpFunc<IUnitOfWork, Task<FSharpResult<R, FableError>>> Work<R>(Registry registry, Func<UnitOfWork, EitherAsync<Error, R>> work,
                                                                             CancellationToken ct) =>
        FuncConvert.FromFunc<IUnitOfWork, Task<FSharpResult<R, FableError>>>(
            uow => CoreCalls.Back(() => work(new UnitOfWork(new UowAdapter(uow, registry, ct))).ToEither()));

    /// <summary>One emit as a transaction of its own (the interpreter may fold the commit into it).</summary>
    public static Task<Either<Error, Aggregate<S, K>>> Emit<S, K>(IInterpreter interpreter, Registry registry, AggregateType<S, K> type, K id,
                                                                  Expectation expectation, Decision<S> decision, CancellationToken ct) where K : notnull =>
        UowAdapter.EmitWith(registry, type, id, expectation, decision, (def, key, expected, decide) => interpreter.Emit(def, key, expected, decide, ct));

    public static Task<Either<Error, IReadOnlyList<RecordedEvent>>> ReadAll(IInterpreter interpreter, Position after, int max, CancellationToken ct) =>
        CoreCalls.Call(() => interpreter.ReadAll(Conversions.Pos(after), max, ct), es => (IReadOnlyList<RecordedEvent>)es.Select(Conversions.Recorded).ToArray());

    public static Task<Either<Error, Position>> Head(IInterpreter interpreter, CancellationToken ct) =>
        CoreCalls.Call(() => interpreter.Head(ct), Conversions.Pos);

    // ---- the process-manager host ----

    public static Task<Either<Error, Unit>> CatchUp(IProcessManagerHost host, CancellationToken ct) =>
        CoreCalls.Call(() => host.CatchUp(ct), _ => Unit.Default);

    public static Task<Either<Error, ProcessManagerStatus>> Status(IProcessManagerHost host, string name, CancellationToken ct) =>
        CoreCalls.Call(() => host.Status(name, ct), StatusOf);

    public static Task<Either<Error, IReadOnlyList<ProcessManagerStatus>>> ListStored(IProcessManagerHost host, CancellationToken ct) =>
        CoreCalls.Call(() => host.ListStored(ct), all => (IReadOnlyList<ProcessManagerStatus>)all.Select(StatusOf).ToArray());

    /// <summary>The process managers stored in <paramref name="schema"/>, read without an app.</summary>
    public static Task<Either<Error, IReadOnlyList<ProcessManagerStatus>>> ListStored(NpgsqlDataSource dataSource, string schema, CancellationToken ct) =>
        CoreCalls.Call(() => PostgresStatus.ListStored(dataSource, schema, ct), all => (IReadOnlyList<ProcessManagerStatus>)all.Select(StatusOf).ToArray());

    static ProcessManagerStatus StatusOf(Fable.FSharp.ProcessManagerInfo s) =>
        new(s.Name, Conversions.Pos(s.Position), s.Lag, s.Active, s.LastError?.Value, s.Attempts, s.Holder?.Value, s.State);

    public static Task<Either<Error, Unit>> Enable(IProcessManagerHost host, string name, CancellationToken ct) =>
        CoreCalls.Call(() => host.Enable(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Disable(IProcessManagerHost host, string name, CancellationToken ct) =>
        CoreCalls.Call(() => host.Disable(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Reset(IProcessManagerHost host, string name, StartPosition start, CancellationToken ct) =>
        start is null
            ? Task.FromResult<Either<Error, Unit>>(new FableErrors.InvalidDefinition([$"Reset of process manager {name} was given a null start position"]))
            : CoreCalls.Call(() => host.Reset(name, CoreDefinitions.StartAt(start), ct), _ => Unit.Default);


    public static Task<Either<Error, Unit>> Rebuild(IProcessManagerHost host, string name, CancellationToken ct) =>
        CoreCalls.Call(() => host.Rebuild(name, ct), _ => Unit.Default);

    public static Task<Either<Error, Unit>> Start(IProcessManagerHost host, CancellationToken ct) =>
        CoreCalls.Run(() => host.Start(ct));

    public static Task<Either<Error, Unit>> Stop(IProcessManagerHost host, CancellationToken ct) =>
        CoreCalls.Run(() => host.Stop().WaitAsync(ct));

    /// <summary>Runs <paramref name="work"/> in the caller's open transaction (Postgres only).</summary>
    public static Task<Either<Error, R>> InTransaction<R>(object? store, Registry registry, NpgsqlConnection connection, NpgsqlTransaction transaction,
                                                          Func<UnitOfWork, EitherAsync<Error, R>> work, CancellationToken ct) =>
        store is PostgresStore pg
            ? CoreCalls.Call(() => pg.InTransaction(connection, transaction, Work(registry, work, ct), FSharpOption<CancellationToken>.Some(ct)), r => r)
            : Task.FromResult<Either<Error, R>>(new FableErrors.InvalidDefinition(["InTransaction needs the PostgreSQL interpreter (UsePostgres)"]));

}
