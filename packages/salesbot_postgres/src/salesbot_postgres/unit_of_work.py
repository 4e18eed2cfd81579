"""The core's ``UnitOfWork`` over one pooled connection and its transaction."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from salesbot_core.ports import (
    ConversationRepository,
    Outbox,
    RefreshTokenRepository,
    UserRepository,
    WebhookDeliveries,
)
from salesbot_core.ports.catalogue import ProductRepository
from salesbot_postgres.outbox import PostgresOutbox, PostgresWebhookDeliveries
from salesbot_postgres.pool import Pool
from salesbot_postgres.repositories import (
    PostgresConversations,
    PostgresMessages,
    PostgresProducts,
    PostgresRefreshTokens,
    PostgresUsers,
)
from salesbot_postgres.transaction import Transaction


class PostgresUnitOfWork:
    """One short transaction (see ``Transaction``).

    Entering checks a connection out of the pool (``DatabaseUnavailable`` if none can be had
    within ``pool_timeout_s``); the transaction begins with the first write (plain reads before
    it run in autocommit). Nothing is written unless ``commit()`` is awaited; leaving the block
    rolls back whatever was not committed and returns the connection. After ``commit()`` or
    ``rollback()`` the same unit of work can go on with a new transaction. The outbox writes
    one delivery per event and ``webhook_urls`` entry.
    """

    def __init__(
        self, pool: Pool, statement_deadline_s: float, webhook_urls: Sequence[str] = ()
    ) -> None:
        self._tx = Transaction(pool, statement_deadline_s)
        self.users: UserRepository = PostgresUsers(self._tx)
        self.refresh_tokens: RefreshTokenRepository = PostgresRefreshTokens(self._tx)
        self.conversations: ConversationRepository = PostgresConversations(self._tx)
        self.messages = PostgresMessages(self._tx)
        self.outbox: Outbox = PostgresOutbox(self._tx, webhook_urls)
        self.webhook_deliveries: WebhookDeliveries = PostgresWebhookDeliveries(self._tx)
        self.products: ProductRepository = PostgresProducts(self._tx)

    async def __aenter__(self) -> Self:
        await self._tx.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._tx.close()

    async def commit(self) -> None:
        await self._tx.commit()

    async def rollback(self) -> None:
        await self._tx.rollback()
