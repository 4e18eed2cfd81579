"""Sales insight over PostgreSQL: the core's ``SalesInsightReader`` as a handful of aggregate
queries (no ORM objects, no per-conversation round trips)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from salesbot_core.domain import ConversationCursor, SaleStatus
from salesbot_core.ports import Count, DayConversion, Lead, SalesFigures, UsageTotals
from salesbot_postgres.errors import unavailable_on_failure
from salesbot_postgres.mapping import message_from_row, metadata_from_json
from salesbot_postgres.repositories import newer_than_cursor
from salesbot_postgres.schema import ConversationRow, MessageRow, UserRow

_CONVERSATIONS = ConversationRow.__table__
_MESSAGES = MessageRow.__table__


# The metadata lists that are ranked, by their JSON key.
_RANKED_LISTS = ("interests", "offeredProducts", "rejectedProducts")

# Every ranked list in one pass over the conversations: each conversation's items are lower-cased
# and de-duplicated inside the LATERAL (so a plain count is "once per conversation", with no
# count(DISTINCT) sort), then ranked per list; ties by name in code-point order (as Python
# sorts). One scan of the table instead of one per list.
_TOP_ITEMS = text(
    f"""
    SELECT list, name, count FROM (
        SELECT items.list, items.name, count(*) AS count,
               row_number() OVER (
                   PARTITION BY items.list ORDER BY count(*) DESC, items.name COLLATE "C"
               ) AS rank
        FROM conversations
        CROSS JOIN LATERAL (
            SELECT DISTINCT lists.list, lower(item.value) AS name
            FROM (VALUES {", ".join(f"('{key}')" for key in _RANKED_LISTS)}) AS lists(list)
            CROSS JOIN LATERAL
                jsonb_array_elements_text(conversations.metadata -> lists.list) AS item(value)
        ) AS items
        WHERE conversations.metadata IS NOT NULL
        GROUP BY items.list, items.name
    ) AS ranked
    WHERE rank <= :top
    ORDER BY list, rank
    """  # noqa: S608 - the interpolated keys are the constants above
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
                # The planner takes every jsonb_array_elements_text call for 100 rows, judges
                # the ranking expensive and JIT-compiles it: half a second of compiling for
                # queries that run in tens of milliseconds. Off for this transaction only.
                await connection.execute(text("SET LOCAL jit = off"))
                # Counts by status and the usage totals in one scan.
                per_status = (
                    await connection.execute(
                        select(
                            ConversationRow.sale_status,
                            func.count(),
                            func.sum(ConversationRow.message_count / 2),
                            func.sum(ConversationRow.prompt_tokens),
                            func.sum(ConversationRow.completion_tokens),
                            func.sum(ConversationRow.context_chars),
                            func.sum(ConversationRow.full_history_chars),
                        ).group_by(ConversationRow.sale_status)
                    )
                ).all()
                ranked = (await connection.execute(_TOP_ITEMS, {"top": top})).all()
                conversion = await connection.execute(
                    select(day.label("day"), func.count(), closed)
                    .where(ConversationRow.created_at >= since)
                    .group_by(day)
                    .order_by(day)
                )
                days = conversion.all()
        by_status = dict.fromkeys(SaleStatus, 0)
        totals = [0] * 6
        for status, *sums in per_status:
            counts = [int(value) for value in sums]  # sums of bigints come back as Decimal
            by_status[SaleStatus(status)] = counts[0]
            totals = [total + value for total, value in zip(totals, counts, strict=True)]
        lists: dict[str, list[Count]] = {key: [] for key in _RANKED_LISTS}
        for key, name, count in ranked:
            lists[key].append(Count(name=name, count=count))
        return SalesFigures(
            conversations=totals[0],
            by_status=by_status,
            top_interests=tuple(lists["interests"]),
            most_offered=tuple(lists["offeredProducts"]),
            most_rejected=tuple(lists["rejectedProducts"]),
            conversion=tuple(
                DayConversion(day=d, started=started, closed=won) for d, started, won in days
            ),
            usage=UsageTotals(
                exchanges=totals[1],
                prompt_tokens=totals[2],
                completion_tokens=totals[3],
                context_chars=totals[4],
                full_history_chars=totals[5],
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
