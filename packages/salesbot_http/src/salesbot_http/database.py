"""The database the CLI works on: the configured one, or the embedded server it starts.

PLACEHOLDER until ``salesbot_postgres`` lands on main: the embedded server and the alembic
commands are stubs that say so; ``serve`` then runs on the in-memory store of the container.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import click

from salesbot_http.settings import Settings

logger = logging.getLogger(__name__)


class DatabaseToolsUnavailable(click.ClickException):
    """A database command that needs ``salesbot_postgres``, which is not wired yet."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} needs salesbot_postgres, which is not wired in yet")


def redact(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def configured_database(settings: Settings, *, migrate: bool) -> Iterator[str | None]:
    """Yield the database URL to use. With the embedded default, start the server under the data
    directory first (and ``migrate`` it), and stop it on exit."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    # PLACEHOLDER: salesbot_postgres.EmbeddedPostgres(settings.data_dir) goes here.
    logger.warning("embedded PostgreSQL not wired yet: data lives in memory only")
    yield None


def upgrade(url: str | None, revision: str) -> None:
    raise DatabaseToolsUnavailable("db upgrade")


def downgrade(url: str | None, revision: str) -> None:
    raise DatabaseToolsUnavailable("db downgrade")


def current(url: str | None) -> None:
    raise DatabaseToolsUnavailable("db current")


def history(url: str | None) -> None:
    raise DatabaseToolsUnavailable("db history")


def revision(url: str | None, message: str, autogenerate: bool) -> None:
    raise DatabaseToolsUnavailable("db revision")
