"""What this adapter raises, and how driver failures become the core's ``DatabaseUnavailable``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import exc as sa_exc

from salesbot_core.errors import DatabaseUnavailable

UNAVAILABLE_MESSAGE = "The database is unavailable; please try again shortly"


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL server could not be set up, started or stopped.

    ``reason`` says why in one line; ``details`` holds what the programs and the server log said,
    when there is any (``str()`` gives both)."""

    def __init__(self, reason: str, details: str = "") -> None:
        super().__init__(f"{reason}\n{details}" if details else reason)
        self.reason = " ".join(reason.split())
        self.details = details


def _holder(pid: int | None) -> str:
    """The process holding a data directory, as the messages name it."""
    return f"process {pid}" if pid else "another process"


class DataDirectoryInUse(EmbeddedPostgresError):
    """Another live process holds the embedded server's data directory.

    ``url`` is where that process's server takes clients, when it recorded it (a ``salesbot
    serve`` does once it has migrated the database); None while it is still starting, for a
    server started for one command, and in a lock file of an older salesbot."""

    def __init__(self, data_dir: Path, pid: int | None, url: str | None = None) -> None:
        holder = _holder(pid)
        super().__init__(
            f"The embedded database in {data_dir} is in use by {holder}. Stop that salesbot "
            "first, or point this one elsewhere (SALESBOT_DATA_DIR or DATABASE_URL)."
        )
        self.data_dir = data_dir
        self.pid = pid
        self.url = url


class DataDirectoryNotShared(DataDirectoryInUse):
    """A data command found the data directory held by a process that shares its server with
    no other command (yet): a ``salesbot serve`` still migrating, a command's own server, or an
    older salesbot. Waiting is often all it takes, so the message says so."""

    def __init__(self, in_use: DataDirectoryInUse) -> None:
        holder = _holder(in_use.pid)
        EmbeddedPostgresError.__init__(
            self,
            f"The embedded database in {in_use.data_dir} is in use by {holder}, which shares it "
            "with no other command yet. If that is salesbot serve starting, try again once it "
            "serves; else stop it first, or point this one elsewhere (SALESBOT_DATA_DIR or "
            "DATABASE_URL).",
        )
        self.data_dir = in_use.data_dir
        self.pid = in_use.pid
        self.url = None


class EmbeddedServerUnreachable(EmbeddedPostgresError):
    """A running salesbot shares its embedded server, but this process cannot connect to it:
    another OS user cannot enter the server's private socket directory, or the server died
    under the salesbot that started it."""

    def __init__(self, in_use: DataDirectoryInUse, why: str) -> None:
        holder = _holder(in_use.pid)
        super().__init__(
            f"The embedded database in {in_use.data_dir} is served by {holder} at {in_use.url}, "
            f"but this process cannot connect to it ({why}). Run this command as the user "
            "running that salesbot, or stop it first."
        )
        self.data_dir = in_use.data_dir
        self.pid = in_use.pid
        self.url = in_use.url


def is_unavailability(error: BaseException) -> bool:
    """True for failures that mean "the store cannot answer now": no connection, lost connection,
    no free connection in the pool (``PoolTimeout`` is an ``OperationalError``), a statement cut
    by ``statement_timeout`` or by the client's deadline, a server shutting down. Integrity and
    programming errors are not: retrying would not help."""
    if isinstance(error, sa_exc.DBAPIError):  # migrations run through SQLAlchemy's engine
        return error.connection_invalidated or (
            error.orig is not None and is_unavailability(error.orig)
        )
    return isinstance(
        error, OSError | TimeoutError | psycopg.OperationalError | psycopg.InterfaceError
    )


@contextmanager
def unavailable_on_failure() -> Iterator[None]:
    """Re-raise unavailability as ``DatabaseUnavailable`` (the driver error is kept as the cause
    for the logs; its text, which may hold SQL, never reaches the message)."""
    try:
        yield
    except (psycopg.Error, sa_exc.DBAPIError, OSError, TimeoutError) as error:
        if is_unavailability(error):
            raise DatabaseUnavailable(UNAVAILABLE_MESSAGE) from error
        raise
