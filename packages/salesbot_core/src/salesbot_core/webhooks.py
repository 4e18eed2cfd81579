"""Webhooks: which events a change causes (a pure rule), how a failed delivery backs off, and
how a delivery is signed. The stores write the events in the change's own transaction (the
outbox); the server's workers deliver them (``usecases.webhooks``)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, SaleStatus, User
from salesbot_core.exchange import DistillationWrite, ExchangeWrite

SIGNATURE_PREFIX = "sha256="


class EventType(StrEnum):
    CONVERSATION_CREATED = "conversation.created"
    LEAD_STATUS_CHANGED = "lead.status_changed"
    LEAD_HOT = "lead.hot"
    LEAD_CLOSED = "lead.closed"
    LEAD_LOST = "lead.lost"


# Entering one of these statuses is an event of its own, beside ``lead.status_changed``.
_ENTERED: dict[SaleStatus, EventType] = {
    SaleStatus.NEGOTIATING: EventType.LEAD_HOT,
    SaleStatus.CLOSED: EventType.LEAD_CLOSED,
    SaleStatus.LOST: EventType.LEAD_LOST,
}


class OutboxEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event as the outbox stores it: its type and its JSON payload (camelCase)."""

    type: EventType
    data: dict[str, Any]
    occurred_at: datetime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one URL: what the admin list shows."""

    id: UUID
    event_id: UUID
    event_type: EventType
    url: str
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    last_status: int | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class ClaimedDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery a worker leased: ``claim`` names this lease (an outcome is recorded only
    under it), ``attempts`` counts this one, ``queued_at`` starts the retry window."""

    id: UUID
    claim: UUID
    event_id: UUID
    url: str
    attempts: int
    queued_at: datetime
    event: OutboxEvent


class DeliveryOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt of a claimed delivery came to, as a store records it under its claim:
    the status the delivery ``becomes``, the receiver's HTTP ``status`` if it answered, a
    failure's ``error``, and when it is due again (``next_attempt_at``, a pending one's) or was
    delivered (``delivered_at``). Made by ``succeeded`` or ``failed``, which hold the rule (a
    failure with no retry left is dead); a store writes the fields as they are."""

    id: UUID
    claim: UUID
    becomes: DeliveryStatus
    status: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def delivered(self) -> bool:
        return self.becomes is DeliveryStatus.DELIVERED

    @classmethod
    def succeeded(
        cls, delivery_id: UUID, claim: UUID, *, status: int, at: datetime
    ) -> DeliveryOutcome:
        """Delivered ``at``, the receiver having answered ``status`` (a 2xx)."""
        return cls(
            id=delivery_id,
            claim=claim,
            becomes=DeliveryStatus.DELIVERED,
            status=status,
            delivered_at=at,
        )

    @classmethod
    def failed(
        cls,
        delivery_id: UUID,
        claim: UUID,
        *,
        error: str,
        retry_at: datetime | None,
        status: int | None = None,
    ) -> DeliveryOutcome:
        """Failed with ``error`` (and ``status`` if the receiver answered): due again at
        ``retry_at``, or dead when there is none."""
        return cls(
            id=delivery_id,
            claim=claim,
            becomes=DeliveryStatus.DEAD if retry_at is None else DeliveryStatus.PENDING,
            status=status,
            error=error,
            next_attempt_at=retry_at,
        )


def _customer(user: User | None, user_id: UUID) -> dict[str, Any]:
    if user is None:
        return {"id": str(user_id), "name": None, "email": None, "phone": None}
    return {"id": str(user.id), "name": user.name, "email": user.email, "phone": user.phone}


def exchange_events(write: ExchangeWrite) -> tuple[OutboxEvent, ...]:
    """The events an exchange causes: ``conversation.created`` when it creates the conversation."""
    if write.expected_version is not None:
        return ()
    conversation = write.conversation
    return (
        OutboxEvent(
            type=EventType.CONVERSATION_CREATED,
            data={
                "conversation": {
                    "id": str(conversation.id),
                    "title": conversation.title,
                    "createdAt": conversation.created_at.isoformat(),
                },
                "customer": {"id": str(conversation.user_id)},
            },
            occurred_at=write.user_message.created_at,
        ),
    )


def moves_status(before: Conversation, write: DistillationWrite) -> bool:
    """Whether the distillation moves the sale status (no metadata yet counts as exploring)."""
    return before.sale_status != write.conversation.sale_status


def distillation_events(
    before: Conversation, write: DistillationWrite, customer: User | None
) -> tuple[OutboxEvent, ...]:
    """The events a distillation causes: ``lead.status_changed`` when it moves the sale status,
    and ``lead.hot``/``lead.closed``/``lead.lost`` when it enters negotiating/closed/lost; all
    carry the same payload."""
    if not moves_status(before, write):
        return ()
    after = write.conversation
    data = {
        "from": str(before.sale_status),
        "to": str(after.sale_status),
        "metadata": msgspec.to_builtins(after.metadata),
        "customer": _customer(customer, after.user_id),
        "conversation": {"id": str(after.id), "title": after.title},
    }
    types = [EventType.LEAD_STATUS_CHANGED]
    if after.sale_status in _ENTERED:
        types.append(_ENTERED[after.sale_status])
    # When the distillation happened, as its history row says: the two can be matched.
    when = write.record.distilled_at
    return tuple(OutboxEvent(type=t, data=data, occurred_at=when) for t in types)


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Exponential backoff: ``base_s`` after the first failure, doubling, at most ``max_delay_s``
    between attempts; a delivery not done ``give_up_after`` after it was queued is dead."""

    base_s: float = 5.0
    max_delay_s: float = 3600.0
    give_up_after: timedelta = timedelta(hours=24)


def retry_at(
    policy: RetryPolicy, *, attempts: int, queued_at: datetime, now: datetime
) -> datetime | None:
    """When a delivery that failed its ``attempts``-th attempt is tried again; None: it is dead."""
    exponent = min(max(attempts - 1, 0), 62)
    delay = min(policy.base_s * 2.0**exponent, policy.max_delay_s)
    when = now + timedelta(seconds=delay)
    if when - queued_at > policy.give_up_after:
        return None
    return when


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Salesbot-Signature`` of a delivery: HMAC-SHA256 of ``timestamp.body``, in hex."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether ``signature`` is the signature of ``timestamp.body`` (constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)
