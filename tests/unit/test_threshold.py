"""The metadata threshold state machine: counter +2 per exchange, title once, distil at 6."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from salesbot_core.threshold import (
    DISTIL_AT,
    Action,
    ContextState,
    DistillationFailed,
    ExchangeCompleted,
    MetadataDistilled,
    advance,
)


def test_first_exchange_writes_the_title_and_counts_two() -> None:
    step = advance(ContextState(), ExchangeCompleted())
    assert step.state == ContextState(counter=2, exchanges=1)
    assert step.actions == frozenset({Action.WRITE_TITLE})


def test_seed_walkthrough_of_six_exchanges() -> None:
    state = ContextState()
    seen: list[tuple[int, frozenset[Action]]] = []
    for _ in range(6):
        step = advance(state, ExchangeCompleted())
        seen.append((step.state.counter, step.actions))
        state = step.state
        if Action.DISTIL_METADATA in step.actions:
            state = advance(state, MetadataDistilled(covered_messages=6)).state
            assert state.counter == 0
    assert [counter for counter, _ in seen] == [2, 4, 6, 2, 4, 6]
    distils = [Action.DISTIL_METADATA in actions for _, actions in seen]
    assert distils == [False, False, True] * 2
    titles = [Action.WRITE_TITLE in actions for _, actions in seen]
    assert titles == [True] + [False] * 5


def test_failed_distillation_keeps_the_counter_so_the_next_exchange_retries() -> None:
    state = ContextState(counter=6, exchanges=3)
    assert advance(state, DistillationFailed()).state == state
    step = advance(state, ExchangeCompleted())
    assert step.state.counter == 8
    assert Action.DISTIL_METADATA in step.actions


@given(st.lists(st.booleans(), max_size=60))
def test_any_run_distils_exactly_once_every_three_exchanges_when_distillation_works(
    outcomes: list[bool],
) -> None:
    """Whatever distillations fail, the counter never exceeds 6 + 2 * failures in a row, and
    with no failure distillation happens on exchanges 3, 6, 9, ..."""
    state = ContextState()
    failures_in_a_row = 0
    distilled_on: list[int] = []
    for number, succeeds in enumerate(outcomes, start=1):
        step = advance(state, ExchangeCompleted())
        assert step.state.counter == state.counter + 2
        assert step.state.exchanges == number
        assert (Action.WRITE_TITLE in step.actions) == (number == 1)
        assert (Action.DISTIL_METADATA in step.actions) == (step.state.counter >= DISTIL_AT)
        state = step.state
        if Action.DISTIL_METADATA in step.actions:
            if succeeds:
                state = advance(state, MetadataDistilled(covered_messages=state.counter)).state
                distilled_on.append(number)
                failures_in_a_row = 0
            else:
                state = advance(state, DistillationFailed()).state
                failures_in_a_row += 1
        assert 0 <= state.counter <= DISTIL_AT + 2 * failures_in_a_row
    if all(outcomes):
        assert distilled_on == list(range(3, len(outcomes) + 1, 3))
