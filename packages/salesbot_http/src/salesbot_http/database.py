"""The database the CLI works on: the configured one, the embedded server it starts, or the one a
running ``salesbot serve`` shares.

Migrations run synchronously here, before any event loop serves (``salesbot_postgres.migrations``
is blocking by design).
"""

from __future__ import annotations

import contextlib
import enum
import logging
from collections.abc import Callable, Iterator

import click

from salesbot_core.errors import DatabaseUnavailable
from salesbot_http.settings import Settings
from salesbot_postgres import (
    DataDirectoryInUse,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    EmbeddedServerUnreachable,
    migrations,
    redacted,
    shared_url,
)

logger = logging.getLogger(__name__)

EMBEDDED_FAILURE_EXIT = 2


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    return redacted(url)


def embedded_failure_line(error: EmbeddedPostgresError) -> str:
    """Why the embedded server cannot run, and what to do, in one line."""
    if isinstance(error, DataDirectoryInUse | EmbeddedServerUnreachable):  # they say what to do
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


class Purpose(enum.Enum):
    """What a command does with the database. With the embedded default it decides what happens
    when a running salesbot holds the data directory: only the data commands use its server."""

    # `serve`: starts the server, migrates it to head and, migrated, shares it until it stops.
    SERVE = "serve"
    # `db upgrade`, `db downgrade`, `db revision`: start a server of their own and are refused
    # while a salesbot serves: a schema change belongs to the server's own start.
    SCHEMA = "schema"
    # Every other command (rows read or written, `db current`): a client of the server a running
    # `salesbot serve` shares, else a server of its own for the command.
    DATA = "data"


@contextlib.contextmanager
def configured_database(
    settings: Settings, purpose: Purpose, *, before_sharing: Callable[[str], None] | None = None
) -> Iterator[str]:
    """Yield the database URL to use. With the embedded default, start the server under the data
    directory for the command (for ``SERVE``, migrate it, run ``before_sharing`` on it, such as
    the demo catalogue's import, and only then share it) and stop it on exit; for ``DATA``, when
    a running salesbot shares its server, use that as a client instead, with nothing started,
    stopped or migrated (the server migrated it as it started)."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir, server_home=settings.embedded_home)
    holder: DataDirectoryInUse | None = None
    with reported_failures():
        try:
            url = server.start()
        except DataDirectoryInUse as in_use:
            if purpose is not Purpose.DATA:
                raise
            url, holder = shared_url(in_use), in_use
    if holder is not None:
        logger.info(
            "embedded database: using the server of the salesbot serving it (process %s) as a "
            "client; nothing started or migrated",
            holder.pid,
        )
        yield url
        return
    try:
        if purpose is Purpose.SERVE:
            with reported_failures():
                migrations.upgrade(url)
                logger.info("embedded database migrated to %s", migrations.head())
            if before_sharing is not None:
                before_sharing(url)
            with reported_failures():
                server.share()
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
