"""The connection pool: psycopg_pool's, opened on first use, with what it lacks for salesbot's
failure behaviour: a checkout fails as soon as the server refuses a connection (instead of
waiting out ``pool_timeout_s``), and a connection found lost flushes the idle ones with it."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Any, Self

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from salesbot_core.errors import DatabaseUnavailable
from salesbot_postgres.config import DatabaseConfig
from salesbot_postgres.errors import UNAVAILABLE_MESSAGE
from salesbot_postgres.mapping import adapters

logger = logging.getLogger(__name__)

Connection = psycopg.AsyncConnection[DictRow]


def connect_kwargs(config: DatabaseConfig) -> dict[str, Any]:
    """What every pooled connection is opened with: autocommit (a unit of work sends its own
    ``BEGIN``), rows as dicts, the server options, the timeouts."""
    server_options = (
        f"-c statement_timeout={config.statement_timeout_ms} "
        # Timestamps come back in UTC whatever the server's default time zone is.
        "-c TimeZone=UTC"
    )
    given = conninfo_to_dict(config.url).get("options")
    if given:  # the URL's own ?options=... come first, ours are appended
        server_options = f"{given} {server_options}"
    return {
        "autocommit": True,
        "row_factory": dict_row,
        "context": adapters(),
        "options": server_options,
        "connect_timeout": config.connect_timeout_whole_s,
        "application_name": config.application_name,
    }


def _reporting(failed: Callable[[Exception], None]) -> type[Connection]:
    """A connection class that tells ``failed`` when the pool cannot open a connection."""

    class ReportingConnection(psycopg.AsyncConnection[DictRow]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                return await super().connect(conninfo, **kwargs)
            except Exception as error:
                failed(error)
                raise

    return ReportingConnection


class _LoopPool:
    """psycopg_pool's pool for one event loop (its workers, locks and waiters belong to it),
    with the checkouts waiting on it and every connection it opened."""

    def __init__(self, config: DatabaseConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: set[asyncio.Task[Any]] = set()
        self.refused: dict[asyncio.Task[Any], Exception] = {}
        self.opened: weakref.WeakSet[Connection] = weakref.WeakSet()
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            config.url,
            connection_class=_reporting(self._refuse_waiting),
            kwargs=connect_kwargs(config),
            configure=self._opened,
            min_size=config.pool_size,
            max_size=config.pool_size + config.max_overflow,
            timeout=config.pool_timeout_s,
            reconnect_timeout=0,
            open=False,
            name=config.application_name,
        )

    async def _opened(self, connection: Connection) -> None:
        self.opened.add(connection)

    def _refuse_waiting(self, error: Exception) -> None:
        # Runs in the pool's worker that failed to connect. The waiting tasks are suspended in
        # getconn(): cancelling them delivers the cancellation there, and checkout() turns it
        # into DatabaseUnavailable.
        for task in self.waiting:
            if task not in self.refused:
                self.refused[task] = error
                task.cancel()

    def abandon(self) -> None:
        """Close the connections of a pool whose loop has ended (nothing can be awaited on it
        any more; closing a connection is a local call)."""
        for connection in list(self.opened):
            connection.pgconn.finish()


class Pool:
    """Connections for units of work, analytics and the health check.

    ``pool_size`` connections are kept (psycopg_pool's ``min_size``), up to ``max_overflow``
    more are opened under load and closed after ten idle minutes. psycopg_pool opens
    connections in the background and lets a checkout wait for one; two things are added:

    - When opening a connection fails, every checkout waiting at that moment fails with
      ``DatabaseUnavailable`` at once: a stopped server costs a request a refused connection,
      not ``pool_timeout_s``. The pool does not retry in the background either
      (``reconnect_timeout=0``): the next checkout asks for a connection again, so the first
      request after the server is back gets one.
    - ``lost()``: a connection the server dropped (a restart) is discarded, and so is every
      idle one (``drain``), without a round trip each; the pool refills in the background.

    A psycopg pool belongs to one event loop. A server process has one; a test harness that
    runs an app in a loop of its own (Litestar's test client) gets a pool per loop, and the
    pools of loops that have ended are closed at the next checkout or ``close()``.
    """

    def __init__(self, config: DatabaseConfig) -> None:
        self._config = config
        self._pools: dict[asyncio.AbstractEventLoop, _LoopPool] = {}
        self._current: _LoopPool | None = None
        self.in_use = 0

    def _for_this_loop(self) -> _LoopPool:
        loop = asyncio.get_running_loop()
        current = self._current
        if current is not None and current.loop is loop:
            return current
        for ended in [other for other in self._pools.values() if other.loop.is_closed()]:
            del self._pools[ended.loop]
            ended.abandon()
        current = self._pools.get(loop)
        if current is None:
            current = self._pools[loop] = _LoopPool(self._config, loop)
        self._current = current
        return current

    async def checkout(self, within_s: float | None = None) -> Connection:
        """A connection, within ``within_s`` (``pool_timeout_s`` without it), or
        ``DatabaseUnavailable``."""
        here = self._for_this_loop()
        if here.pool.closed:
            await here.pool.open()
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - always called from a task
            raise RuntimeError("a checkout needs a running task")
        here.waiting.add(task)
        try:
            connection = await here.pool.getconn(within_s)
        except asyncio.CancelledError:
            refusal = here.refused.pop(task, None)
            if refusal is None or task.uncancel() > 0:
                raise  # a cancellation of the caller's own
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE) from refusal
        except PoolTimeout as error:
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE) from error
        finally:
            here.waiting.discard(task)
        self.in_use += 1
        return connection

    async def give_back(self, connection: Connection) -> None:
        """Return ``connection`` (idle, or closed: the pool replaces a closed one)."""
        self.in_use -= 1
        await self._for_this_loop().pool.putconn(connection)

    async def lost(self, connection: Connection) -> None:
        """``connection`` was dropped by the server: give it back, and discard the idle ones
        too (the server restarted, or it is gone)."""
        await self.give_back(connection)
        logger.info("a database connection was lost; discarding the idle ones")
        await self._for_this_loop().pool.drain()

    def stats(self) -> dict[str, int]:
        """psycopg_pool's counters and sizes (``pool_size``, ``pool_available``...) for this
        loop's pool."""
        return self._for_this_loop().pool.get_stats()

    async def close(self) -> None:
        """Close every connection; the next checkout opens a new pool."""
        here = self._for_this_loop()
        del self._pools[here.loop]
        self._current = None
        await here.pool.close()
