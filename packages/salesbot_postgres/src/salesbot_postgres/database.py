"""The database handle the composition root builds once: the async engine and its pool, units of
work, the health check."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from salesbot_postgres.config import DatabaseConfig, sqlalchemy_url
from salesbot_postgres.insight import PostgresInsight
from salesbot_postgres.unit_of_work import PostgresUnitOfWork

logger = logging.getLogger(__name__)


def _json_dumps(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def build_engine(config: DatabaseConfig) -> AsyncEngine:
    """An engine that recovers by itself: each checkout pings its connection first
    (``pool_pre_ping``), so connections broken by a server restart are replaced, not handed out."""
    url = sqlalchemy_url(config.url)
    server_options = (
        f"-c statement_timeout={config.statement_timeout_ms} "
        # Timestamps come back in UTC whatever the server's default time zone is.
        "-c TimeZone=UTC"
    )
    given = url.query.get("options")
    if given:  # the URL's own ?options=... come first, ours are appended
        extra = given if isinstance(given, str) else " ".join(given)
        server_options = f"{extra} {server_options}"
        url = url.difference_update_query(["options"])
    return create_async_engine(
        url,
        pool_size=config.pool_size,
        max_overflow=config.max_overflow,
        pool_timeout=config.pool_timeout_s,
        pool_pre_ping=True,
        # Units of work read in autocommit until their first write (see ``Transaction``), which
        # sees the same data only under READ COMMITTED: pinned against a server or role default.
        isolation_level="READ COMMITTED",
        json_serializer=_json_dumps,
        connect_args={
            "connect_timeout": config.connect_timeout_whole_s,
            "options": server_options,
            "application_name": config.application_name,
        },
    )


class Database:
    """PostgreSQL for salesbot. Constructing it connects to nothing; the pool fills on demand.

    ``db.unit_of_work`` is a core ``UnitOfWorkFactory``. Failures to reach the server surface as
    the core's ``DatabaseUnavailable``, and once the server is back the same object works again.
    """

    def __init__(self, config: DatabaseConfig) -> None:
        self.config = config
        self._engine = build_engine(config)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def unit_of_work(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self._engine, self.config.checkout_timeout_s)

    def insight(self) -> PostgresInsight:
        """The core's ``SalesInsightReader`` over this database."""
        return PostgresInsight(self._engine)

    async def ping(self) -> bool:
        """True if the server answers ``SELECT 1`` within ``ping_timeout_s``; never raises."""
        try:
            async with asyncio.timeout(self.config.ping_timeout_s):
                async with self._engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
        except Exception:
            # A health check answers; it does not raise. Unexpected failures are worth a log.
            logger.debug("database ping failed", exc_info=True)
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown; the object can still be used after)."""
        await self._engine.dispose()
