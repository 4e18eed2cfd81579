"""End to end: the CLI beside a running ``salesbot serve`` on the embedded database. The data
commands use the server it shares (a newcomer's first day: serve, register, ``users grant-admin``,
open the console, with the server left running); the schema commands still refuse; once the
server has stopped, a command starts an embedded server of its own again."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from salesbot_core.catalogue import CatalogueFormat, read_products
from salesbot_postgres import migrations
from tests.support.database import fresh_embedded_home
from tests.support.serve import STOP_TIMEOUT_S, Served, serve_env, served

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

START_TIMEOUT_S = 90
CLI_TIMEOUT_S = 120
SAMPLE_CATALOGUE = Path(__file__).resolve().parents[2] / "docs" / "sample-catalogue.csv"
PASSWORD = "correct horse battery"


class Shop:
    """The running server and the environment its CLI runs in (the same data directory)."""

    def __init__(self, server: Served, env: Mapping[str, str], workdir: Path) -> None:
        self.server = server
        self.env = env
        self.workdir = workdir

    def salesbot(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -m salesbot_http.cli ARGS`` in its own process, beside the server."""
        return subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-m", "salesbot_http.cli", *args],
            cwd=self.workdir,
            env=dict(self.env),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )


@pytest.fixture(scope="module")
def shop() -> Iterator[Shop]:
    """One ``salesbot serve`` on the embedded database for the module's tests that keep it
    running."""
    with _serving_shop() as running:
        yield running


@contextlib.contextmanager
def _serving_shop() -> Iterator[Shop]:
    """``salesbot serve`` on the embedded database, its data directory and embedded home kept
    apart from its work directory so that they outlive the server."""
    with (
        fresh_embedded_home() as home,
        tempfile.TemporaryDirectory(prefix="salesbot-attach-") as base,
    ):
        env = serve_env(
            SALESBOT_DATA_DIR=str(Path(base) / "data"),
            SALESBOT_EMBEDDED_HOME=str(home),
            SHUTDOWN_TIMEOUT_S="10",
        )
        cli_dir = Path(base) / "cli"  # no developer .env here either
        cli_dir.mkdir()
        workdir = Path(tempfile.mkdtemp(prefix="salesbot-attach-serve-"))
        with served(env, workdir, start_timeout_s=START_TIMEOUT_S) as server:
            yield Shop(server, env, cli_dir)


def _attached_line(shop: Shop) -> str:
    return f"using the server of the salesbot serving it (process {shop.server.process.pid})"


def _register(http: httpx.Client, email: str) -> None:
    response = http.post(
        "/users/register", json={"email": email, "password": PASSWORD, "name": "Ann Admin"}
    )
    assert response.status_code == 201, response.text


def _login(http: httpx.Client, email: str) -> dict[str, str]:
    response = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['data']['accessToken']}"}


def _admin(shop: Shop, http: httpx.Client, email: str) -> dict[str, str]:
    _register(http, email)
    done = shop.salesbot("users", "grant-admin", email)
    assert done.returncode == 0, done.stderr
    return _login(http, email)


def _still_serving(shop: Shop) -> None:
    assert shop.server.process.poll() is None, shop.server.output()
    assert httpx.get(f"{shop.server.base_url}/health", timeout=30).status_code == 200


def test_grant_admin_while_serving_opens_the_admin_routes_to_a_fresh_login(shop: Shop) -> None:
    with httpx.Client(base_url=shop.server.base_url, timeout=30) as http:
        _register(http, "ann@example.com")
        before = _login(http, "ann@example.com")
        assert http.get("/admin/products", headers=before).status_code == 403

        done = shop.salesbot("users", "grant-admin", "ann@example.com")

        assert done.returncode == 0, done.stderr
        assert "ann@example.com is now an admin" in done.stdout
        assert _attached_line(shop) in done.stderr
        assert "Traceback" not in done.stderr
        after = _login(http, "ann@example.com")
        assert http.get("/admin/products", headers=after).status_code == 200
    _still_serving(shop)


def test_db_check_while_serving_reads_the_served_database(shop: Shop) -> None:
    done = shop.salesbot("db", "check")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("no violations (")
    assert _attached_line(shop) in done.stderr
    _still_serving(shop)


def test_catalogue_import_while_serving_is_what_the_admin_routes_list(shop: Shop) -> None:
    sample = list(read_products(SAMPLE_CATALOGUE.open("rb"), CatalogueFormat.CSV))
    with httpx.Client(base_url=shop.server.base_url, timeout=30) as http:
        admin = _admin(shop, http, "importer@example.com")

        done = shop.salesbot("catalogue", "import", str(SAMPLE_CATALOGUE), "--replace")

        assert done.returncode == 0, done.stderr
        assert _attached_line(shop) in done.stderr
        listed = http.get("/admin/products", params={"limit": 200}, headers=admin)
        assert listed.status_code == 200, listed.text
        products = {p["sku"]: p for p in listed.json()["data"]}
    assert sorted(products) == sorted(p.sku for p in sample)
    for product in sample:
        assert products[product.sku]["name"] == product.name
        assert products[product.sku]["price"] == f"{product.price:.2f}"
    _still_serving(shop)


def test_schema_commands_still_refuse_while_serving(shop: Shop) -> None:
    """A schema change belongs to the server's own start: ``db downgrade`` says the database is
    in use, in one line, exit status 2, and the schema stays at head."""
    done = shop.salesbot("db", "downgrade", "--", "-1")

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    [refusal] = done.stderr.strip().splitlines()
    assert refusal.startswith("salesbot: The embedded database in ")
    assert f"is in use by process {shop.server.process.pid}. Stop that salesbot first" in refusal
    assert "Traceback" not in done.stderr
    current = shop.salesbot("db", "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == migrations.head()
    _still_serving(shop)


def test_once_the_server_stops_a_command_starts_its_own_embedded_server() -> None:
    """With a server of its own, which it stops."""
    with _serving_shop() as shop:
        shop.server.process.send_signal(signal.SIGINT)
        assert shop.server.process.wait(timeout=STOP_TIMEOUT_S) == 0, shop.server.output()

        done = shop.salesbot("db", "check")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("no violations (")
    assert "using the server of the salesbot serving it" not in done.stderr
    assert "embedded PostgreSQL is running in" in done.stderr
