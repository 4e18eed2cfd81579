"""PostgreSQL for tests, reusable by every suite.

- ``postgres_server_url``: a server to create databases on: ``SALESBOT_TEST_DATABASE_URL`` when
  set (CI: the server on 127.0.0.1:5432, shared with other test runs), else an embedded server
  started for this session in a temporary directory.
- ``database_url``: this session's own database (``salesbot_t_<hex>``), migrated to head and
  dropped at the end, so concurrent test runs on one server never meet.
- ``database``: a ``Database`` on it whose tables are emptied before each test.

Use ``create_database``/``drop_database`` for a test that needs a database of its own.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from salesbot_postgres import Database, DatabaseConfig, EmbeddedPostgres, migrations, sqlalchemy_url
from salesbot_postgres.schema import Base

TEST_DATABASE_ENV = "SALESBOT_TEST_DATABASE_URL"
DATABASE_PREFIX = "salesbot_t_"


def url_with_database(server_url: str, name: str) -> str:
    """``server_url`` pointing at database ``name`` (libpq form)."""
    url = sqlalchemy_url(server_url).set(drivername="postgresql", database=name)
    return url.render_as_string(hide_password=False)


def create_database(server_url: str, prefix: str = DATABASE_PREFIX) -> tuple[str, str]:
    """Create an empty, uniquely named database; return its name and URL."""
    name = f"{prefix}{secrets.token_hex(6)}"
    # From template0, which nobody can connect to: copying template1 fails while another
    # session (another test run on a shared server) is connected to it.
    statement = sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'")
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(statement.format(sql.Identifier(name)))
    return name, url_with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    configured = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if configured:
        yield configured
        return
    # Not under pytest's tmp_path: as root the server runs as another account, which must be
    # able to reach its directory.
    base = Path(tempfile.mkdtemp(prefix="salesbot-test-pg-"))
    server = EmbeddedPostgres(base / "pgdata")
    try:
        server.start()
        yield server.url_for("postgres")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    name, url = create_database(postgres_server_url)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="session")
async def session_database(database_url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(database_url, pool_size=5, max_overflow=25))
    yield database
    await database.dispose()


async def empty_tables(database: Database) -> None:
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with database.connection() as connection:
        await connection.execute(f"TRUNCATE {tables} CASCADE")  # autocommit


@pytest.fixture
async def database(session_database: Database) -> Database:
    """The session's database with every table empty."""
    await empty_tables(session_database)
    return session_database
