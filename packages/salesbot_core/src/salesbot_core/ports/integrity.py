"""The stored invariants salesbot keeps, and the port that finds where they are broken."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

import msgspec


class Invariant(StrEnum):
    """What must hold for every stored row, whatever crashed or raced."""

    # A conversation's message_count equals the messages it has.
    MESSAGE_COUNT = "message-count"
    # Its messages are numbered 1..n without a gap or a repeat.
    CONTIGUOUS_SEQUENCE = "contiguous-sequence"
    # Every customer message has its reply: the customer at odd seq, the bot at even seq,
    # and the last message is a reply.
    EVERY_MESSAGE_ANSWERED = "every-message-answered"
    # The counter equals the messages since the last distillation:
    # messages_since_context_update = message_count - distilled_through.
    COUNTER = "counter"
    # A refresh-token family (a session) has at most one live token.
    ONE_LIVE_TOKEN_PER_FAMILY = "one-live-token-per-family"  # noqa: S105 - a name, not a secret
    # Every outbox event belongs to a committed change (only where an outbox is stored).
    OUTBOX_EVENT_COMMITTED = "outbox-event-committed"


class Violation(msgspec.Struct, frozen=True, kw_only=True):
    """One place an invariant does not hold: ``subject`` names the row (a conversation's or a
    family's id), ``detail`` says what was found."""

    invariant: Invariant
    subject: str
    detail: str


class IntegrityChecker(Protocol):
    async def can_check(self, invariant: Invariant) -> bool:
        """False when this store keeps nothing the invariant is about (no such table)."""
        ...

    async def violations(self, invariant: Invariant) -> Sequence[Violation]:
        """Every violation of ``invariant``, in a stable order; one consistent read."""
        ...
