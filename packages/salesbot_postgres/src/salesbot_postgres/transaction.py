"""One pooled connection and its transaction: the only way statements reach the server.

Pooled connections are in autocommit. ``read`` runs a plain ``SELECT`` as it is (in autocommit
before the transaction began, inside it after); ``write`` begins the transaction if need be,
its ``BEGIN`` pipelined with the statement (one round trip); ``commit``/``rollback`` send
``COMMIT``/``ROLLBACK``. Under READ COMMITTED (``statements.BEGIN`` pins it) each statement
takes its own snapshot either way, so reading before the first write in autocommit observes
what a transaction would, and a unit of work that only reads never sends ``BEGIN``.

Every statement has a deadline (``statement_deadline_s``): at it the statement is cancelled
(psycopg asks the server to cancel it and waits for the answer), a moment later cancelled
again if it has not ended (psycopg then drops the connection at once: a frozen server never
answers the first), and the caller gets ``DatabaseUnavailable``. Two timers per statement, no
round trip: that replaces a ping per checkout as the bound on a frozen server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import AsyncCursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow

from salesbot_core.errors import DatabaseUnavailable
from salesbot_postgres import statements
from salesbot_postgres.errors import UNAVAILABLE_MESSAGE, unavailable_on_failure
from salesbot_postgres.pool import Connection, Pool

logger = logging.getLogger(__name__)

# How long psycopg may wait, after the first cancellation, for the server to cancel the
# statement, before the second cancellation makes it drop the connection.
CANCEL_GRACE_S = 0.1

_IDLE = TransactionStatus.IDLE

Params = dict[str, Any] | None


class Transaction:
    """The connection a unit of work (or a reader) holds while it is open, and its
    transaction. After ``commit()`` or ``rollback()`` it goes on with a new transaction.

    A connection can die idle in the pool (a server restart): the first statement after the
    checkout that finds its connection lost is sent again, once, on a new one (nothing had
    been done on the lost one), and the pool discards its idle connections with it. A
    connection lost later fails the statement with ``DatabaseUnavailable``; if a transaction
    was open, its work is gone and every statement fails until ``rollback()``; the next
    statement after that checks a new connection out.
    """

    def __init__(
        self, pool: Pool, statement_deadline_s: float, checkout_timeout_s: float | None = None
    ) -> None:
        self._pool = pool
        self._deadline_s = statement_deadline_s
        self._checkout_timeout_s = checkout_timeout_s
        self._connection: Connection | None = None
        self._open = False
        self._fresh = False  # no statement has run on the connection since its checkout
        self._lost = False  # the connection went away inside a transaction

    # ---------------------------------------------------------------- the connection

    async def open(self) -> None:
        """Check a connection out (``DatabaseUnavailable`` if none comes within the pool's
        timeout)."""
        if self._open:
            raise RuntimeError("this unit of work is already open")
        await self._checkout()
        self._open = True

    async def close(self) -> None:
        """Roll back whatever was not committed and give the connection back; never raises
        for a broken connection (the pool discards it)."""
        connection, self._connection = self._connection, None
        self._open = self._lost = False
        if connection is None:
            return
        if connection.info.transaction_status != _IDLE:
            try:
                await self._send(connection, statements.ROLLBACK, None, begin=False)
            except BaseException as error:
                # The connection is broken, or was left mid-statement; nothing was committed,
                # so all that is left is to make sure the pool does not lend it again.
                logger.debug("rollback failed; discarding the connection", exc_info=True)
                await connection.close()
                await self._pool.give_back(connection)
                if not isinstance(error, Exception):
                    raise
                return
        await self._pool.give_back(connection)

    async def _checkout(self) -> Connection:
        self._connection = await self._pool.checkout(self._checkout_timeout_s)
        self._fresh = True
        return self._connection

    # ---------------------------------------------------------------- statements

    async def read(self, sql: str, params: Params = None) -> list[DictRow]:
        """Run a plain ``SELECT`` (no locks, no changes); its rows."""
        cursor = await self._run(sql, params, begin=False)
        return await cursor.fetchall()

    async def write(self, sql: str, params: Params = None) -> list[DictRow]:
        """Run a statement inside the transaction (beginning it if need be); the rows it
        returns."""
        cursor = await self._run(sql, params, begin=True)
        return await cursor.fetchall() if cursor.description is not None else []

    async def write_count(self, sql: str, params: Params = None) -> int:
        """Run a statement inside the transaction (beginning it if need be); how many rows it
        changed."""
        return (await self._run(sql, params, begin=True)).rowcount

    async def copy_in(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Stream ``rows`` into ``COPY ... FROM STDIN`` inside the transaction, which a write
        must have begun (a COPY is never the first statement: there is nothing to retry)."""
        self._check_open()
        connection = self._connection
        if self._lost or connection is None:
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE)
        if connection.info.transaction_status == _IDLE:
            raise RuntimeError("copy_in needs a transaction: write before it")
        try:
            with unavailable_on_failure():
                async with (
                    asyncio.timeout(self._deadline_s + CANCEL_GRACE_S),
                    asyncio.timeout(self._deadline_s),
                    connection.cursor() as cursor,
                    cursor.copy(sql) as copy,
                ):
                    for row in rows:
                        await copy.write_row(row)
        except DatabaseUnavailable:
            self._lost = self._lost or connection.closed
            raise

    async def commit(self) -> None:
        """Commit the transaction, if one began."""
        self._check_open()
        if self._lost:
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE)
        connection = self._connection
        if connection is not None and connection.info.transaction_status != _IDLE:
            await self._run(statements.COMMIT, None, begin=False)

    async def rollback(self) -> None:
        """Roll the transaction back, if one began."""
        self._check_open()
        self._lost = False
        connection = self._connection
        if connection is not None and connection.info.transaction_status != _IDLE:
            await self._run(statements.ROLLBACK, None, begin=False)

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("use the unit of work inside 'async with' before its repositories")

    async def _run(self, sql: str, params: Params, *, begin: bool) -> AsyncCursor[DictRow]:
        self._check_open()
        if self._lost:
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE)
        connection = self._connection or await self._checkout()
        while True:
            in_transaction = connection.info.transaction_status != _IDLE
            retry = self._fresh
            self._fresh = False
            try:
                with unavailable_on_failure():
                    return await self._send(
                        connection, sql, params, begin=begin and not in_transaction
                    )
            except DatabaseUnavailable as error:
                if not connection.closed:
                    raise  # the server answered (statement_timeout, shutting down...)
                self._connection = None
                if isinstance(error.__cause__, TimeoutError):
                    await self._pool.give_back(connection)  # abandoned: the server is silent
                    self._lost = in_transaction
                    raise
                await self._pool.lost(connection)
                self._lost = in_transaction
                if not retry:
                    raise
                logger.info("a pooled connection was lost; running the statement on a new one")
            connection = await self._checkout()

    async def _send(
        self, connection: Connection, sql: str, params: Params, *, begin: bool
    ) -> AsyncCursor[DictRow]:
        async with (
            asyncio.timeout(self._deadline_s + CANCEL_GRACE_S),
            asyncio.timeout(self._deadline_s),
        ):
            if not begin:
                return await connection.execute(sql, params)
            async with connection.pipeline():
                await connection.execute(statements.BEGIN)
                # Returned once the pipeline has synced: the rows are in.
                return await connection.execute(sql, params)


__all__ = ["CANCEL_GRACE_S", "Transaction"]
