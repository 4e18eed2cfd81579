"""The metadata threshold as a pure state machine: (state, event) -> (new state, actions).

Rules (the seed's "evolutionary metadata"):
- every exchange (customer message + bot reply) adds 2 to the counter;
- the first exchange of a conversation also writes its title;
- when the counter reaches 6 (every third exchange) the metadata is distilled from the messages
  since the last distillation, and the counter drops by the number of messages distilled
  (to 0 when nothing raced in between);
- a failed distillation keeps the counter, so the next exchange tries again.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

MESSAGES_PER_EXCHANGE = 2
DISTIL_AT = 6


class Action(StrEnum):
    WRITE_TITLE = "write_title"
    DISTIL_METADATA = "distil_metadata"


class ContextState(msgspec.Struct, frozen=True, kw_only=True):
    """Where a conversation stands: its counter and how many exchanges it has had."""

    counter: int = 0
    exchanges: int = 0


class ExchangeCompleted(msgspec.Struct, frozen=True, kw_only=True):
    """A customer message and its reply were stored."""


class MetadataDistilled(msgspec.Struct, frozen=True, kw_only=True):
    """Metadata now covers ``covered_messages`` more messages."""

    covered_messages: int


class DistillationFailed(msgspec.Struct, frozen=True, kw_only=True):
    """The LLM could not produce valid metadata; the old metadata stays."""


Event = ExchangeCompleted | MetadataDistilled | DistillationFailed


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    state: ContextState
    actions: frozenset[Action] = frozenset()


def advance(state: ContextState, event: Event) -> Transition:
    """Apply one event. Pure: no I/O, no clock, the same inputs always give the same result."""
    match event:
        case ExchangeCompleted():
            counter = state.counter + MESSAGES_PER_EXCHANGE
            actions: set[Action] = set()
            if state.exchanges == 0:
                actions.add(Action.WRITE_TITLE)
            after = ContextState(counter=counter, exchanges=state.exchanges + 1)
            if is_due(after):
                actions.add(Action.DISTIL_METADATA)
            return Transition(state=after, actions=frozenset(actions))
        case MetadataDistilled(covered_messages=covered):
            if covered < 0:
                raise ValueError("covered_messages cannot be negative")
            return Transition(
                state=ContextState(
                    counter=max(0, state.counter - covered), exchanges=state.exchanges
                )
            )
        case DistillationFailed():
            return Transition(state=state)


def is_due(state: ContextState) -> bool:
    """Whether the metadata is due to be distilled: the counter reached the threshold (and stays
    there until a distillation lands, so a failed or interrupted one is retried)."""
    return state.counter >= DISTIL_AT
