// Reading ahead: while a batch is handled and committed, the batch after its last event is read and decoded on a
// pooled connection, so a catch-up overlaps reading and decoding with handling and the commit's flush. A read
// ahead is only a read below the horizon after a position; a step uses it only when the locked row's checkpoint
// is that position. Also the batch item (an event and what its handler receives).
namespace Fable.Postgres

open System
open System.Threading
open System.Threading.Tasks
open Npgsql
open Fable

/// An event of a batch with what its handler receives.
type internal PmItem =
    { Event: RecordedEvent
      /// The decoded event (Event = None for a type the codec does not know), or the decoding error (an
      /// unreadable payload goes through the error policy).
      Incoming: Result<Incoming, FableError> }

/// Batch items.
module internal PmItem =
    /// `e` decoded with `codec`.
    let decode (codec: IEventCodec) (e: RecordedEvent) =
        { Event = e
          Incoming =
            match codec.Decode(e.TypeName, e.TypeVersion, e.Data) with
            | Ok o -> Ok { Recorded = e; Event = Some o }
            | Error(UnknownEventType _) -> Ok { Recorded = e; Event = None }
            | Error err -> Error err }

/// The next batch of one process manager, read and decoded ahead. Used by one runner (or catch-up) at a time.
type internal PmAhead(store: PostgresStore) =
    let events = Events.context store.Runtime store.Options
    let codec = (store :> IInterpreter).Codec
    let mutable pending: (Position * Task<Result<PmItem[], FableError>>) option = None

    /// Up to `max` events after `after` below the horizon, in (tx, id) order, decoded; never throws.
    let read (after: Position) (max: int) (ct: CancellationToken) : Task<Result<PmItem[], FableError>> =
        task {
            try
                use! conn = store.DataSource.OpenConnectionAsync ct
                let sql, ps = Events.readAll events after max
                use cmd = new NpgsqlCommand(sql, conn)
                for p in ps do
                    cmd.Parameters.Add p |> ignore
                use! reader = cmd.ExecuteReaderAsync ct
                let acc = Collections.Generic.List<PmItem>(max)
                let mutable failure = None
                let mutable go = true
                while go do
                    let! has = reader.ReadAsync ct
                    if not has then
                        go <- false
                    else
                        match Events.ofReader reader with
                        | Ok e -> acc.Add(PmItem.decode codec e)
                        | Error e ->
                            failure <- Some e
                            go <- false
                return
                    match failure with
                    | Some e -> Error e
                    | None -> Ok(acc.ToArray())
            with e ->
                return Error(PgErrors.ofExn None ct e)
        }

    /// Starts reading the batch after `after` (replacing a read not taken).
    member _.Start(after: Position, max: int, ct: CancellationToken) = pending <- Some(after, read after max ct)

    /// Forgets the read in progress (it completes on its own and returns its connection).
    member _.Clear() = pending <- None

    /// Waits for a read in progress and forgets it: nothing is left running on the way out of a runner or a
    /// catch-up.
    member this.Drain() : Task =
        task {
            let! _ = this.Take()
            ()
        }

    /// Takes the read started: its position and events (empty when it found none or failed: the step then reads
    /// on its own connection, which reports a failure). None when no read was started.
    member _.Take() : Task<(Position * PmItem[]) option> =
        task {
            match pending with
            | None -> return None
            | Some(after, t) ->
                pending <- None
                match! t with
                | Ok es -> return Some(after, es)
                | Error _ -> return Some(after, [||])
        }
