"""The core's repositories over the unit of work's ``Transaction``: each method runs named
statements (``statements``) and maps their rows (``mapping``).

Every write that races with another request is a single SQL statement whose ``WHERE`` clause
decides the race (row locks do the rest), so no read-modify-write cycle spans a round trip.

Beyond the core's port, the repositories offer the observers of
``salesbot_core.testing.TestObservers`` (``conversations.add``, ``get_for_user``,
``list_for_user``, ``refresh_tokens.list_active_for_user`` and ``PostgresMessages``) so the one
contract suite can seed and look at PostgreSQL as it does the in-memory store; no use case calls
them.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    Message,
    Product,
    RefreshToken,
    Role,
    Session,
    User,
)
from salesbot_core.errors import EmailAlreadyRegistered
from salesbot_core.exchange import DistillationWrite, ExchangeWrite
from salesbot_core.ports.catalogue import ImportCounts, ProductPage, ProductQuery
from salesbot_postgres import statements as sql
from salesbot_postgres.mapping import (
    conversation_from_row,
    conversation_to_params,
    conversation_with_page_from_row,
    distillation_params,
    exchange_params,
    message_from_row,
    product_copy_row,
    product_from_row,
    search_words,
    session_from_row,
    token_from_row,
    token_to_params,
    tsquery_text,
    user_from_row,
    user_to_params,
)
from salesbot_postgres.pool import Pool
from salesbot_postgres.transaction import Transaction

ROTATED = "rotated"

_MAX_SEQ = 2**31 - 1  # messages.seq is an INTEGER


class PostgresUsers:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, user: User) -> None:
        if not await self._tx.write(sql.INSERT_USER, user_to_params(user)):
            raise EmailAlreadyRegistered

    async def get(self, user_id: UUID) -> User | None:
        rows = await self._tx.read(sql.USER_BY_ID, {"id": user_id})
        return user_from_row(rows[0]) if rows else None

    async def get_by_email(self, email: str) -> User | None:
        rows = await self._tx.read(sql.USER_BY_EMAIL, {"email": email.lower()})
        return user_from_row(rows[0]) if rows else None

    async def set_role(self, user_id: UUID, role: str, now: datetime) -> bool:
        params = {"id": user_id, "role": Role(role).value, "now": now}
        return await self._tx.write_count(sql.SET_USER_ROLE, params) == 1


class PostgresRefreshTokens:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, token: RefreshToken) -> None:
        await self._tx.write_count(sql.INSERT_TOKEN, token_to_params(token))

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        rows = await self._tx.read(sql.TOKEN_BY_HASH, {"token_hash": token_hash})
        return token_from_row(rows[0]) if rows else None

    async def rotate(self, token_id: UUID, replaced_by: UUID, now: datetime) -> bool:
        params = {"id": token_id, "replaced_by": replaced_by, "reason": ROTATED, "now": now}
        return await self._tx.write_count(sql.ROTATE_TOKEN, params) == 1

    async def revoke(self, token_id: UUID, reason: str, now: datetime) -> bool:
        params = {"id": token_id, "reason": reason, "now": now}
        return await self._tx.write_count(sql.REVOKE_TOKEN, params) == 1

    async def revoke_family(self, family_id: UUID, reason: str, now: datetime) -> int:
        params = {"family_id": family_id, "reason": reason, "now": now}
        return await self._tx.write_count(sql.REVOKE_FAMILY, params)

    async def revoke_all_for_user(self, user_id: UUID, reason: str, now: datetime) -> int:
        params = {"user_id": user_id, "reason": reason, "now": now}
        return await self._tx.write_count(sql.REVOKE_USER_TOKENS, params)

    async def list_active_for_user(self, user_id: UUID, now: datetime) -> Sequence[RefreshToken]:
        rows = await self._tx.read(sql.ACTIVE_TOKENS_FOR_USER, {"user_id": user_id, "now": now})
        return [token_from_row(row) for row in rows]

    async def sessions_for_user(self, user_id: UUID, now: datetime) -> Sequence[Session]:
        rows = await self._tx.read(sql.SESSIONS_FOR_USER, {"user_id": user_id, "now": now})
        return [session_from_row(row) for row in rows]

    async def revoke_session(
        self, user_id: UUID, session_id: UUID, reason: str, now: datetime
    ) -> bool:
        params = {"user_id": user_id, "family_id": session_id, "reason": reason, "now": now}
        return await self._tx.write_count(sql.REVOKE_SESSION, params) > 0

    async def delete_stale(self, now: datetime, revoked_before: datetime) -> int | None:
        locked = await self._tx.write(sql.TRY_TOKEN_CLEANUP_LOCK, {"key": sql.TOKEN_CLEANUP_LOCK})
        if not locked[0]["locked"]:
            return None
        params = {"now": now, "revoked_before": revoked_before}
        return await self._tx.write_count(sql.DELETE_STALE_TOKENS, params)


class PostgresConversations:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, conversation: Conversation) -> None:
        await self._tx.write_count(sql.INSERT_CONVERSATION, conversation_to_params(conversation))

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        params = {"id": conversation_id, "user_id": user_id}
        rows = await self._tx.read(sql.CONVERSATION_FOR_USER, params)
        return conversation_from_row(rows[0]) if rows else None

    async def get_with_messages(
        self, conversation_id: UUID, user_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> tuple[Conversation, Sequence[Message]] | None:
        params: dict[str, Any] = {
            "conversation_id": conversation_id,
            "user_id": user_id,
            "limit": limit,
        }
        statement = sql.CONVERSATION_WITH_LATEST_PAGE
        # Past the column's range every message comes before: no bound (and no out-of-range
        # parameter for PostgreSQL to refuse).
        if before_seq is not None and before_seq <= _MAX_SEQ:
            statement, params["before_seq"] = sql.CONVERSATION_WITH_PAGE_BEFORE, before_seq
        rows = await self._tx.read(statement, params)
        return conversation_with_page_from_row(rows[0]) if rows else None

    async def list_for_user(self, user_id: UUID) -> Sequence[Conversation]:
        rows = await self._tx.read(sql.CONVERSATIONS_FOR_USER, {"user_id": user_id})
        return [conversation_from_row(row) for row in rows]

    async def page_for_user(
        self,
        user_id: UUID,
        *,
        limit: int,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> Sequence[Conversation]:
        params: dict[str, Any] = {"user_id": user_id, "limit": limit}
        if after is not None:
            params["after_updated_at"], params["after_id"] = after.updated_at, after.id
        if query:
            params["query"] = query
            statement = sql.CONVERSATIONS_MATCHING_AFTER if after else sql.CONVERSATIONS_MATCHING
        else:
            statement = sql.CONVERSATIONS_AFTER if after else sql.NEWEST_CONVERSATIONS
        rows = await self._tx.read(statement, params)
        return [conversation_from_row(row) for row in rows]

    async def rename(
        self, conversation_id: UUID, user_id: UUID, title: str, now: datetime
    ) -> Conversation | None:
        params = {"id": conversation_id, "user_id": user_id, "title": title, "now": now}
        rows = await self._tx.write(sql.RENAME_CONVERSATION, params)
        return conversation_from_row(rows[0]) if rows else None

    async def delete(self, conversation_id: UUID, user_id: UUID) -> bool:
        params = {"id": conversation_id, "user_id": user_id}
        return await self._tx.write_count(sql.DELETE_CONVERSATION, params) == 1

    async def for_update(self, conversation_id: UUID) -> Conversation | None:
        rows = await self._tx.write(sql.CONVERSATION_FOR_UPDATE, {"id": conversation_id})
        return conversation_from_row(rows[0]) if rows else None

    async def record_exchange(self, write: ExchangeWrite) -> bool:
        # One statement (statements.RECORD_EXCHANGE): the row as the core planned it,
        # compare-and-set on its version (or inserted when new), and both messages.
        return len(await self._tx.write(sql.RECORD_EXCHANGE, exchange_params(write))) == 1

    async def apply_distillation(
        self, write: DistillationWrite, *, lease_until: datetime | None = None
    ) -> bool:
        # One statement (statements.APPLY_DISTILLATION): the row, its history record, the lease.
        params = distillation_params(write, lease_until)
        return len(await self._tx.write(sql.APPLY_DISTILLATION, params)) == 1

    async def window(
        self, conversation_id: UUID, *, limit: int
    ) -> tuple[Conversation, Sequence[Message]] | None:
        params = {"id": conversation_id, "limit": limit}
        rows = await self._tx.read(sql.DISTILLATION_WINDOW, params)
        return conversation_with_page_from_row(rows[0]) if rows else None

    async def claim_distillation(
        self,
        conversation_id: UUID,
        *,
        now: datetime,
        until: datetime,
        distilled_through: int | None = None,
    ) -> bool:
        params = {
            "id": conversation_id,
            "now": now,
            "until": until,
            "distilled_through": distilled_through,
        }
        return len(await self._tx.write(sql.CLAIM_DISTILLATION, params)) == 1

    async def release_distillation(self, conversation_id: UUID, *, until: datetime) -> None:
        params = {"id": conversation_id, "until": until}
        await self._tx.write_count(sql.RELEASE_DISTILLATION, params)

    async def due_for_distillation(self, *, at_least: int, limit: int) -> Sequence[UUID]:
        params = {"at_least": at_least, "limit": limit}
        return [row["id"] for row in await self._tx.read(sql.DUE_FOR_DISTILLATION, params)]


class PostgresMessages:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def list_for_conversation(self, conversation_id: UUID) -> Sequence[Message]:
        return await self.list_after(conversation_id, 0)

    async def list_after(self, conversation_id: UUID, after_seq: int) -> Sequence[Message]:
        params = {"conversation_id": conversation_id, "after_seq": after_seq}
        rows = await self._tx.read(sql.MESSAGES_AFTER, params)
        return [message_from_row(row) for row in rows]

    async def page_before(
        self, conversation_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> Sequence[Message]:
        params: dict[str, Any] = {"conversation_id": conversation_id, "limit": limit}
        statement = sql.LATEST_MESSAGES
        if before_seq is not None and before_seq <= _MAX_SEQ:
            statement, params["before_seq"] = sql.MESSAGES_BEFORE, before_seq
        rows = await self._tx.read(statement, params)
        return [message_from_row(row) for row in reversed(rows)]


__all__ = [
    "PostgresConversations",
    "PostgresMessages",
    "PostgresRefreshTokens",
    "PostgresUsers",
]


# How many products an ``every()`` reads per statement.
_EXPORT_PAGE = 1000


class PostgresProducts:
    """The catalogue as the shop's staff maintain it. ``upsert`` streams its products with COPY
    into a temporary table and upserts them with one statement, so a large import costs two
    round trips per call, not one per product."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def upsert(self, products: Iterable[Product]) -> ImportCounts:
        # The last of a sku wins, as if the products were written one after the other (one
        # INSERT ... ON CONFLICT cannot touch a row twice).
        latest = {product.sku: product for product in products}
        if not latest:
            return ImportCounts(created=0, updated=0)
        await self._tx.write_count(sql.CREATE_PRODUCT_IMPORT)
        await self._tx.write_count(sql.CLEAR_PRODUCT_IMPORT)
        await self._tx.copy_in(
            sql.COPY_PRODUCT_IMPORT, (product_copy_row(p) for p in latest.values())
        )
        (counts,) = await self._tx.write(sql.UPSERT_PRODUCT_IMPORT)
        return ImportCounts(created=counts["created"], updated=counts["updated"])

    async def remove_all_but(self, skus: Iterable[str]) -> int:
        return await self._tx.write_count(sql.DELETE_PRODUCTS_NOT_IN, {"skus": list(skus)})

    async def get(self, sku: str) -> Product | None:
        rows = await self._tx.read(sql.PRODUCT_BY_SKU, {"sku": sku})
        return product_from_row(rows[0]) if rows else None

    async def delete(self, sku: str) -> bool:
        return await self._tx.write_count(sql.DELETE_PRODUCT, {"sku": sku}) == 1

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        query: str | None = None,
        category: str | None = None,
    ) -> ProductPage:
        words = tsquery_text([query]) if query is not None else None
        if query is not None and words is None:
            return ProductPage(items=())  # no word to match: nothing matches
        params: dict[str, Any] = {
            "limit": limit + 1,
            "after": after,
            "words": words,
            "category": category,
        }
        statement = sql.PRODUCTS_PAGE[(after is not None, words is not None, category is not None)]
        rows = await self._tx.read(statement, params)
        items = tuple(product_from_row(row) for row in rows[:limit])
        more = len(rows) > limit and items
        return ProductPage(items=items, next_after=items[-1].sku if more else None)

    async def every(self) -> AsyncIterator[Product]:
        after: str | None = None
        while True:
            page = await self.page(limit=_EXPORT_PAGE, after=after)
            for product in page.items:
                yield product
            if page.next_after is None:
                return
            after = page.next_after


class PostgresCatalogue:
    """The catalogue as a reply's grounding reads it: each call on its own pooled connection, in
    autocommit (one statement). A search reads and ranks at most ``ranked_matches`` matches
    (``CATALOGUE_RANKED_MATCHES``; see ``statements.SEARCH_PRODUCTS``).

    Every reply asks whether the shop has a catalogue at all; once the answer is yes it is kept
    for ``loaded_ttl_s`` seconds (0: asked every time), saving a round trip per reply. "No" is
    never kept, so products imported into an empty catalogue are offered from the next reply
    on; a catalogue emptied entirely reads as loaded (with nothing found) for at most the TTL.
    """

    def __init__(
        self,
        pool: Pool,
        statement_deadline_s: float,
        ranked_matches: int = 200,
        loaded_ttl_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pool = pool
        self._deadline_s = statement_deadline_s
        self._ranked = ranked_matches
        self._loaded_ttl_s = loaded_ttl_s
        self._clock = clock
        self._loaded_until = -math.inf

    async def _read(self, statement: str, params: dict[str, Any] | None = None) -> list[Any]:
        tx = Transaction(self._pool, self._deadline_s)
        await tx.open()
        try:
            return await tx.read(statement, params)
        finally:
            await tx.close()

    async def search(self, query: ProductQuery) -> Sequence[Product]:
        words = search_words(query.words)
        if words is None or query.limit < 1:
            return []
        params: dict[str, Any] = {
            "words": words,
            "limit": query.limit,
            "ranked": max(self._ranked, query.limit),
        }
        if query.max_price is not None:
            params["max_price"] = query.max_price
        statement = sql.SEARCH_PRODUCTS if query.max_price is None else sql.SEARCH_PRODUCTS_UP_TO
        return [product_from_row(row) for row in await self._read(statement, params)]

    async def named(self, keys: Iterable[str]) -> Sequence[Product]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        rows = await self._read(sql.PRODUCTS_NAMED, {"keys": wanted})
        return [product_from_row(row) for row in rows]

    async def is_empty(self) -> bool:
        now = self._clock()
        if now < self._loaded_until:
            return False
        (row,) = await self._read(sql.ANY_PRODUCT)
        if row["any"] and self._loaded_ttl_s > 0:
            self._loaded_until = now + self._loaded_ttl_s
        return not row["any"]
