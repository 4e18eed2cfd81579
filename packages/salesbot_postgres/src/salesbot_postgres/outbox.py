"""The core's ``Outbox`` and ``WebhookDeliveries`` over the unit of work's ``Transaction``: the
outbox rows are written by the same connection, in the same transaction, as the change that
causes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from salesbot_core.domain import ConversationCursor
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    OutboxEvent,
    WebhookDelivery,
)
from salesbot_postgres import statements as sql
from salesbot_postgres.mapping import (
    claimed_delivery_from_row,
    outcome_params,
    webhook_delivery_from_row,
    webhook_event_params,
)
from salesbot_postgres.transaction import Transaction


class PostgresOutbox:
    def __init__(self, tx: Transaction, urls: Sequence[str]) -> None:
        self._tx = tx
        self._urls = tuple(urls)

    async def add(self, events: Sequence[OutboxEvent]) -> None:
        if not self._urls:
            return  # no receiver: nothing to deliver, nothing to keep
        for event in events:
            await self._tx.write_count(
                sql.INSERT_WEBHOOK_EVENT, webhook_event_params(event, self._urls)
            )


class PostgresWebhookDeliveries:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def claim(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> Sequence[ClaimedDelivery]:
        params = {"now": now, "lease_until": lease_until, "limit": limit}
        rows = await self._tx.write(sql.CLAIM_WEBHOOK_DELIVERIES, params)
        return [claimed_delivery_from_row(row) for row in rows]

    async def record(self, outcomes: Sequence[DeliveryOutcome]) -> set[UUID]:
        if not outcomes:
            return set()
        rows = await self._tx.write(sql.RECORD_WEBHOOK_OUTCOMES, outcome_params(outcomes))
        return {row["id"] for row in rows}

    async def page(
        self, *, limit: int, after: ConversationCursor | None, status: DeliveryStatus | None
    ) -> Sequence[WebhookDelivery]:
        params: dict[str, Any] = {"limit": limit}
        if after is not None:
            params["after_created_at"], params["after_id"] = after.updated_at, after.id
        if status is not None:
            params["status"] = status.value
            statement = (
                sql.WEBHOOK_DELIVERIES_WITH_STATUS_AFTER
                if after
                else sql.WEBHOOK_DELIVERIES_WITH_STATUS
            )
        else:
            statement = sql.WEBHOOK_DELIVERIES_AFTER if after else sql.WEBHOOK_DELIVERIES
        rows = await self._tx.read(statement, params)
        return [webhook_delivery_from_row(row) for row in rows]

    async def requeue(self, delivery_id: UUID, now: datetime) -> bool:
        params = {"id": delivery_id, "now": now}
        return await self._tx.write_count(sql.REQUEUE_WEBHOOK_DELIVERY, params) == 1

    async def requeue_dead(self, now: datetime) -> int:
        return await self._tx.write_count(sql.REQUEUE_DEAD_WEBHOOK_DELIVERIES, {"now": now})
