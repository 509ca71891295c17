// Ids of emits with several events: the first is taken with the row lock, later ones by the INSERT that records
// them. Whatever the mix of events with and without handlers, and with nested emits from handlers, the
// emitted events are the logged ones, chains hold, ids grow along each chain and handlers saw the real ids.
module Fable.Tests.PgIdTests

open System
open System.Threading
open Expecto
open FsCheck.FSharp
open Fable.FSharp
open Fable.Tests.PgDomain

let private ct = CancellationToken.None

/// A Boom event (its handler emits one deposit to the `other` account) is a nested emit between the events.
let private nestedRouter (other: AggregateKey ref) =
    Router.empty
    |> Router.route<Boom> [
        Router.handler<Boom> "deposit-elsewhere" (fun args _ -> task {
            let! r = args.Uow.Emit(accounts, other.Value, Expected.Any, deposit [ 1L ], args.CancellationToken)
            return Result.map ignore r }) ]

/// An event: a deposit (no handler), a note (its handler writes a row) or a boom (its handler emits elsewhere).
let private eventGen =
    Gen.frequency [
        4, Gen.choose (1, 9) |> Gen.map (fun a -> box { Amount = int64 a })
        2, Gen.elements [ "a"; "b" ] |> Gen.map (fun n -> box { Note = n })
        1, Gen.constant (box { Reason = "nested" }) ]

let tests =
    testList "ids" [
        testTask "emits of several events, with and without handlers, log exactly what they return, with ids growing along each chain" {
            let other = ref (AggregateKey.Uuid(Guid.NewGuid()))
            let rt = runtimeWith (nestedRouter other)
            do! PgEnv.using rt tables (fun env -> task {
                let check (emits: obj list list) =
                    let key = AggregateKey.Uuid(Guid.NewGuid())
                    other.Value <- AggregateKey.Uuid(Guid.NewGuid())
                    let emitted =
                        [ for events in emits ->
                              let r = (emit env.Interpreter accounts key Expected.Any (always events)).GetAwaiter().GetResult()
                              (ok "emit" r).Events ]
                        |> List.concat
                    let log = (checkChain env.Interpreter accounts key).GetAwaiter().GetResult()
                    Expect.equal log emitted "the log is exactly the emitted events"
                    Expect.isTrue (log |> List.pairwise |> List.forall (fun (a, b) -> a.Id < b.Id)) "ids grow along the chain"
                    let notes = env.Rows("notes").GetAwaiter().GetResult()
                    let noted = set [ for e in log do if e.TypeName = "noted" then yield string e.Id ]
                    let written = set [ for r in notes do if string r["account"] = string key then yield string r["id"] ]
                    Expect.equal written noted "each note row is keyed by its event's real id"
                    let booms = log |> List.filter (fun e -> e.TypeName = "boom") |> List.length
                    let nested = (checkChain env.Interpreter accounts other.Value).GetAwaiter().GetResult()
                    Expect.equal nested.Length booms "one nested deposit per boom, on its own chain"
                let gen = Gen.listOfLength 2 (Gen.choose (1, 8) |> Gen.bind (fun n -> Gen.listOfLength n eventGen))
                FsCheck.Check.One(FsCheck.Config.QuickThrowOnFailure.WithMaxTest 40, Prop.forAll (Arb.fromGen gen) check)
            })
        }
    ]
