"""The database the CLI works on: the configured one, or the embedded server it starts.

Migrations run synchronously here, before any event loop serves (``salesbot_postgres.migrations``
is blocking by design).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import click

from salesbot_core.errors import DatabaseUnavailable
from salesbot_http.settings import Settings
from salesbot_postgres import (
    DataDirectoryInUse,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    migrations,
    redacted,
)

logger = logging.getLogger(__name__)

EMBEDDED_FAILURE_EXIT = 2


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    return redacted(url)


def embedded_failure_line(error: EmbeddedPostgresError) -> str:
    """Why the embedded server cannot run, and what to do, in one line."""
    if isinstance(error, DataDirectoryInUse):  # its reason says what to do
        return f"salesbot: {error.reason}"
    return (
        f"salesbot: the embedded PostgreSQL cannot run: {error.reason.rstrip('.')}. "
        "Set DATABASE_URL to use your own PostgreSQL instead."
    )


@contextlib.contextmanager
def reported_failures() -> Iterator[None]:
    """Database failures a command cannot recover from, as one line: exit status 2 when the
    embedded server cannot run (a matter of setup), 1 when the database is unavailable."""
    try:
        yield
    except EmbeddedPostgresError as exc:  # includes DataDirectoryInUse
        if exc.details:
            logger.debug("what the embedded PostgreSQL said:\n%s", exc.details)
        click.echo(embedded_failure_line(exc), err=True)
        raise SystemExit(EMBEDDED_FAILURE_EXIT) from None
    except DatabaseUnavailable as exc:
        cause = f" ({type(exc.__cause__).__name__})" if exc.__cause__ else ""
        raise click.ClickException(f"{exc.message}{cause}") from None


def require_migrated(url: str) -> None:
    """Refuse, in one line, to work on a database whose schema is not at head."""
    with reported_failures():
        now, head = migrations.current(url), migrations.head()
    if now != head:
        raise click.ClickException(
            f"the database schema is at {now or 'base (never migrated)'}, not {head}: "
            "run `salesbot db upgrade` first"
        )


@contextlib.contextmanager
def configured_database(settings: Settings, *, migrate: bool) -> Iterator[str]:
    """Yield the database URL to use. With the embedded default, start the server under the data
    directory first (and ``migrate`` it to head), and stop it on exit."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir, server_home=settings.embedded_home)
    with reported_failures():
        url = server.start()
    try:
        if migrate:
            with reported_failures():
                migrations.upgrade(url)
            logger.info("embedded database migrated to %s", migrations.head())
        yield url
    finally:
        with reported_failures():
            server.stop()


def upgrade(url: str, revision: str) -> str:
    with reported_failures():
        migrations.upgrade(url, revision)
        return migrations.current(url) or "base"


def downgrade(url: str, revision: str) -> str:
    with reported_failures():
        migrations.downgrade(url, revision)
        return migrations.current(url) or "base"


def current(url: str) -> str | None:
    with reported_failures():
        return migrations.current(url)


def history() -> list[str]:
    return migrations.history()


def revision(url: str, message: str, autogenerate: bool) -> str:
    with reported_failures():
        return str(migrations.revision(url, message, autogenerate))
