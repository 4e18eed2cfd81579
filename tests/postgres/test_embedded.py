"""The embedded server: first start, persistence across restarts, the data-directory lock, clean
stops, and recovery from a salesbot that died without stopping it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from salesbot_postgres import DataDirectoryInUse, EmbeddedPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: as root the server runs as another account that must reach it.
    base = Path(tempfile.mkdtemp(prefix="salesbot-embedded-"))
    yield base / "pgdata"
    _stop_any_server(base / "pgdata")
    shutil.rmtree(base, ignore_errors=True)


def _stop_any_server(data_dir: Path) -> None:
    """Whatever a test left behind (a failed assertion, the orphan test) is stopped here."""
    if (data_dir / "postgres" / "postmaster.pid").exists():
        leftover = EmbeddedPostgres(data_dir)
        leftover.start()
        leftover.stop()


def _run_python(code: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter, with ``data_dir`` as ``sys.argv[1]``."""
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(code), str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _query(url: str, statement: str) -> object:
    with psycopg.connect(url, connect_timeout=5, autocommit=True) as connection:
        cursor = connection.execute(statement)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def test_data_survives_a_restart_at_the_same_address(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    url = server.start()
    try:
        assert server.start() == url  # idempotent
        assert _query(url, "SELECT current_database()") == "salesbot"
        _query(url, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')")
        server.stop()
        assert not server.running
        with pytest.raises(psycopg.OperationalError):
            _query(url, "SELECT 1")
        assert server.start() == url
        assert _query(url, "SELECT note FROM kept") == "still here"
        assert (data_dir / "postgres" / "PG_VERSION").exists()
    finally:
        server.stop()


def test_another_process_on_the_same_data_dir_is_refused(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    server.start()
    try:
        attempt = _run_python(
            """
            import sys
            from pathlib import Path
            from salesbot_postgres import DataDirectoryInUse, EmbeddedPostgres
            try:
                EmbeddedPostgres(Path(sys.argv[1])).start()
            except DataDirectoryInUse as error:
                print(error.pid)
                print(error, file=sys.stderr)
                sys.exit(3)
            """,
            data_dir,
        )
        assert attempt.returncode == 3, attempt.stderr
        assert attempt.stdout.strip() == str(os.getpid())
        assert "in use by process" in attempt.stderr
        # A second handle in this process is refused too, and the server keeps running.
        with pytest.raises(DataDirectoryInUse):
            EmbeddedPostgres(data_dir).start()
        assert _query(server.url, "SELECT 1") == 1
    finally:
        server.stop()
    # Once stopped, the directory is free again.
    follower = EmbeddedPostgres(data_dir)
    follower.start()
    follower.stop()


def test_the_context_manager_stops_the_server_on_exit(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir) as server:
        url = server.url
        assert _query(url, "SELECT 1") == 1
    assert not (data_dir / "postgres" / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        _query(url, "SELECT 1")


def test_a_server_left_by_a_dead_process_is_taken_over(data_dir: Path) -> None:
    died = _run_python(
        """
        import os
        import sys
        from pathlib import Path
        import psycopg
        from salesbot_postgres import EmbeddedPostgres
        url = EmbeddedPostgres(Path(sys.argv[1])).start()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE survivor (n int); INSERT INTO survivor VALUES (7)")
        os._exit(0)  # dies without stopping the server
        """,
        data_dir,
    )
    assert died.returncode == 0, died.stderr
    assert (data_dir / "postgres" / "postmaster.pid").exists()  # the orphan still runs
    server = EmbeddedPostgres(data_dir)
    try:
        url = server.start()
        assert _query(url, "SELECT n FROM survivor") == 7
    finally:
        server.stop()


def test_a_port_serves_on_localhost_tcp(data_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedPostgres(data_dir, port=port) as server:
        assert server.url == f"postgresql://postgres@127.0.0.1:{port}/salesbot"
        assert _query(server.url, "SELECT inet_server_port()") == port
