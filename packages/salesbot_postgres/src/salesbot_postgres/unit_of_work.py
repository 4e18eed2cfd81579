"""The core's ``UnitOfWork`` over one pooled connection and its transaction."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import suppress
from types import TracebackType
from typing import Any, Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from salesbot_core.ports import (
    ConversationRepository,
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

T = TypeVar("T")

# psycopg answers a first cancellation of a query by asking the server to cancel it and waiting
# up to 10 s for the answer, which a frozen server never gives; a second cancellation makes it
# drop the connection at once.
_CANCEL_GRACE_S = 0.1


def _abandon(task: asyncio.Task[T], discard: Callable[[T], Awaitable[None]]) -> None:
    """Let ``task`` finish on its own; whatever it still produces is discarded."""

    def done(finished: asyncio.Task[T]) -> None:
        if finished.cancelled():
            return
        if (error := finished.exception()) is not None:
            logger.debug("an abandoned database call failed: %r", error)
            return
        cleanup = asyncio.ensure_future(discard(finished.result()))
        _CLEANUPS.add(cleanup)
        cleanup.add_done_callback(_CLEANUPS.discard)

    task.add_done_callback(done)


_CLEANUPS: set[asyncio.Future[None]] = set()


async def within(
    seconds: float, call: Coroutine[Any, Any, T], discard: Callable[[T], Awaitable[None]]
) -> T:
    """``call``'s result, or ``TimeoutError`` after ``seconds`` however long the driver takes to
    give up (it finishes giving up in the background; a result that arrives too late, or after
    the caller was cancelled, goes to ``discard``)."""
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except asyncio.CancelledError:
        task.cancel()
        _abandon(task, discard)
        raise
    if task in done:
        return task.result()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=_CANCEL_GRACE_S)
    if task not in done:
        task.cancel()
    _abandon(task, discard)
    raise TimeoutError(f"the database did not answer within {seconds}s")


async def _discard(connection: AsyncConnection) -> None:
    """Invalidate ``connection`` (the pool will not lend it again) and give it back."""
    with suppress(Exception):
        await connection.invalidate()
    with suppress(Exception):
        await connection.close()


async def _close(connection: AsyncConnection) -> None:
    with suppress(Exception):
        await connection.close()


class PostgresUnitOfWork:
    """One short transaction.

    Entering checks a connection out of the pool (``DatabaseUnavailable`` if none can be had
    within ``checkout_timeout_s``, whatever the server does);
    the transaction begins with the first write or locking read (plain reads before it run in
    autocommit, see ``Transaction``). Nothing is written unless ``commit()`` is
    awaited; leaving the block rolls back whatever was not committed and returns the connection.
    After ``commit()`` or ``rollback()`` the same unit of work can go on with a new transaction.
    """

    def __init__(self, engine: AsyncEngine, checkout_timeout_s: float | None = None) -> None:
        self._engine = engine
        self._checkout_timeout_s = checkout_timeout_s
        self._tx = Transaction()
        self._connection: AsyncConnection | None = None
        self.users: UserRepository = PostgresUsers(self._tx)
        self.refresh_tokens: RefreshTokenRepository = PostgresRefreshTokens(self._tx)
        self.conversations: ConversationRepository = PostgresConversations(self._tx)
        self.messages = PostgresMessages(self._tx)

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        with unavailable_on_failure():
            if self._checkout_timeout_s is None:
                self._connection = await self._engine.connect()
            else:
                # The checkout pings a pooled connection first; on a server that froze, the
                # ping would wait for ever.
                self._connection = await within(
                    self._checkout_timeout_s, self._engine.connect().start(), _close
                )
        try:
            await self._tx.bind(self._connection)
        except BaseException:
            connection, self._connection = self._connection, None
            await _discard(connection)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await self._tx.unbind()  # rolls back what was not committed
        except Exception:
            # The connection is broken (the server went away) or was left mid-statement;
            # nothing was committed, so all that is left is to make sure the pool does not hand
            # it out again.
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
        self._open()
        await self._tx.commit()

    async def rollback(self) -> None:
        self._open()
        await self._tx.rollback()
