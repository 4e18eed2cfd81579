"""End to end: the metadata distillation runs after the reply, from ``salesbot serve`` as a
process whose OpenAI-compatible assistant is the fake server of ``salesbot_openai.testing``: the
customer's answer does not wait for a slow distillation, which then lands; racing sends into a
due conversation make one distillation call; a server stopped before its distillation leaves the
conversation due, and the next server's exchange distils it."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import psycopg
import pytest

from salesbot_openai.testing import Delay, FakeOpenAIServer, RequestKind
from tests.support.database import migrated_database
from tests.support.serve import TEST_SECRETS, Served, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
PASSWORD = "correct horse battery"
# Far longer than a reply takes, far shorter than the distillation's budget.
SLOW_DISTILLATION_S = 4.0
LANDS_WITHIN_S = 60.0


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def server_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_distil_") as url:
        yield url


def _serve(fake_llm: FakeOpenAIServer, database_url: str) -> AbstractContextManager[Served]:
    env = serve_env(
        **TEST_SECRETS,
        DATABASE_URL=database_url,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_MAX_RETRIES="0",
        DISTIL_BUDGET_S="30",
        SHUTDOWN_TIMEOUT_S="3",
    )
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-distil-"))
    return served(env, workdir, start_timeout_s=START_TIMEOUT_S)


def _customer(http: httpx.Client) -> dict[str, str]:
    email = f"distil-{time.monotonic_ns()}@example.com"
    registered = http.post(
        "/users/register", json={"email": email, "password": PASSWORD, "name": "Jane Doe"}
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


def _stored(database_url: str, conversation_id: str) -> tuple[int, int, object]:
    """The conversation's message count, counter and metadata, read from the database."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT message_count, messages_since_context_update, metadata"
            " FROM conversations WHERE id = %s",
            (conversation_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _distilled(database_url: str, conversation_id: str) -> tuple[int, int, object]:
    """Wait (bounded) until the conversation's metadata has landed; how it stands then."""
    deadline = time.monotonic() + LANDS_WITHIN_S
    while (stored := _stored(database_url, conversation_id))[2] is None:
        assert time.monotonic() < deadline, "the distillation never landed"
        time.sleep(0.05)
    return stored


def test_the_reply_does_not_wait_for_a_slow_distillation_which_then_lands(
    fake_llm: FakeOpenAIServer, server_database: str
) -> None:
    fake_llm.enqueue(RequestKind.DISTIL, Delay(SLOW_DISTILLATION_S))
    with (
        _serve(fake_llm, server_database) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        auth = _customer(http)
        conversation = _send(http, auth, "I need a laptop", None)
        _send(http, auth, "for programming", conversation)

        began = time.monotonic()
        _send(http, auth, "under 1500 dollars", conversation)
        answered_in = time.monotonic() - began

        assert answered_in < SLOW_DISTILLATION_S
        assert _stored(server_database, conversation)[2] is None  # not landed yet
        count, counter, metadata = _distilled(server_database, conversation)
    assert (count, counter) == (6, 0)
    assert isinstance(metadata, dict)
    assert metadata["saleStatus"] == "interested"
    assert len(fake_llm.requests_of(RequestKind.DISTIL)) == 1


def test_eight_racing_sends_into_a_due_conversation_make_one_distillation_call(
    fake_llm: FakeOpenAIServer, server_database: str
) -> None:
    fake_llm.enqueue(RequestKind.DISTIL, Delay(SLOW_DISTILLATION_S))
    with (
        _serve(fake_llm, server_database) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        auth = _customer(http)
        conversation = _send(http, auth, "I need a laptop", None)
        _send(http, auth, "for programming", conversation)

        async def race() -> list[int]:
            async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
                answers = await asyncio.gather(
                    *(
                        client.post(
                            "/chat/send",
                            json={"content": f"racer {n}", "conversationId": conversation},
                            headers=auth,
                        )
                        for n in range(8)
                    )
                )
            return [a.status_code for a in answers]

        assert asyncio.run(race()) == [201] * 8
        count, _, _ = _distilled(server_database, conversation)
    assert count == 20
    assert len(fake_llm.requests_of(RequestKind.DISTIL)) == 1


def test_a_stop_before_the_distillation_leaves_it_due_for_the_next_exchange(
    fake_llm: FakeOpenAIServer, server_database: str
) -> None:
    # The first server stops (SHUTDOWN_TIMEOUT_S=3) while its distillation still waits.
    fake_llm.enqueue(RequestKind.DISTIL, Delay(30.0))
    with (
        _serve(fake_llm, server_database) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        auth = _customer(http)
        conversation = _send(http, auth, "I need a laptop", None)
        _send(http, auth, "for programming", conversation)
        _send(http, auth, "under 1500 dollars", conversation)
    count, counter, metadata = _stored(server_database, conversation)
    assert (count, counter, metadata) == (6, 6, None)

    with (
        _serve(fake_llm, server_database) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        http_auth = {"Authorization": auth["Authorization"]}
        _send(http, http_auth, "and light", conversation)
        count, counter, metadata = _distilled(server_database, conversation)
    assert (count, counter) == (8, 0)
    assert isinstance(metadata, dict)
