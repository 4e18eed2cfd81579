"""End to end: signed webhooks from ``salesbot serve`` processes to a real HTTP receiver started
by the test. Every event arrives with a valid signature; a receiver that answers 500 three times
gets the event once more with the same delivery id while another receiver is not held up; a
worker killed (SIGKILL) while the receiver holds its request has the event delivered after the
restart."""

from __future__ import annotations

import itertools
import os
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.support.database import migrated_database
from tests.support.receiver import Received, receiving
from tests.support.serve import TEST_SECRETS, Served, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
PASSWORD = "correct horse battery"
SECRET = "webhook-secret-for-the-e2e-tests-" + "z" * 16
LEASE_S = 3.0


@pytest.fixture
def server_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_hooks_") as url:
        yield url


def _serve(database_url: str, urls: Sequence[str], **extra: str) -> AbstractContextManager[Served]:
    env = serve_env(
        **TEST_SECRETS,
        DATABASE_URL=database_url,
        SHUTDOWN_TIMEOUT_S="3",
        WEBHOOK_URLS=",".join(urls),
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_POLL_INTERVAL_S="0.2",
        WEBHOOK_RETRY_BASE_S="0.2",
        WEBHOOK_TIMEOUT_S="2",
        WEBHOOK_BATCH="10",  # one wave of POSTs, inside the short lease
        WEBHOOK_LEASE_S=str(LEASE_S),
        **extra,
    )
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-hooks-"))
    return served(env, workdir, start_timeout_s=START_TIMEOUT_S)


def _customer(http: httpx.Client, email: str) -> dict[str, str]:
    registered = http.post(
        "/users/register",
        json={"email": email, "password": PASSWORD, "name": "Jane Doe", "phone": "+14155552671"},
    )
    assert registered.status_code == 201, registered.text
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}


def _send(http: httpx.Client, auth: dict[str, str], text: str, conversation: str | None) -> str:
    body = {"content": text} | ({"conversationId": conversation} if conversation else {})
    sent = http.post("/chat/send", json=body, headers=auth)
    assert sent.status_code == 201, sent.text
    conversation_id: str = sent.json()["data"]["conversation"]["id"]
    return conversation_id


def _of(received: Sequence[Received], event: str) -> list[Received]:
    return [r for r in received if r.event == event]


def _accepted(received: Sequence[Received]) -> list[Received]:
    return [r for r in received if r.answered is not None and 200 <= r.answered < 300]


def test_every_event_arrives_signed_and_a_failing_receiver_gets_it_again(
    server_database: str,
) -> None:
    with (
        receiving() as crm,
        receiving(answers=[500, 500, 500]) as flaky,
        _serve(server_database, [crm.url, flaky.url]) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        email = f"hooks-{time.monotonic_ns()}@example.com"
        auth = _customer(http, email)
        conversation = _send(http, auth, "I am looking for a laptop", None)

        created = crm.wait_for(lambda r: len(_of(r, "conversation.created")) == 1)[0]
        assert created.answered == 200
        assert created.signed_with(SECRET)
        assert not created.signed_with(SECRET + "x")
        assert created.headers["content-type"] == "application/json"
        body = created.json()
        assert body["type"] == "conversation.created"
        assert body["id"] == created.delivery
        assert body["data"]["conversation"]["id"] == conversation  # type: ignore[index]

        # The flaky receiver: 500 three times, then 200; each time the same delivery.
        tries = flaky.wait_for(lambda r: len(_accepted(r)) == 1)
        assert [t.answered for t in tries] == [500, 500, 500, 200]
        assert {t.delivery for t in tries} == {tries[0].delivery}
        assert tries[0].delivery != created.delivery  # one delivery per event and URL
        assert {t.json()["eventId"] for t in tries} == {body["eventId"]}
        assert all(t.signed_with(SECRET) for t in tries)
        # A later backoff step waits longer than the one before it.
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(tries)]
        assert gaps[2] > gaps[0]

        # Two more exchanges make the metadata due: its distillation moves the sale status.
        _send(http, auth, "for programming, with a good screen", conversation)
        _send(http, auth, "how much is the cheapest one?", conversation)
        seen = crm.wait_for(lambda r: len(_of(r, "lead.status_changed")) == 1)
        changed = _of(seen, "lead.status_changed")[0]
        data = changed.json()["data"]
        assert changed.signed_with(SECRET)
        assert data["from"] == "exploring"  # type: ignore[index]
        assert data["to"] != "exploring"  # type: ignore[index]
        assert data["customer"]["email"] == email  # type: ignore[index]
        assert data["customer"]["phone"] == "+14155552671"  # type: ignore[index]
        assert data["customer"]["name"] == "Jane Doe"  # type: ignore[index]
        assert data["conversation"]["id"] == conversation  # type: ignore[index]
        assert data["metadata"]["saleStatus"] == data["to"]  # type: ignore[index]
        entered = {"negotiating": "lead.hot", "closed": "lead.closed", "lost": "lead.lost"}
        if data["to"] in entered:  # type: ignore[index]
            crm.wait_for(lambda r: len(_of(r, entered[data["to"]])) == 1)  # type: ignore[index]
        flaky.wait_for(lambda r: len(_of(_accepted(r), "lead.status_changed")) == 1)
        # Each receiver accepted each event exactly once.
        for receiver in (crm, flaky):
            accepted = [r.delivery for r in _accepted(receiver.received)]
            assert len(accepted) == len(set(accepted))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def _pending(database_url: str) -> list[tuple[str, int]]:
    with psycopg.connect(database_url) as connection:
        return [
            (row[0], row[1])
            for row in connection.execute(
                "SELECT status, attempts FROM webhook_deliveries ORDER BY created_at"
            ).fetchall()
        ]


def test_a_worker_killed_mid_delivery_delivers_the_event_after_the_restart(
    server_database: str,
) -> None:
    with receiving() as crm:
        crm.holding = True
        with (
            _serve(server_database, [crm.url]) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            auth = _customer(http, f"killed-{time.monotonic_ns()}@example.com")
            _send(http, auth, "I am looking for a laptop", None)
            held = crm.wait_for(lambda r: len(r) == 1)[0]
            # The worker is mid-delivery: it posted and waits for the answer. Kill it, and the
            # server process with it, without a chance to record anything.
            for child in _children(server.process.pid):
                os.kill(child, signal.SIGKILL)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(30)
        crm.release()
        assert _pending(server_database) == [("pending", 1)]  # claimed, never answered

        with _serve(server_database, [crm.url]):
            again = crm.wait_for(lambda r: len(_accepted(r)) == 1, timeout_s=LEASE_S + 60)
            # The receiver answered; the worker records the outcome just after.
            deadline = time.monotonic() + 30
            while (rows := _pending(server_database)) != [("delivered", 2)]:
                assert time.monotonic() < deadline, rows
                time.sleep(0.05)
    delivered = _accepted(again)[0]
    assert delivered.delivery == held.delivery
    assert delivered.body == held.body
    assert delivered.signed_with(SECRET)
