"""alembic's environment for salesbot: online migrations only, against ``salesbot.url`` (set
by ``salesbot_postgres.migrations``), serialised by an advisory lock so that several server
processes starting at once migrate one after another."""

from __future__ import annotations

import zlib

from alembic import context
from sqlalchemy import BigInteger, Connection, create_engine, func, literal, pool, select
from sqlalchemy.engine import URL

from salesbot_postgres.schema import Base

MIGRATION_LOCK = zlib.crc32(b"salesbot:migrations")


def _lock(connection: Connection, name: str) -> None:
    connection.execute(select(getattr(func, name)(literal(MIGRATION_LOCK, BigInteger))))
    connection.commit()


def _migrate(connection: Connection) -> None:
    _lock(connection, "pg_advisory_lock")
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    # On failure the lock goes with the connection, which is closed right after.
    _lock(connection, "pg_advisory_unlock")


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("salesbot runs its migrations online only (no --sql)")
    url = context.config.attributes.get("salesbot.url")
    if not isinstance(url, URL):
        raise TypeError("run migrations through salesbot_postgres.migrations (no URL was given)")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


run()
