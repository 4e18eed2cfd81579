"""The database handle the composition root builds once: the connection pool, units of work,
analytics, the health check."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from salesbot_postgres import statements
from salesbot_postgres.config import DatabaseConfig
from salesbot_postgres.insight import PostgresInsight
from salesbot_postgres.integrity import PostgresIntegrity
from salesbot_postgres.pool import Connection, Pool
from salesbot_postgres.repositories import PostgresCatalogue
from salesbot_postgres.transaction import Transaction
from salesbot_postgres.unit_of_work import PostgresUnitOfWork

logger = logging.getLogger(__name__)


class Database:
    """PostgreSQL for salesbot. Constructing it connects to nothing; the pool opens on first use.

    ``db.unit_of_work`` is a core ``UnitOfWorkFactory``. Failures to reach the server surface as
    the core's ``DatabaseUnavailable``, and once the server is back the same object works again.
    """

    def __init__(self, config: DatabaseConfig, webhook_urls: Sequence[str] = ()) -> None:
        self.config = config
        self._pool = Pool(config)
        # Where the outbox's events go: one delivery per event and URL.
        self.webhook_urls = tuple(webhook_urls)

    def unit_of_work(self) -> PostgresUnitOfWork:
        return PostgresUnitOfWork(self._pool, self.config.statement_deadline_s, self.webhook_urls)

    def insight(self) -> PostgresInsight:
        """The core's ``SalesInsightReader`` over this database."""
        return PostgresInsight(self._pool, self.config.statement_deadline_s)

    def catalogue(self, ranked_matches: int = 200, loaded_ttl_s: float = 0.0) -> PostgresCatalogue:
        """The core's ``Catalogue`` (what a reply's grounding reads) over this database; a
        search ranks at most ``ranked_matches`` matches (``CATALOGUE_RANKED_MATCHES``), and a
        loaded catalogue is taken as loaded for ``loaded_ttl_s`` (see ``PostgresCatalogue``)."""
        return PostgresCatalogue(
            self._pool, self.config.statement_deadline_s, ranked_matches, loaded_ttl_s
        )

    def integrity(self) -> PostgresIntegrity:
        """The core's ``IntegrityChecker`` over this database (``salesbot db check``)."""
        return PostgresIntegrity(self._pool, self.config.statement_deadline_s)

    async def ping(self) -> bool:
        """True if the server answers ``SELECT 1``; never raises. False within ``ping_timeout_s``
        when no connection comes, or when the server does not answer the statement within as
        much again."""
        timeout = self.config.ping_timeout_s
        tx = Transaction(self._pool, timeout, checkout_timeout_s=timeout)
        try:
            await tx.open()
            try:
                await tx.read(statements.SELECT_1)
            finally:
                await tx.close()
        except Exception:
            # A health check answers; it does not raise. Unexpected failures are worth a log.
            logger.debug("database ping failed", exc_info=True)
            return False
        return True

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection (autocommit, rows as dicts) lent for the block, for maintenance
        and tests; given back when the block ends, whatever happened in it."""
        connection = await self._pool.checkout()
        try:
            yield connection
        finally:
            await self._pool.give_back(connection)

    @property
    def connections_in_use(self) -> int:
        """Connections checked out of the pool right now (0 when every unit of work ended)."""
        return self._pool.in_use

    def pool_stats(self) -> dict[str, int]:
        """psycopg_pool's figures (``pool_size``, ``pool_available``, ``requests_waiting``...)."""
        return self._pool.stats()

    async def dispose(self) -> None:
        """Close every pooled connection (at shutdown; the object can still be used after)."""
        await self._pool.close()
