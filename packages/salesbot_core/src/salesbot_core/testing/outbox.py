"""The outbox in memory: events and their deliveries in an ``InMemoryStore``'s state, so they
commit and roll back with the change that wrote them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from salesbot_core.domain import ConversationCursor
from salesbot_core.ports.outbox import PostResult
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
)

replace = msgspec.structs.replace


class StoredDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery row as the memory store keeps it."""

    id: UUID
    event_id: UUID
    url: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    claim: UUID | None = None
    next_attempt_at: datetime
    queued_at: datetime
    last_error: str | None = None
    last_status: int | None = None
    delivered_at: datetime | None = None
    created_at: datetime


class OutboxState(msgspec.Struct, kw_only=True):
    events: dict[UUID, OutboxEvent] = msgspec.field(default_factory=dict)
    deliveries: dict[UUID, StoredDelivery] = msgspec.field(default_factory=dict)

    def copy(self) -> OutboxState:
        return OutboxState(events=dict(self.events), deliveries=dict(self.deliveries))


class MemoryOutbox:
    def __init__(self, state: OutboxState, urls: Sequence[str]) -> None:
        self._state = state
        self._urls = tuple(urls)

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        if not self._urls:
            return
        for event in events:
            event_id = uuid.uuid4()
            self._state.events[event_id] = event
            for url in self._urls:
                delivery = StoredDelivery(
                    id=uuid.uuid4(),
                    event_id=event_id,
                    url=url,
                    next_attempt_at=event.occurred_at,
                    queued_at=event.occurred_at,
                    created_at=event.occurred_at,
                )
                self._state.deliveries[delivery.id] = delivery


class MemoryWebhookDeliveries:
    def __init__(self, state: OutboxState) -> None:
        self._state = state

    async def claim(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> Sequence[ClaimedDelivery]:
        due = sorted(
            (
                d
                for d in self._state.deliveries.values()
                if d.status is DeliveryStatus.PENDING and d.next_attempt_at <= now
            ),
            key=lambda d: d.next_attempt_at,
        )[:limit]
        claimed = []
        for delivery in due:
            claim = uuid.uuid4()
            leased = replace(
                delivery, attempts=delivery.attempts + 1, claim=claim, next_attempt_at=lease_until
            )
            self._state.deliveries[leased.id] = leased
            claimed.append(
                ClaimedDelivery(
                    id=leased.id,
                    claim=claim,
                    event_id=leased.event_id,
                    url=leased.url,
                    attempts=leased.attempts,
                    queued_at=leased.queued_at,
                    event=self._state.events[leased.event_id],
                )
            )
        return claimed

    def _claimed(self, delivery_id: UUID, claim: UUID) -> StoredDelivery | None:
        found = self._state.deliveries.get(delivery_id)
        if found is None or found.claim != claim or found.status is not DeliveryStatus.PENDING:
            return None
        return found

    async def record(self, outcomes: Sequence[DeliveryOutcome]) -> set[UUID]:
        kept: set[UUID] = set()
        for outcome in outcomes:
            found = self._claimed(outcome.id, outcome.claim)
            if found is None:
                continue
            self._state.deliveries[outcome.id] = replace(
                found,
                status=outcome.becomes,
                delivered_at=outcome.delivered_at or found.delivered_at,
                next_attempt_at=outcome.next_attempt_at or found.next_attempt_at,
                last_status=outcome.status,
                last_error=outcome.error,
                claim=None,
            )
            kept.add(outcome.id)
        return kept

    async def page(
        self, *, limit: int, after: ConversationCursor | None, status: DeliveryStatus | None
    ) -> Sequence[WebhookDelivery]:
        rows = sorted(
            (d for d in self._state.deliveries.values() if status is None or d.status is status),
            key=lambda d: (d.created_at, d.id),
            reverse=True,
        )
        if after is not None:
            rows = [d for d in rows if (d.created_at, d.id) < (after.updated_at, after.id)]
        return [self._public(d) for d in rows[:limit]]

    def _public(self, d: StoredDelivery) -> WebhookDelivery:
        return WebhookDelivery(
            id=d.id,
            event_id=d.event_id,
            event_type=self._state.events[d.event_id].type,
            url=d.url,
            status=d.status,
            attempts=d.attempts,
            last_error=d.last_error,
            last_status=d.last_status,
            next_attempt_at=d.next_attempt_at if d.status is DeliveryStatus.PENDING else None,
            delivered_at=d.delivered_at,
            created_at=d.created_at,
        )

    async def requeue(self, delivery_id: UUID, now: datetime) -> bool:
        found = self._state.deliveries.get(delivery_id)
        if found is None or found.status is DeliveryStatus.PENDING:
            return False
        self._state.deliveries[delivery_id] = self._fresh(found, now)
        return True

    async def requeue_dead(self, now: datetime) -> int:
        dead = [d for d in self._state.deliveries.values() if d.status is DeliveryStatus.DEAD]
        for delivery in dead:
            self._state.deliveries[delivery.id] = self._fresh(delivery, now)
        return len(dead)

    @staticmethod
    def _fresh(delivery: StoredDelivery, now: datetime) -> StoredDelivery:
        return replace(
            delivery,
            status=DeliveryStatus.PENDING,
            attempts=0,
            claim=None,
            next_attempt_at=now,
            queued_at=now,
            delivered_at=None,
        )


class RecordingPoster:
    """A ``WebhookPoster`` that records each POST and answers from ``answers`` (statuses, or
    None for "no answer"), then 200 once they run out."""

    def __init__(self, answers: Sequence[int | None] = ()) -> None:
        self.answers = list(answers)
        self.posts: list[tuple[str, bytes, dict[str, str]]] = []

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> PostResult:
        self.posts.append((url, body, dict(headers)))
        status = self.answers.pop(0) if self.answers else 200
        if status is None:
            return PostResult(error="timed out")
        return PostResult(status=status)
