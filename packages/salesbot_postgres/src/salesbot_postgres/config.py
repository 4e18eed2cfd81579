"""How to reach PostgreSQL: the connection settings and the libpq-to-SQLAlchemy URL conversion
(alembic's)."""

from __future__ import annotations

import math

import msgspec
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_POSTGRES_SCHEMES = ("postgresql", "postgres")
_ANSWER_MARGIN_S = 1.0


class DatabaseConfig(msgspec.Struct, frozen=True):
    """Connection settings.

    ``url`` is in libpq form (``postgresql://user:pass@host:port/db``; ``?host=/socket/dir`` for a
    unix socket). ``pool_timeout_s`` bounds the wait for a free connection,
    ``statement_timeout_ms`` every statement on the server, ``connect_timeout_s`` a new connection
    (libpq counts whole seconds, at least 2), ``ping_timeout_s`` the health check.
    """

    url: str
    pool_size: int = 10
    max_overflow: int = 10
    pool_timeout_s: float = 5.0
    statement_timeout_ms: int = 5000
    connect_timeout_s: float = 3.0
    ping_timeout_s: float = 2.0
    application_name: str = "salesbot"

    def __post_init__(self) -> None:
        if self.pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if self.max_overflow < 0:
            raise ValueError("max_overflow cannot be negative")
        for name in ("pool_timeout_s", "connect_timeout_s", "ping_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.statement_timeout_ms < 1:
            raise ValueError("statement_timeout_ms must be positive")
        sqlalchemy_url(self.url)  # refuse a malformed URL now, not at the first request

    @property
    def statement_deadline_s(self) -> float:
        """The longest the client waits for one statement before it abandons the connection:
        the server's own ``statement_timeout`` and a second for the answer to travel. A server
        that has not answered by then has frozen or is cut off."""
        return self.statement_timeout_ms / 1000 + _ANSWER_MARGIN_S

    @property
    def connect_timeout_whole_s(self) -> int:
        """libpq's ``connect_timeout`` takes whole seconds, and treats 1 as 2."""
        return max(2, math.ceil(self.connect_timeout_s))


def sqlalchemy_url(url: str) -> URL:
    """The SQLAlchemy URL (psycopg 3 driver) for a libpq-style ``postgresql://`` URL.

    Query parameters (``host=/socket/dir``, ``sslmode``...) pass through to libpq.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Never the parser's own words: they quote the URL, password included (a port that is
        # not a number quotes what follows the last ":", such as "w0rd@host").
        raise ValueError(
            "the database URL is not a valid postgresql:// URL (is its port a number? a password "
            "holding @ : or / must be percent-encoded)"
        ) from None
    scheme = parsed.drivername.split("+", 1)[0]
    if scheme not in _POSTGRES_SCHEMES:
        raise ValueError(f"the database URL must start with postgresql://, not {scheme}://")
    return parsed.set(drivername="postgresql+psycopg")


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and error messages."""
    try:
        return sqlalchemy_url(url).set(drivername="postgresql").render_as_string()
    except ValueError:
        return "<invalid database URL>"
