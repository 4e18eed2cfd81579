"""Webhook delivery: the workers that send the outbox's events to the shop's receivers, the
admin's list of deliveries, and re-queueing them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from salesbot_core.domain import ConversationCursor, Role
from salesbot_core.errors import DeliveryNotFound, Forbidden
from salesbot_core.paging import PageLimits
from salesbot_core.ports import Clock, PostResult, UnitOfWorkFactory, WebhookPoster
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    RetryPolicy,
    WebhookDelivery,
    retry_at,
    sign,
)

logger = logging.getLogger(__name__)

# A receiver's error text is kept for the admin list, this long at most.
MAX_ERROR_CHARS = 500


class DeliveryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """``batch`` deliveries claimed at a time, ``concurrency`` POSTs in flight; a claim is leased
    for ``lease_s`` (longer than a POST may take), after which a worker that died holding it
    has its deliveries claimed again."""

    batch: int = 50
    concurrency: int = 10
    lease_s: float = 60.0
    retry: RetryPolicy = RetryPolicy()


def body_of(delivery: ClaimedDelivery) -> bytes:
    """The JSON a receiver gets for ``delivery``."""
    event = delivery.event
    return msgspec.json.encode(
        {
            "id": str(delivery.id),
            "eventId": str(delivery.event_id),
            "type": event.type.value,
            "occurredAt": event.occurred_at.isoformat(),
            "data": event.data,
        }
    )


def headers_of(
    delivery: ClaimedDelivery, secret: bytes, timestamp: str, body: bytes
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Salesbot-Event": delivery.event.type.value,
        "X-Salesbot-Delivery": str(delivery.id),
        "X-Salesbot-Timestamp": timestamp,
        "X-Salesbot-Signature": sign(secret, timestamp, body),
    }


class DeliverWebhooks:
    """Deliver the outbox's due events, at least once.

    Rules:
    - one delivery per event and URL: a failing receiver never holds up another;
    - deliveries are claimed (leased, counted as an attempt) and that claim committed before any
      POST, so no transaction is held across one; workers on other instances skip claimed rows;
      a worker killed mid-delivery leaves its claims to be claimed again when the lease ends;
    - a 2xx answer is success; anything else (another status, a timeout, no connection) is
      retried with exponential backoff (``RetryPolicy``) and is dead once the window has passed;
    - a batch's outcomes are recorded together, in one write, once its last POST is done (a
      worker killed before that leaves the whole batch to be posted again: at least once);
    - every POST is signed: ``X-Salesbot-Signature`` is HMAC-SHA256 of ``timestamp.body``.
    Returns how many were delivered; claims batches until fewer than a batch are due.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        poster: WebhookPoster,
        clock: Clock,
        secret: str,
        policy: DeliveryPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._poster = poster
        self._clock = clock
        self._secret = secret.encode()
        self.policy = policy or DeliveryPolicy()
        self._slots = asyncio.Semaphore(self.policy.concurrency)

    async def __call__(self) -> int:
        delivered = 0
        while True:
            claimed = await self._claim()
            if not claimed:
                return delivered
            results = await asyncio.gather(*(self._post(d) for d in claimed))
            outcomes = await self._record(claimed, results)
            delivered += sum(outcome.delivered for outcome in outcomes)
            if len(claimed) < self.policy.batch:
                return delivered

    async def _claim(self) -> Sequence[ClaimedDelivery]:
        now = self._clock.now()
        async with self._uow() as uow:
            claimed = await uow.webhook_deliveries.claim(
                now=now,
                lease_until=now + timedelta(seconds=self.policy.lease_s),
                limit=self.policy.batch,
            )
            await uow.commit()
        return claimed

    async def _post(self, delivery: ClaimedDelivery) -> PostResult:
        body = body_of(delivery)
        async with self._slots:
            timestamp = str(int(self._clock.now().timestamp()))
            return await self._poster.post(
                delivery.url, body, headers_of(delivery, self._secret, timestamp, body)
            )

    def _outcome(
        self, delivery: ClaimedDelivery, result: PostResult, now: datetime
    ) -> DeliveryOutcome:
        if result.succeeded and result.status is not None:
            return DeliveryOutcome.succeeded(
                delivery.id, delivery.claim, status=result.status, at=now
            )
        error = result.error or f"the receiver answered {result.status}"
        when = retry_at(
            self.policy.retry, attempts=delivery.attempts, queued_at=delivery.queued_at, now=now
        )
        if when is None:
            logger.warning(
                "webhook delivery %s to %s is dead: %s", delivery.id, delivery.url, error
            )
        return DeliveryOutcome.failed(
            delivery.id,
            delivery.claim,
            status=result.status,
            error=error[:MAX_ERROR_CHARS],
            retry_at=when,
        )

    async def _record(
        self, claimed: Sequence[ClaimedDelivery], results: Sequence[PostResult]
    ) -> list[DeliveryOutcome]:
        now = self._clock.now()
        outcomes = [self._outcome(d, r, now) for d, r in zip(claimed, results, strict=True)]
        async with self._uow() as uow:
            kept = await uow.webhook_deliveries.record(outcomes)
            await uow.commit()
        for outcome in outcomes:
            if outcome.id not in kept:
                logger.info("webhook delivery %s was claimed again meanwhile", outcome.id)
        return outcomes


class DeliveryPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[WebhookDelivery, ...]
    next: ConversationCursor | None = None


class ListWebhookDeliveries:
    """Webhook deliveries, newest first, a page at a time (50 by default, 200 at most),
    optionally of one status. Admins only."""

    def __init__(self, uow: UnitOfWorkFactory, limits: PageLimits | None = None) -> None:
        self._uow = uow
        self._limits = limits or PageLimits(default=50, maximum=200)

    async def __call__(
        self,
        *,
        role: Role,
        status: DeliveryStatus | None = None,
        limit: int | None = None,
        after: ConversationCursor | None = None,
    ) -> DeliveryPage:
        if role is not Role.ADMIN:
            raise Forbidden
        size = self._limits.size(limit)
        async with self._uow() as uow:
            found = await uow.webhook_deliveries.page(limit=size + 1, after=after, status=status)
        items = tuple(found[:size])
        more = len(found) > size and items
        last = items[-1] if items else None
        return DeliveryPage(
            items=items,
            next=ConversationCursor(updated_at=last.created_at, id=last.id)
            if more and last
            else None,
        )


class RetryWebhooks:
    """Queue deliveries again (``salesbot webhooks retry``, ``POST
    /admin/webhooks/deliveries/{id}/retry``): one by id, or every dead one. A re-queued delivery
    starts afresh: attempts from 0 and a new retry window. A pending one is left as it is."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def one_as(self, *, role: Role, delivery_id: UUID) -> None:
        """``one`` for a member of the staff: ``Forbidden`` unless an admin,
        ``DeliveryNotFound`` when there is nothing to queue again."""
        if role is not Role.ADMIN:
            raise Forbidden
        if not await self.one(delivery_id):
            raise DeliveryNotFound

    async def one(self, delivery_id: UUID) -> bool:
        async with self._uow() as uow:
            done = await uow.webhook_deliveries.requeue(delivery_id, self._clock.now())
            await uow.commit()
        return done

    async def dead(self) -> int:
        async with self._uow() as uow:
            count = await uow.webhook_deliveries.requeue_dead(self._clock.now())
            await uow.commit()
        return count
