"""The database stops while the app serves traffic: every request (and ``/health``) answers 503
within two seconds, none hangs, none is a 500; once the database is back, requests succeed again
within five seconds, with the same app (no restart).

The app runs on an embedded PostgreSQL server this test starts and stops itself (never the
shared test server), with its own connection pool, as ``salesbot serve`` would."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from salesbot_core.testing import ScriptedAssistant
from salesbot_http.app import create_app
from salesbot_http.container import build_container
from salesbot_http.settings import Settings
from salesbot_postgres import EmbeddedPostgres, migrations
from tests.api.api_helpers import PASSWORD, ok_data, replace_settings
from tests.api.conftest import Client

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ANSWER_WITHIN_S = 2.0
BACK_WITHIN_S = 5.0
WORKERS = 3


@pytest.fixture
async def embedded(embedded_home: Path) -> AsyncIterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="salesbot-outage-"))
    server = EmbeddedPostgres(base / "pgdata", server_home=embedded_home)
    try:
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(migrations.upgrade, server.url)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class Call:
    route: str
    started: float
    ended: float
    status: int

    @property
    def took(self) -> float:
        return self.ended - self.started


class Traffic:
    """A few clients looping over reads, writes and the health check, each call bounded."""

    def __init__(self, client: Client, headers: dict[str, str], conversation_id: str) -> None:
        self.calls: list[Call] = []
        self._client = client
        self._stop = asyncio.Event()
        self._routes: list[tuple[str, str, str, dict[str, Any] | None]] = [
            ("health", "GET", "/health", None),
            ("list", "GET", "/chat/conversations", None),
            ("history", "GET", f"/chat/history/{conversation_id}", None),
            ("send", "POST", "/chat/send", {"content": "still there?"}),
        ]
        self._headers = headers
        self._tasks: list[asyncio.Task[None]] = []

    async def _loop(self, offset: int) -> None:
        n = offset
        while not self._stop.is_set():
            route, method, path, body = self._routes[n % len(self._routes)]
            n += 1
            started = time.monotonic()
            # A call that outlasts this fails the test with a TimeoutError: it hung.
            async with asyncio.timeout(ANSWER_WITHIN_S + 3):
                response = await self._client.request(
                    method, path, json=body, headers=self._headers
                )
            self.calls.append(Call(route, started, time.monotonic(), response.status_code))
            await asyncio.sleep(0.01)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(n)) for n in range(WORKERS)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def between(self, start: float, end: float) -> list[Call]:
        return [c for c in self.calls if c.started >= start and c.ended <= end]


async def test_a_database_outage_is_503_fast_and_the_app_recovers_on_its_own(
    embedded: EmbeddedPostgres, settings: Settings
) -> None:
    container = build_container(
        replace_settings(settings, database_url=embedded.url, health_timeout_s=ANSWER_WITHIN_S)
    )
    container.assistants.assistant.override(providers.Object(ScriptedAssistant()))
    async with AsyncTestClient(app=create_app(container)) as client:
        register = {"email": "jane@example.com", "password": PASSWORD, "name": "Jane Doe"}
        ok_data(await client.post("/users/register", json=register), 201)
        login = ok_data(
            await client.post(
                "/auth/login", json={"email": register["email"], "password": PASSWORD}
            )
        )
        headers = {"Authorization": f"Bearer {login['accessToken']}"}
        sent = ok_data(
            await client.post("/chat/send", json={"content": "hi"}, headers=headers), 201
        )
        traffic = Traffic(client, headers, sent["conversation"]["id"])
        traffic.start()
        try:
            await asyncio.sleep(0.5)
            stopping = time.monotonic()
            await asyncio.to_thread(embedded.stop)
            down = time.monotonic()
            await asyncio.sleep(2.5)
            starting = time.monotonic()
            await asyncio.to_thread(embedded.start)
            up = time.monotonic()
            await asyncio.sleep(BACK_WITHIN_S + 1)
        finally:
            await traffic.stop()

    calls = traffic.calls
    assert {c.status for c in calls} <= {200, 201, 503}, sorted({c.status for c in calls})
    slowest = max(calls, key=lambda c: c.took)
    assert slowest.took <= ANSWER_WITHIN_S, slowest

    before = traffic.between(0, stopping)
    assert before
    assert {c.status for c in before} <= {200, 201}
    outage = traffic.between(down, starting)
    assert {c.route for c in outage} == {"health", "list", "history", "send"}
    assert {c.status for c in outage} == {503}, outage

    for route in ("health", "list", "history", "send"):
        back = [c for c in calls if c.route == route and c.started >= up and c.status < 300]
        assert back, f"{route} never succeeded after the database came back"
        assert back[0].ended - up <= BACK_WITHIN_S, (route, back[0].ended - up)
    settled = [c for c in calls if c.started >= up + BACK_WITHIN_S]
    assert settled
    assert {c.status for c in settled} <= {200, 201}, settled


def _server_processes(server: EmbeddedPostgres) -> list[int]:
    """The postmaster of this test's embedded server and its children."""
    postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if parent == str(postmaster):
                children.append(int(entry.name))
    return [postmaster, *children]


async def test_a_frozen_database_never_hangs_a_request(
    embedded: EmbeddedPostgres, settings: Settings
) -> None:
    """The server still holds its connections but answers nothing (its processes are stopped, as
    on a host that froze): requests with a pooled connection give up at the statement
    deadline, the health check after its timeout; nothing waits for ever."""
    container = build_container(
        replace_settings(settings, database_url=embedded.url, health_timeout_s=ANSWER_WITHIN_S)
    )
    container.assistants.assistant.override(providers.Object(ScriptedAssistant()))
    config = container.persistence.config()
    frozen: list[int] = []
    async with AsyncTestClient(app=create_app(container)) as client:
        register = {"email": "jane@example.com", "password": PASSWORD, "name": "Jane Doe"}
        ok_data(await client.post("/users/register", json=register), 201)
        login = ok_data(
            await client.post(
                "/auth/login", json={"email": register["email"], "password": PASSWORD}
            )
        )
        headers = {"Authorization": f"Bearer {login['accessToken']}"}
        ok_data(await client.get("/chat/conversations", headers=headers))  # a pooled connection
        try:
            frozen = _server_processes(embedded)
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            timings = []
            for path in ("/chat/conversations", "/health", "/chat/conversations"):
                began = time.monotonic()
                async with asyncio.timeout(config.statement_deadline_s + 3):
                    response = await client.get(path, headers=headers)
                timings.append((path, response.status_code, time.monotonic() - began))
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
        thawed = time.monotonic()
        async with asyncio.timeout(BACK_WITHIN_S):
            while (await client.get("/chat/conversations", headers=headers)).status_code != 200:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        back_after = time.monotonic() - thawed

    assert [status for _, status, _ in timings] == [503, 503, 503], timings
    assert timings[0][2] <= config.statement_deadline_s + 0.5, timings
    assert timings[1][2] <= ANSWER_WITHIN_S + 0.5, timings
    assert back_after <= BACK_WITHIN_S
