"""The core's ``UnitOfWork`` over one pooled connection and its transaction."""

from __future__ import annotations

import logging
from contextlib import suppress
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from salesbot_core.ports import (
    ConversationRepository,
    MessageRepository,
    RefreshTokenRepository,
    UserRepository,
)
from salesbot_postgres.errors import unavailable_on_failure
from salesbot_postgres.repositories import (
    PostgresConversations,
    PostgresMessages,
    PostgresRefreshTokens,
    PostgresUsers,
    Transaction,
)

logger = logging.getLogger(__name__)


class PostgresUnitOfWork:
    """One short transaction.

    Entering checks a connection out of the pool (``DatabaseUnavailable`` if none can be had);
    the transaction begins with the first statement. Nothing is written unless ``commit()`` is
    awaited; leaving the block rolls back whatever was not committed and returns the connection.
    After ``commit()`` or ``rollback()`` the same unit of work can go on with a new transaction.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._tx = Transaction()
        self._connection: AsyncConnection | None = None
        self.users: UserRepository = PostgresUsers(self._tx)
        self.refresh_tokens: RefreshTokenRepository = PostgresRefreshTokens(self._tx)
        self.conversations: ConversationRepository = PostgresConversations(self._tx)
        self.messages: MessageRepository = PostgresMessages(self._tx)

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        with unavailable_on_failure():
            self._connection = await self._engine.connect()
        self._tx.bind(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        self._tx.bind(None)
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        except Exception:
            # The connection is broken (the server went away); nothing was committed, so all
            # that is left is to make sure the pool does not hand it out again.
            logger.debug("rollback failed; discarding the connection", exc_info=True)
            with suppress(Exception):
                await connection.invalidate()
        finally:
            with suppress(Exception):
                await connection.close()

    def _open(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._connection

    async def commit(self) -> None:
        connection = self._open()
        with unavailable_on_failure():
            await connection.commit()

    async def rollback(self) -> None:
        connection = self._open()
        with unavailable_on_failure():
            await connection.rollback()
