"""Sales insight over PostgreSQL: the core's ``SalesInsightReader`` as a handful of aggregate
queries (``statements``: no per-conversation round trips)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from salesbot_core.domain import ConversationCursor, SaleStatus
from salesbot_core.ports import Lead, LeadConversation, SalesFigures
from salesbot_postgres import statements as sql
from salesbot_postgres.mapping import (
    figures_from_rows,
    lead_conversation_from_rows,
    lead_from_row,
)
from salesbot_postgres.pool import Pool
from salesbot_postgres.transaction import Transaction

# The leads statement by (of one status, searched, after a cursor).
_LEADS = {
    (False, False, False): sql.LEADS,
    (False, False, True): sql.LEADS_AFTER,
    (True, False, False): sql.LEADS_WITH_STATUS,
    (True, False, True): sql.LEADS_WITH_STATUS_AFTER,
    (False, True, False): sql.LEADS_SEARCHED,
    (False, True, True): sql.LEADS_SEARCHED_AFTER,
    (True, True, False): sql.LEADS_WITH_STATUS_SEARCHED,
    (True, True, True): sql.LEADS_WITH_STATUS_SEARCHED_AFTER,
}


class PostgresInsight:
    """Figures and leads read straight from the tables, each call on its own connection."""

    def __init__(self, pool: Pool, statement_deadline_s: float) -> None:
        self._pool = pool
        self._deadline_s = statement_deadline_s

    async def figures(self, *, since: datetime, top: int) -> SalesFigures:
        tx = Transaction(self._pool, self._deadline_s)
        await tx.open()
        try:
            await tx.write_count(sql.JIT_OFF_FOR_TRANSACTION)  # begins the transaction
            totals = await tx.read(sql.TOTALS_BY_STATUS)
            ranked = await tx.read(sql.TOP_ITEMS, {"top": top})
            days = await tx.read(
                sql.DAILY_CONVERSION, {"since": since, "closed": SaleStatus.CLOSED.value}
            )
        finally:
            await tx.close()  # rolls back: nothing was written
        return figures_from_rows(totals, ranked, days)

    async def leads(
        self,
        *,
        status: SaleStatus | None,
        limit: int,
        after: ConversationCursor | None = None,
        search: str | None = None,
    ) -> Sequence[Lead]:
        params: dict[str, Any] = {"limit": limit, "search": search}
        if after is not None:
            params["after_updated_at"], params["after_id"] = after.updated_at, after.id
        if status is not None:
            params["status"] = status.value
        statement = _LEADS[status is not None, search is not None, after is not None]
        tx = Transaction(self._pool, self._deadline_s)
        await tx.open()
        try:
            rows = await tx.read(statement, params)
        finally:
            await tx.close()
        return [lead_from_row(row) for row in rows]

    async def conversation(
        self, conversation_id: UUID, *, messages: int, distillations: int
    ) -> LeadConversation | None:
        tx = Transaction(self._pool, self._deadline_s)
        await tx.open()
        try:
            # One snapshot for the four reads, so the totals match the lists.
            await tx.write_count(sql.REPEATABLE_READ)  # begins the transaction
            leads = await tx.read(sql.LEAD, {"id": conversation_id, "limit": 1})
            if not leads:
                return None
            totals = await tx.read(sql.LEAD_TOTALS, {"id": conversation_id})
            transcript = await tx.read(
                sql.LATEST_MESSAGES, {"conversation_id": conversation_id, "limit": messages}
            )
            history = await tx.read(
                sql.LATEST_DISTILLATIONS,
                {"conversation_id": conversation_id, "limit": distillations},
            )
        finally:
            await tx.close()  # rolls back: nothing was written
        return lead_conversation_from_rows(leads[0], totals[0], transcript, history)


__all__ = ["PostgresInsight"]
