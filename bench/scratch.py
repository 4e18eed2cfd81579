"""What the HTTP benchmarks share: a scratch PostgreSQL database (on a given server, or on an
embedded one started for the run), the real app on it through an in-process ASGI client, and
latency figures."""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from litestar import Litestar
from litestar.testing import AsyncTestClient
from psycopg import sql

from salesbot_http.app import create_app
from salesbot_http.container import Container, build_container
from salesbot_http.settings import Settings
from salesbot_postgres import EmbeddedPostgres, migrations, sqlalchemy_url

PASSWORD = "correct horse battery"  # noqa: S105 - the benchmark's throwaway accounts


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--database-url",
        help=(
            "a PostgreSQL server to create the scratch database on, e.g. "
            "postgresql://postgres@127.0.0.1:5432/postgres [default: an embedded server]"
        ),
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args()


@contextlib.contextmanager
def server_url(given: str | None) -> Iterator[str]:
    if given:
        yield given
        return
    base = Path(tempfile.mkdtemp(prefix="salesbot-bench-pg-"))
    server = EmbeddedPostgres(base / "pgdata")
    try:
        server.start()
        yield server.url_for("postgres")
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(given: str | None, *, keep: bool = False) -> Iterator[str]:
    """A new database migrated to head; dropped afterwards unless ``keep``."""
    with server_url(given) as server:
        name = f"salesbot_bench_{secrets.token_hex(4)}"
        with psycopg.connect(server, autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
            )
        url = (
            sqlalchemy_url(server)
            .set(drivername="postgresql", database=name)
            .render_as_string(hide_password=False)
        )
        try:
            migrations.upgrade(url)
            print(f"scratch database {name}")
            yield url
        finally:
            if not keep:
                with psycopg.connect(server, autocommit=True) as connection:
                    connection.execute(
                        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                            sql.Identifier(name)
                        )
                    )


@contextlib.asynccontextmanager
async def app_client(url: str) -> AsyncIterator[tuple[AsyncTestClient[Litestar], Container]]:
    """The real app (offline assistant, bcrypt at cost 4) on ``url``, in process, and its
    container."""
    settings = Settings(
        database_url=url,
        jwt_secret="bench-access-secret-" + "a" * 40,
        jwt_refresh_secret="bench-refresh-secret-" + "b" * 40,
        bcrypt_rounds=4,
    )
    container = build_container(settings)
    async with AsyncTestClient(app=create_app(container, run_scheduled_jobs=False)) as client:
        yield client, container


async def sign_up(
    client: AsyncTestClient[Litestar], email: str, *, register: bool = True
) -> tuple[str, dict[str, str]]:
    """Register (unless already done) and log in; the user's id and bearer header."""
    if register:
        registered = await client.post(
            "/users/register", json={"email": email, "password": PASSWORD, "name": "Bench User"}
        )
        assert registered.status_code == 201, registered.text
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    data = login.json()["data"]
    return data["user"]["id"], {"Authorization": f"Bearer {data['accessToken']}"}


def execute(url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement, params)


class Latency:
    """Milliseconds per call."""

    def __init__(self, samples: list[float]) -> None:
        self.samples = sorted(samples)

    def quantile(self, q: float) -> float:
        index = min(len(self.samples) - 1, max(0, round(q * len(self.samples)) - 1))
        return self.samples[index]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        return self.quantile(0.99)


async def measure(call: Callable[[], Awaitable[None]], *, runs: int, warmup: int) -> Latency:
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return Latency(samples)
