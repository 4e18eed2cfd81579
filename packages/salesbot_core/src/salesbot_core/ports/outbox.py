"""The outbox: events written in the transaction of the change that causes them, and their
deliveries (one per event and webhook URL), claimed by the server's workers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import msgspec

from salesbot_core.domain import ConversationCursor
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
)


class Outbox(Protocol):
    async def add(self, events: Sequence[OutboxEvent]) -> None:
        """Store ``events`` in this unit of work, with one pending delivery per configured
        webhook URL (none configured: nothing is stored). Committed with the change, or gone
        with it."""
        ...


class WebhookDeliveries(Protocol):
    async def claim(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> Sequence[ClaimedDelivery]:
        """Up to ``limit`` pending deliveries due at ``now``, each counted as an attempt and
        leased until ``lease_until`` (due again then, if no outcome is recorded); deliveries
        another worker is claiming are skipped, never waited for."""
        ...

    async def record(self, outcomes: Sequence[DeliveryOutcome]) -> set[UUID]:
        """Record a batch's outcomes at once, each under its claim and as it says (its status,
        the receiver's answer, the next attempt's or the delivery's time, each kept as it was
        when the outcome has none). Returns the ids recorded; an outcome whose lease was lost
        (claimed again) changes nothing."""
        ...

    async def page(
        self, *, limit: int, after: ConversationCursor | None, status: DeliveryStatus | None
    ) -> Sequence[WebhookDelivery]:
        """Deliveries newest first (ties by id, descending), strictly after ``after``."""
        ...

    async def requeue(self, delivery_id: UUID, now: datetime) -> bool:
        """Queue a delivery again (attempts from 0, a fresh retry window); False if unknown
        or already pending."""
        ...

    async def requeue_dead(self, now: datetime) -> int:
        """Queue every dead delivery again; how many."""
        ...


class PostResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a receiver answered: its status, or why there was no answer."""

    status: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebhookPoster(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        """POST ``body`` to ``url``; never raises for a receiver's failure (timeouts, refused
        connections and non-2xx answers are results)."""
        ...
