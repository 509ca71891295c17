// Rules of reading the global log as a follower, shared by both interpreters: the page bounds of ReadAll and the
// position a process manager's StartAt denotes.
namespace Fable.FSharp

open System.Threading.Tasks

/// Followers' rules.
module internal Following =
    /// ReadAll's page size must be 1 or more: a smaller one is the caller's mistake, not an empty page.
    let checkPage (max: int) : Result<unit, FableError> =
        if max < 1 then Error(InvalidDefinition [ sprintf "ReadAll needs max of 1 or more, got %d" max ]) else Ok()

    /// The checkpoint `start` denotes: before every event, after the last event followers can see now (`head`,
    /// read only for Head), or after the given position (which must not be negative).
    let startPosition (head: unit -> Task<Result<LogPosition, FableError>>) (start: StartAt) : Task<Result<LogPosition, FableError>> =
        match start with
        | StartAt.Origin -> Task.FromResult(Ok LogPosition.Origin)
        | StartAt.After p when p.Tx < 0L || p.Id < 0L ->
            Task.FromResult(Error(InvalidDefinition [ sprintf "a process manager cannot start after position %O: positions are not negative" p ]))
        | StartAt.After p -> Task.FromResult(Ok p)
        | StartAt.Head -> head ()
