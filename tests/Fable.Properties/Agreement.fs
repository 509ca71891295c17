// Interpreters agree: one generated plan of jobs (single emits and units of work over several accounts and
// counters, refusing decisions, injected faults, table writes, optimistic emits, replays, payloads and metadata with
// any characters, numbers and key orders, some unstorable) run one job after another
// on a fresh in-memory instance and on a fresh instance of another interpreter gives the same outcomes, logs, chains,
// global order and rows. Event ids may differ between interpreters: events are compared by their place in a chain.
module Fable.Tests.Agreement

open System
open System.Collections.Generic
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.Fixture
open Fable.Tests.Domain
open Fable.Tests.Support

/// Where an emit is made to fail.
type Fault =
    | DecideException
    | DecideWritesThenRejects
    | HandlerError
    | HandlerException
    | EvolveException
    | ToRowException
    | UnknownType
    | NoRouteForEvent
    /// The emit uses a definition of accounts whose Initial throws (seen when the account has no row yet).
    | InitialThrows
    /// ... whose OfRow throws (seen when the account has a row).
    | OfRowThrows
    /// ... whose ToRow throws on every state.
    | ToRowThrows
    /// ... whose ToRow writes `last_event_id` (or `id`), which Fable owns.
    | ToRowWritesReserved of column: string
    /// ... whose ToRow returns null.
    | ToRowNull

/// One operation inside a unit of work.
type Op =
    | OnAccount of account: int * command: Commands.Command
    | Faulty of account: int * fault: Fault
    /// Expected.At None: only an account without events takes it, others are a Conflict.
    | IfNew of account: int * command: Commands.Command
    /// Loads the account in the unit of work, then emits expecting the head it read.
    | AtHead of account: int * command: Commands.Command
    | Increment of counter: int
    /// A decision that reads the kv row in the transaction: deposits its `a` (at least 1), refuses when it is missing.
    | DepositKv of account: int * id: int64
    /// An emit whose own token is cancelled before it starts.
    | CancelledDeposit of account: int
    | ReplayAccount of account: int
    | UpsertKv of id: int64 * value: int64
    | InsertKv of id: int64 * text: string
    | DeleteKv of id: int64
    /// A note whose text may hold any character, a NUL or a lone surrogate among them.
    | NoteText of account: int * text: string
    /// An event whose payload is generated JSON text (any value: numbers in every notation, keys in any order,
    /// duplicates, escapes; now and then something jsonb cannot store).
    | RawEvent of account: int * json: string
    /// A deposit with generated metadata text (keys in any order, spaces, numbers in any notation, now and then
    /// something jsonb cannot store).
    | Annotated of account: int * meta: string

/// How a unit of work ends.
type Ending =
    /// Stops at the first failed operation and returns its error (all or nothing).
    | StopAtFirstError
    /// Goes on after failed operations and commits what succeeded.
    | IgnoreErrors
    /// Throws after its operations.
    | Throws
    /// Returns an error after its operations.
    | RollsBack

type Job = { Ops: Op list; Ending: Ending }

type Plan = { Accounts: int; Counters: int; Jobs: Job list }

let private plan =
    gen {
        let! accounts = Gen.choose (1, 4)
        let! counters = Gen.choose (1, 2)
        let account = Gen.choose (0, accounts - 1)
        let kvId = Gen.choose (1, 4) |> Gen.map int64
        let op =
            Gen.frequency
                [ 12, Gen.map2 (fun a c -> OnAccount(a, c)) account Gens.command
                  3, Gen.map2 (fun a f -> Faulty(a, f)) account
                         (Gen.elements [ DecideException; DecideWritesThenRejects; HandlerError; HandlerException
                                         EvolveException; ToRowException; UnknownType; NoRouteForEvent
                                         InitialThrows; OfRowThrows; ToRowThrows; ToRowWritesReserved "id"
                                         ToRowWritesReserved "last_event_id"; ToRowNull ])
                  1, Gen.map2 (fun a c -> IfNew(a, c)) account Gens.command
                  2, Gen.map2 (fun a c -> AtHead(a, c)) account Gens.command
                  3, Gen.choose (0, counters - 1) |> Gen.map Increment
                  1, Gen.map2 (fun a i -> DepositKv(a, i)) account kvId
                  1, account |> Gen.map CancelledDeposit
                  1, account |> Gen.map ReplayAccount
                  1, Gen.map2 (fun i v -> UpsertKv(i, int64 v)) kvId (Gen.choose (0, 9))
                  1, Gen.map2 (fun i t -> InsertKv(i, t)) kvId Gens.text
                  1, kvId |> Gen.map DeleteKv
                  1, Gen.map2 (fun a t -> NoteText(a, t)) account (JsonGen.storedText true)
                  1, Gen.map2 (fun a j -> RawEvent(a, j)) account JsonGen.value
                  1, Gen.map2 (fun a m -> Annotated(a, m)) account (Gen.frequency [ 9, JsonGen.metaObject false; 1, JsonGen.metaObject true ]) ]
        let job =
            Gen.frequency
                [ 5, op |> Gen.map (fun o -> { Ops = [ o ]; Ending = StopAtFirstError })
                  3, Gen.map2 (fun ops e -> { Ops = ops; Ending = e })
                         (Gen.choose (2, 5) |> Gen.bind (fun n -> Gen.listOfLength n op))
                         (Gen.frequency [ 3, Gen.constant StopAtFirstError; 3, Gen.constant IgnoreErrors
                                          1, Gen.constant Throws; 1, Gen.constant RollsBack ]) ]
        let! n = Gen.sized (fun size -> Gen.choose (1, max 1 (min 30 (size + 1))))
        let! jobs = Gen.listOfLength n job
        return { Accounts = accounts; Counters = counters; Jobs = jobs }
    }

/// An event the plan writes with a payload text of its own (see `agreementRuntime`).
type RawPayload = { Raw: string }

/// The domain with `RawPayload` registered and routed, its codec recording a `RawPayload` as its text and reading a
/// stored `account.raw` payload back as its text: generated payloads are compared as the texts both return.
let private agreementRuntime =
    let rt =
        match Runtime.build { definition [] with
                                Events = events |> EventRegistry.add (EventType.create<RawPayload> "account.raw")
                                Router = router |> Router.route<RawPayload> [] } with
        | Ok rt -> rt
        | Error e -> failwithf "the agreement domain is invalid: %O" e
    let inner = rt.Codec
    { rt with
        Codec =
            { new IEventCodec with
                member _.Encode evt =
                    match evt with
                    | :? RawPayload as r -> Ok { TypeName = "account.raw"; TypeVersion = 1; Data = r.Raw }
                    | e -> inner.Encode e
                member _.Decode(name, version, data) =
                    if name = "account.raw" then Ok(box { Raw = data }) else inner.Decode(name, version, data)
                member _.TryNameOf t = inner.TryNameOf t } }

/// An event as both interpreters must show it: type, version, payload (decoded and its exact text), metadata text.
type EventView =
    { Type: string
      Version: int
      Payload: obj
      Json: string
      Meta: string }

let private view (codec: IEventCodec) (e: StoredEvent) =
    { Type = e.TypeName
      Version = e.TypeVersion
      Payload = codec.Decode(e.TypeName, e.TypeVersion, e.Data) |> ok (sprintf "decoding event %d" e.Id)
      Json = e.Data
      Meta = e.Meta }

/// What one operation gave.
type OpOutcome =
    | Emitted of state: obj * events: EventView list
    | Replayed of state: obj
    | Wrote of deleted: bool option
    | Failed of code: int * retryable: bool

/// What one job gave: its operations' outcomes and its own (None when it committed).
type JobOutcome = { Steps: OpOutcome list; Failure: int option }

let private failed (e: FableError) = Failed(e.Code, FableError.isRetryable e)

let private depositThen (faulty: obj) : Decide<Account> =
    Pure(fun s -> Ok [ box { Amount = 5L; BalanceBefore = s.Balance }; faulty ])

let private note fault = box { Text = "injected"; Fault = fault }

let private faultyDecision fault : Decide<Account> =
    match fault with
    | DecideException -> Pure(fun _ -> failwith "decide exception injected")
    | DecideWritesThenRejects ->
        InTransaction(fun uow _ ct ->
            task {
                match! uow.Tables.Insert(kvTable, Row.ofSeq [ "id", box -1L; "c", box "written by decide" ], ct) with
                | Error e -> return Error e
                | Ok() -> return UntypedDecider.reject "decide refuses after writing"
            })
    | HandlerError -> depositThen (note "handler-error")
    | HandlerException -> depositThen (note "handler-exception")
    | EvolveException -> depositThen (note "evolve")
    | ToRowException -> depositThen (note "torow")
    | UnknownType -> depositThen (box ({ Value = 1 }: Unregistered))
    | NoRouteForEvent -> depositThen (box ({ Value = 1 }: Unrouted))
    // A deposit has a handler (the ledger): the row is written before it runs.
    | InitialThrows
    | OfRowThrows
    | ToRowThrows
    | ToRowWritesReserved _
    | ToRowNull -> Pure(Commands.decide (Commands.Deposit 3L))

/// The accounts definition an emit with `fault` uses: faulty Initial, OfRow or ToRow, else the domain's.
let private faultyDef fault : AggregateDef<Account> =
    match fault with
    | InitialThrows -> { accounts with Initial = fun _ -> failwith "Initial fault injected" }
    | OfRowThrows -> { accounts with OfRow = fun _ -> failwith "OfRow fault injected" }
    | ToRowThrows -> { accounts with ToRow = fun _ -> failwith "ToRow fault injected" }
    | ToRowWritesReserved column ->
        { accounts with ToRow = fun s -> Row.ofSeq [ yield! [ for kv in accounts.ToRow s -> kv.Key, kv.Value ]; column, box 1L ] }
    | ToRowNull -> { accounts with ToRow = fun _ -> null }
    | _ -> accounts

/// Runs one operation; returns its outcome and its error, if any.
let private runOp (uow: IUnitOfWork) (accountKeys: Guid[]) (counterKeys: string[]) (op: Op) : Task<OpOutcome * FableError option> =
    let emitted (r: Result<Emitted<'S>, FableError>) =
        match r with
        | Ok e -> Emitted(box e.Aggregate.State, e.Events |> List.map (view uow.Codec)), None
        | Error e -> failed e, Some e
    let account a = accountKey accountKeys[a]
    let emitAccountWith def a expected decide =
        task {
            let! r = uow.Emit(def, account a, expected, decide, ct)
            return emitted r
        }
    let emitAccount a expected decide = emitAccountWith accounts a expected decide
    let wrote (r: Result<bool option, FableError>) =
        match r with
        | Ok d -> Wrote d, None
        | Error e -> failed e, Some e
    task {
        match op with
        | OnAccount(a, cmd) -> return! emitAccount a Expected.Any (Pure(Commands.decide cmd))
        | Faulty(a, fault) -> return! emitAccountWith (faultyDef fault) a Expected.Any (faultyDecision fault)
        | IfNew(a, cmd) -> return! emitAccount a (Expected.At None) (Pure(Commands.decide cmd))
        | AtHead(a, cmd) ->
            match! uow.Load(accounts, account a, ct) with
            | Error e -> return failed e, Some e
            | Ok loaded ->
                let head = loaded |> Option.bind (fun x -> x.LastEventId)
                return! emitAccount a (Expected.At head) (Pure(Commands.decide cmd))
        | Increment c ->
            let! r = uow.Emit(counters, AggregateKey.Text counterKeys[c], Expected.Any, Pure(fun s -> Ok [ box { Seen = s.Value } ]), ct)
            return emitted r
        | DepositKv(a, kv) ->
            let decide =
                InTransaction(fun uow (s: Account) ct ->
                    task {
                        match! uow.Tables.Get(kvTable, box kv, ct) with
                        | Error e -> return Error e
                        | Ok None -> return UntypedDecider.reject "no such kv row"
                        | Ok(Some row) ->
                            let amount = row |> Row.tryGet "a" |> Option.map Convert.ToInt64 |> Option.defaultValue 0L
                            return Ok [ box { Amount = max 1L amount; BalanceBefore = s.Balance } ]
                    })
            return! emitAccount a Expected.Any decide
        | CancelledDeposit a ->
            use cts = new Threading.CancellationTokenSource()
            cts.Cancel()
            let! r = uow.Emit(accounts, account a, Expected.Any, Pure(Commands.decide (Commands.Deposit 1L)), cts.Token)
            return emitted r
        | ReplayAccount a ->
            match! uow.Replay(accounts, account a, ct) with
            | Ok replayed -> return Replayed(box replayed.State), None
            | Error e -> return failed e, Some e
        | UpsertKv(id, v) ->
            let! r = uow.Tables.Upsert(kvTable, Row.ofSeq [ "id", box id; "a", box v ], ct)
            return wrote (r |> Result.map (fun () -> None))
        | InsertKv(id, t) ->
            let! r = uow.Tables.Insert(kvTable, Row.ofSeq [ "id", box id; "c", box t ], ct)
            return wrote (r |> Result.map (fun () -> None))
        | DeleteKv id ->
            let! r = uow.Tables.Delete(kvTable, box id, ct)
            return wrote (r |> Result.map Some)
        | NoteText(a, text) -> return! emitAccount a Expected.Any (Pure(Commands.decide (Commands.Note text)))
        | RawEvent(a, json) -> return! emitAccount a Expected.Any (Pure(fun _ -> Ok [ box { Raw = json } ]))
        | Annotated(a, meta) ->
            return! emitAccount a Expected.Any (Pure(fun s -> Ok [ Meta.attach meta (box { Amount = 1L; BalanceBefore = s.Balance }) ]))
    }

/// Runs one job in its own unit of work.
let private runJob (i: IInterpreter) accountKeys counterKeys (job: Job) : JobOutcome =
    let outcomes = List<OpOutcome>()
    let work (uow: IUnitOfWork) : Task<Result<unit, FableError>> =
        task {
            let mutable first = None
            for op in job.Ops do
                if not (job.Ending = StopAtFirstError && first.IsSome) then
                    let! (outcome, error) = runOp uow accountKeys counterKeys op
                    outcomes.Add outcome
                    if first.IsNone then first <- error
            match job.Ending, first with
            | StopAtFirstError, Some e -> return Error e
            | StopAtFirstError, None
            | IgnoreErrors, _ -> return Ok()
            | Throws, _ -> return raise (InvalidOperationException "the work throws")
            | RollsBack, _ -> return Error(FableError.reject "the work rolls back")
        }
    let result = run (i.Transact(work, ct))
    { Steps = List.ofSeq outcomes; Failure = (match result with Ok() -> None | Error e -> Some e.Code) }

/// A column value in a form both interpreters share (integers widened, times in UTC, event ids by chain place).
type Value =
    | Int of int64
    | Text of string
    | Bool of bool
    | Uuid of Guid
    | Time of DateTime
    | Number of decimal
    /// An event id: the aggregate and the event's index in its chain.
    | EventRef of aggregate: string * index: int
    | Other of typeName: string * text: string

/// Everything observable after a plan ran, with event ids replaced by chain places.
type Picture =
    { Outcomes: JobOutcome list
      /// Per aggregate: its events with the index of the previous event in the same chain (-1: not in it).
      Logs: (string * (EventView * int option) list) list
      /// The global log as chain places, in follower order.
      Order: (string * int) list
      /// Per table: its rows as sorted (column, value) lists, null columns left out, rows sorted.
      Rows: (string * (string * Value) list list) list }

let private value (refs: IDictionary<int64, string * int>) (isEventId: bool) (v: obj) =
    let asInt (i: int64) =
        match isEventId, refs.TryGetValue i with
        | true, (true, place) -> EventRef place
        | _ -> Int i
    match v with
    | :? int64 as i -> asInt i
    | :? int32 as i -> asInt (int64 i)
    | :? int16 as i -> asInt (int64 i)
    | :? string as s -> Text s
    | :? bool as b -> Bool b
    | :? Guid as g -> Uuid g
    | :? DateTime as d -> Time(if d.Kind = DateTimeKind.Local then d.ToUniversalTime() else DateTime.SpecifyKind(d, DateTimeKind.Utc))
    | :? DateTimeOffset as d -> Time d.UtcDateTime
    | :? decimal as d -> Number d
    | :? double as d -> Number(decimal d)
    | v -> Other(v.GetType().FullName, string v)

/// Takes the picture of an instance after `plan` ran on it.
let private picture (inst: Instance) (accountKeys: Guid[]) (counterKeys: string[]) (outcomes: JobOutcome list) =
    let i = inst.Interpreter
    let all = Checks.globalLog inst
    let aggregates =
        [ for k in accountKeys -> AggregateDef.idOf accounts (accountKey k) ]
        @ [ for k in counterKeys -> AggregateDef.idOf counters (AggregateKey.Text k) ]
    for k in accountKeys do
        Checks.aggregate inst all accounts (accountKey k) |> ignore
    for k in counterKeys do
        Checks.aggregate inst all counters (AggregateKey.Text k) |> ignore
    let logs = [ for a in aggregates -> string a, run (Store.log i a ct) |> ok "Log" ]
    let refs = Dictionary<int64, string * int>()
    for (a, log) in logs do
        for (n, e) in List.indexed log do
            refs[e.Id] <- (a, n)
    let chainViews =
        [ for (a, log) in logs ->
              let index = log |> List.mapi (fun n e -> e.Id, n) |> dict
              a,
              [ for e in log ->
                    view i.Codec e,
                    e.PrevEventId |> Option.map (fun p -> match index.TryGetValue p with | true, n -> n | _ -> -1) ] ]
    let order =
        [ for e in all ->
              match refs.TryGetValue e.Id with
              | true, place -> place
              | _ -> failtestf "event %d of %O is in the global log but in no aggregate's log" e.Id e.Aggregate ]
    let eventIdColumns table = if table = ledgerTable || table = notesTable then set [ "id"; "last_event_id" ] else set [ "last_event_id" ]
    let tableRows table =
        let idCols = eventIdColumns table
        rows inst table
        |> List.map (fun r ->
            [ for kv in r do
                  if not (isNull kv.Value || kv.Value :? DBNull) then
                      yield kv.Key, value refs (idCols.Contains kv.Key) kv.Value ]
            |> List.sortBy fst)
        |> List.sort
    { Outcomes = outcomes
      Logs = chainViews
      Order = order
      Rows = [ for t in [ accountsTable; countersTable; ledgerTable; notesTable; kvTable ] -> t, tableRows t ] }

/// Runs `plan` job after job on a fresh instance of `fixture` and takes its picture.
let private runPlan (fixture: Fixture) (p: Plan) accountKeys counterKeys =
    withInstance fixture agreementRuntime (fun inst ->
        let outcomes = p.Jobs |> List.map (runJob inst.Interpreter accountKeys counterKeys)
        picture inst accountKeys counterKeys outcomes)

/// The same plan on the reference interpreter and on `other` gives the same picture.
let agree (reference: Fixture) (other: Fixture) =
    propertyOn other
        (sprintf "the same jobs run one after another give the same outcomes, logs, chains, global order and rows as %s" reference.Name)
        150 plan
        (fun p ->
            let accountKeys = Array.init p.Accounts (fun _ -> Guid.NewGuid())
            let counterKeys = Array.init p.Counters (fun _ -> Guid.NewGuid().ToString "N")
            let expected = runPlan reference p accountKeys counterKeys
            let actual = runPlan other p accountKeys counterKeys
            for (n, (job, (a, e))) in List.indexed (List.zip p.Jobs (List.zip actual.Outcomes expected.Outcomes)) do
                Expect.equal a e (sprintf "job %d %A has the same outcome" n job)
            for ((agg, a), (_, e)) in List.zip actual.Logs expected.Logs do
                Expect.equal a e (sprintf "%s has the same events, payloads and chain" agg)
            Expect.equal actual.Order expected.Order "the global log lists the same events in the same order"
            for ((table, a), (_, e)) in List.zip actual.Rows expected.Rows do
                Expect.equal a e (sprintf "table %s holds the same rows" table))

/// The agreement properties of `other` against `reference`.
let tests (reference: Fixture) (other: Fixture) = [ agree reference other ]
