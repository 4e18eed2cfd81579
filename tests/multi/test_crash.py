"""A serving worker killed with SIGKILL in the middle of sustained sends leaves nothing half
written: after a restart ``salesbot db check`` finds no violation (the webhooks' outbox
included), and the conversations go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.database import migrated_database
from tests.support.receiver import receiving
from tests.support.serve import TEST_SECRETS, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
PASSWORD = "correct horse battery"
CONNECTIONS = 4
SENDS_PER_CONNECTION = 50  # 200 sends at most
KILL_AFTER_SENDS = 60
DEADLINE_S = 120.0


@pytest.fixture
def crash_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_crash_") as url:
        yield url


def _env(database_url: str, webhook_url: str) -> dict[str, str]:
    return serve_env(
        **TEST_SECRETS,
        DATABASE_URL=database_url,
        SHUTDOWN_TIMEOUT_S="5",
        # The outbox is written with every change, so db check has events to account for.
        WEBHOOK_URLS=webhook_url,
        WEBHOOK_SECRET="crash-webhook-secret-" + "z" * 40,
    )


def _workers_of(pid: int) -> list[int]:
    """The processes ``salesbot serve`` started (granian's workers)."""
    found = subprocess.run(  # noqa: S603 - a fixed command
        ["/usr/bin/pgrep", "-P", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in found.stdout.split()]


def _db_check(env: dict[str, str], workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "salesbot_http.cli", "db", "check"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )


def _events(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT type, count(*) FROM webhook_events GROUP BY type"
        ).fetchall()
    return {row[0]: row[1] for row in rows}


def test_a_worker_killed_during_sends_leaves_no_violation(crash_database: str) -> None:
    with receiving() as crm:
        _killed_during_sends(crash_database, _env(crash_database, crm.url))


def _killed_during_sends(crash_database: str, env: dict[str, str]) -> None:
    conversations: list[str | None] = [None] * CONNECTIONS
    sent = 0
    counting = threading.Lock()
    enough = threading.Event()

    def keep_sending(index: int, base_url: str, auth: dict[str, str]) -> None:
        nonlocal sent
        with httpx.Client(base_url=base_url, headers=auth, timeout=30) as http:
            for n in range(SENDS_PER_CONNECTION):
                body = {"content": f"I need a laptop, message {n}"}
                if conversations[index]:
                    body["conversationId"] = conversations[index]
                try:
                    answer = http.post("/chat/send", json=body)
                except httpx.TransportError:
                    return  # the worker is gone
                if answer.status_code != 201:
                    return  # refused while it went down (503): nothing to continue
                conversations[index] = answer.json()["data"]["conversation"]["id"]
                with counting:
                    sent += 1
                    if sent >= KILL_AFTER_SENDS:
                        enough.set()

    with served(
        env, Path(tempfile.mkdtemp(prefix="salesbot-crash-1-")), start_timeout_s=START_TIMEOUT_S
    ) as first:
        email = f"crash-{time.monotonic_ns()}@example.com"
        with httpx.Client(base_url=first.base_url, timeout=30) as http:
            registered = http.post(
                "/users/register", json={"email": email, "password": PASSWORD, "name": "Jane"}
            )
            assert registered.status_code == 201, registered.text
            login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}
        senders = [
            threading.Thread(target=keep_sending, args=(n, first.base_url, auth))
            for n in range(CONNECTIONS)
        ]
        for sender in senders:
            sender.start()
        assert enough.wait(timeout=DEADLINE_S), f"only {sent} sends went through"
        workers = _workers_of(first.process.pid)
        assert workers, "salesbot serve has no worker process"
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
        for sender in senders:
            sender.join(timeout=DEADLINE_S)
        assert not any(sender.is_alive() for sender in senders)
        killed_at = sent
        assert killed_at < CONNECTIONS * SENDS_PER_CONNECTION, "the kill came after every send"

    workdir = Path(tempfile.mkdtemp(prefix="salesbot-crash-check-"))
    checked = _db_check(env, workdir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no violations" in checked.stdout

    with (
        served(
            env, Path(tempfile.mkdtemp(prefix="salesbot-crash-2-")), start_timeout_s=START_TIMEOUT_S
        ) as again,
        httpx.Client(base_url=again.base_url, headers=auth, timeout=30) as http,
    ):
        for conversation in filter(None, conversations):
            body = {"content": "still there?", "conversationId": conversation}
            answer = http.post("/chat/send", json=body)
            assert answer.status_code == 201, answer.text
        # A deleted conversation's events stay in the outbox, accounted for by the deletion.
        doomed = next(filter(None, conversations))
        assert http.delete(f"/chat/conversations/{doomed}").status_code == 200
    assert _events(crash_database).get("conversation.created", 0) >= 1

    checked = _db_check(env, workdir)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no violations" in checked.stdout
