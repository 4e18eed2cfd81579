"""Sales insight over PostgreSQL: the core's ``SalesInsightReader`` as a handful of aggregate
queries (no ORM objects, no per-conversation round trips)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine

from salesbot_core.domain import ConversationCursor, SaleStatus
from salesbot_core.ports import Count, DayConversion, Lead, SalesFigures, UsageTotals
from salesbot_postgres.errors import unavailable_on_failure
from salesbot_postgres.mapping import message_from_row, metadata_from_json
from salesbot_postgres.repositories import newer_than_cursor
from salesbot_postgres.schema import ConversationRow, MessageRow, UserRow

_CONVERSATIONS = ConversationRow.__table__
_MESSAGES = MessageRow.__table__


def _top_items(key: str, top: int) -> Select[Any]:
    """The ``top`` most frequent items of a metadata list, lower-cased, once per conversation,
    ties broken by name in code-point order (as Python sorts)."""
    item = func.jsonb_array_elements_text(ConversationRow.metadata_[key]).table_valued("value")
    name = func.lower(item.c.value)
    count = func.count(func.distinct(ConversationRow.id))
    return (
        select(name.label("name"), count.label("count"))
        .select_from(_CONVERSATIONS)
        .join(item, literal_column("true"))
        .where(ConversationRow.metadata_.is_not(None))
        .group_by(name)
        .order_by(count.desc(), name.collate("C"))
        .limit(top)
    )


class PostgresInsight:
    """Figures and leads read straight from the tables, each call on its own connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def figures(self, *, since: datetime, top: int) -> SalesFigures:
        day = func.date(func.timezone("UTC", ConversationRow.created_at))
        closed = func.count().filter(ConversationRow.sale_status == SaleStatus.CLOSED.value)
        with unavailable_on_failure():
            async with self._engine.connect() as connection:
                statuses = await connection.execute(
                    select(ConversationRow.sale_status, func.count()).group_by(
                        ConversationRow.sale_status
                    )
                )
                by_status = dict.fromkeys(SaleStatus, 0)
                for status, count in statuses.all():
                    by_status[SaleStatus(status)] = count
                lists = {}
                for key in ("interests", "offeredProducts", "rejectedProducts"):
                    rows = (await connection.execute(_top_items(key, top))).all()
                    lists[key] = tuple(Count(name=name, count=count) for name, count in rows)
                conversion = await connection.execute(
                    select(day.label("day"), func.count(), closed)
                    .where(ConversationRow.created_at >= since)
                    .group_by(day)
                    .order_by(day)
                )
                totals = (
                    await connection.execute(
                        select(
                            func.count(),
                            func.coalesce(func.sum(ConversationRow.message_count / 2), 0),
                            func.coalesce(func.sum(ConversationRow.prompt_tokens), 0),
                            func.coalesce(func.sum(ConversationRow.completion_tokens), 0),
                            func.coalesce(func.sum(ConversationRow.context_chars), 0),
                            func.coalesce(func.sum(ConversationRow.full_history_chars), 0),
                        )
                    )
                ).one()
        return SalesFigures(
            conversations=totals[0],
            by_status=by_status,
            top_interests=lists["interests"],
            most_offered=lists["offeredProducts"],
            most_rejected=lists["rejectedProducts"],
            conversion=tuple(
                DayConversion(day=d, started=started, closed=won)
                for d, started, won in conversion.all()
            ),
            usage=UsageTotals(
                exchanges=int(totals[1]),
                prompt_tokens=int(totals[2]),
                completion_tokens=int(totals[3]),
                context_chars=int(totals[4]),
                full_history_chars=int(totals[5]),
            ),
        )

    async def leads(
        self,
        *,
        status: SaleStatus | None,
        limit: int,
        after: ConversationCursor | None = None,
    ) -> Sequence[Lead]:
        last = (
            select(_MESSAGES)
            .where(MessageRow.conversation_id == ConversationRow.id)
            .order_by(MessageRow.seq.desc())
            .limit(1)
            .lateral("last_message")
        )
        conditions = [newer_than_cursor(after)]
        if status is not None:
            conditions.append(ConversationRow.sale_status == status.value)
        statement = (
            select(
                ConversationRow.id,
                ConversationRow.title,
                ConversationRow.metadata_,
                ConversationRow.updated_at,
                UserRow.id.label("customer_id"),
                UserRow.name,
                UserRow.email,
                UserRow.phone,
                *(c.label(f"m_{c.name}") for c in last.c),
            )
            .select_from(_CONVERSATIONS)
            .join(UserRow, UserRow.id == ConversationRow.user_id)
            .outerjoin(last, literal_column("true"))
            .where(*conditions)
            .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
            .limit(limit)
        )
        with unavailable_on_failure():
            async with self._engine.connect() as connection:
                rows = (await connection.execute(statement)).mappings().all()
        leads = []
        for row in rows:
            message = None
            if row["m_id"] is not None:
                message = message_from_row(
                    {
                        name.removeprefix("m_"): value
                        for name, value in row.items()
                        if name.startswith("m_")
                    }
                )
            leads.append(
                Lead(
                    conversation_id=row["id"],
                    title=row["title"],
                    customer_id=row["customer_id"],
                    customer_name=row["name"],
                    customer_email=row["email"],
                    customer_phone=row["phone"],
                    metadata=metadata_from_json(row["metadata"]),
                    last_message=message,
                    updated_at=row["updated_at"],
                )
            )
        return leads


__all__ = ["PostgresInsight"]
