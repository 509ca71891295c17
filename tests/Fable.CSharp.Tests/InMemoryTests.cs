// Every scenario on the in-memory interpreter.
using Fable.CSharp;
using Xunit;

namespace FacadeTests;

public sealed class InMemoryTests
{
    private readonly IHarness h = new InMemoryHarness();

    [Fact] public Task Emit_then_Bind_chains_decisions_on_each_new_state() => Scenarios.Emit_then_Bind_chains_decisions_on_each_new_state(h);
    [Fact] public Task Keys_of_all_three_kinds_are_typed_through_emit_load_log_and_replay() => Scenarios.Keys_of_all_three_kinds_are_typed_through_emit_load_log_and_replay(h);
    [Fact] public Task An_emit_returns_the_events_it_recorded_and_a_read_returns_none() => Scenarios.An_emit_returns_the_events_it_recorded_and_a_read_returns_none(h);
    [Fact] public Task A_Bind_chain_stops_at_the_first_error() => Scenarios.A_Bind_chain_stops_at_the_first_error(h);
    [Fact] public Task A_rejection_returns_the_callers_own_error() => Scenarios.A_rejection_returns_the_callers_own_error(h);
    [Fact] public Task Metadata_given_with_an_event_is_recorded_with_it_and_bad_metadata_records_nothing() => Scenarios.Metadata_given_with_an_event_is_recorded_with_it_and_bad_metadata_records_nothing(h);
    [Fact] public Task A_lone_surrogate_is_refused_with_any_json_options_and_texts_come_back_in_jsonb_form() => Scenarios.A_lone_surrogate_is_refused_with_any_json_options_and_texts_come_back_in_jsonb_form(h);
    [Fact] public Task An_emit_with_a_stale_snapshot_is_a_Conflict() => Scenarios.An_emit_with_a_stale_snapshot_is_a_Conflict(h);
    [Fact] public Task An_unregistered_event_type_is_UnknownEventType_and_records_nothing() => Scenarios.An_unregistered_event_type_is_UnknownEventType_and_records_nothing(h);
    [Fact] public Task An_event_type_without_a_route_is_NoRoute() => Scenarios.An_event_type_without_a_route_is_NoRoute(h);
    [Fact] public Task A_failing_handler_leaves_no_event_no_row_and_no_handler_write() => Scenarios.A_failing_handler_leaves_no_event_no_row_and_no_handler_write(h);
    [Fact] public Task A_decision_reads_tables_inside_the_transaction() => Scenarios.A_decision_reads_tables_inside_the_transaction(h);
    [Fact] public Task An_exception_in_a_decision_is_HandlerFailed_and_records_nothing() => Scenarios.An_exception_in_a_decision_is_HandlerFailed_and_records_nothing(h);
    [Fact] public Task A_cancelled_emit_is_Cancelled_and_records_nothing() => Scenarios.A_cancelled_emit_is_Cancelled_and_records_nothing(h);
    [Fact] public Task Get_of_a_missing_aggregate_is_NotFound() => Scenarios.Get_of_a_missing_aggregate_is_NotFound(h);
    [Fact] public Task A_null_decision_snapshot_or_event_list_is_InvalidDefinition() => Scenarios.A_null_decision_snapshot_or_event_list_is_InvalidDefinition(h);
    [Fact] public Task Replay_rebuilds_the_same_row() => Scenarios.Replay_rebuilds_the_same_row(h);
    [Fact] public Task A_unit_of_work_commits_every_emit_and_write_together() => Scenarios.A_unit_of_work_commits_every_emit_and_write_together(h);
    [Fact] public Task A_unit_of_work_that_fails_late_commits_nothing() => Scenarios.A_unit_of_work_that_fails_late_commits_nothing(h);
    [Fact] public Task A_process_manager_catches_up_with_every_committed_event() => Scenarios.A_process_manager_catches_up_with_every_committed_event(h);
    [Fact] public Task Decode_reads_a_recorded_event_back_as_its_CLR_type() => Scenarios.Decode_reads_a_recorded_event_back_as_its_CLR_type(h);
    [Fact] public Task Concurrent_emits_on_one_aggregate_are_serial_and_lose_nothing() => Scenarios.Concurrent_emits_on_one_aggregate_are_serial_and_lose_nothing(h);
    [Fact] public Task Process_managers_are_disabled_enabled_reset_and_rebuilt_at_runtime() => Scenarios.Process_managers_are_disabled_enabled_reset_and_rebuilt_at_runtime(h);
    [Fact] public Task A_failing_process_manager_with_the_Stop_policy_is_disabled_and_keeps_its_error() => Scenarios.A_failing_process_manager_with_the_Stop_policy_is_disabled_and_keeps_its_error(h);
    [Fact] public Task Started_runners_handle_new_events_and_stop() => Scenarios.Started_runners_handle_new_events_and_stop(h);

    [Fact]
    public async Task The_in_memory_clock_stamps_recorded_events()
    {
        var at = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await using var app = await Expect.Right(Accounts.Register(FableBuilder.Create()).UseInMemory(clock: () => at).Build());
        var id = Guid.NewGuid();
        await Expect.Right(app.Emit(Accounts.Type, id, a => Accounts.Open(a, "ada")));
        Assert.Equal(at, Assert.Single(await Expect.Right(app.Log(Accounts.Type, id))).InsertedAt);
    }
}
