"""End to end: ``POST /chat/send/stream`` over real HTTP, from ``salesbot serve`` as a process (on
granian, with a database of its own) whose OpenAI-compatible assistant is the fake server of
``salesbot_openai.testing``, scripted per test: the pieces arrive as the LLM writes them, a client
that disconnects midway stores nothing and stops the LLM stream, an LLM failing midway is an
``error`` event with nothing stored."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from salesbot_openai.testing import (
    DropMidStream,
    ErrorMidStream,
    FakeOpenAIServer,
    MidStream,
    RequestKind,
    StallMidStream,
    StreamEnd,
)
from tests.api.sse import Event, parse_events, reply_text
from tests.support.database import migrated_database
from tests.support.serve import TEST_SECRETS, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
PASSWORD = "correct horse battery"
# Long enough that a test finishing before it proves the stall was cut short, not waited out.
LONG_STALL_S = 20.0


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="module")
def server_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_sse_") as url:
        yield url


@pytest.fixture(scope="module")
def base_url(fake_llm: FakeOpenAIServer, server_database: str) -> Iterator[str]:
    env = serve_env(
        **TEST_SECRETS,
        DATABASE_URL=server_database,
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_TIMEOUT_S="60",
        OPENAI_DEADLINE_S="120",
        OPENAI_MAX_RETRIES="0",
    )
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-sse-"))
    with served(env, workdir, start_timeout_s=START_TIMEOUT_S) as running:
        yield running.base_url


@pytest.fixture
def llm(fake_llm: FakeOpenAIServer) -> FakeOpenAIServer:
    fake_llm.reset()
    return fake_llm


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


@pytest.fixture
def auth(http: httpx.Client) -> dict[str, str]:
    """A new customer's bearer header."""
    email = f"sse-{time.monotonic_ns()}@example.com"
    registered = http.post(
        "/users/register", json={"email": email, "password": PASSWORD, "name": "Jane Doe"}
    )
    assert registered.status_code == 201, registered.text
    login = http.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['data']['accessToken']}"}


def _start(http: httpx.Client, auth: dict[str, str]) -> str:
    sent = http.post("/chat/send", json={"content": "I need a laptop"}, headers=auth)
    assert sent.status_code == 201, sent.text
    conversation_id: str = sent.json()["data"]["conversation"]["id"]
    return conversation_id


def _stored(database_url: str, conversation_id: str) -> tuple[int, int, list[str]]:
    """The conversation's message count, counter and messages, read from the database."""
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT message_count, messages_since_context_update FROM conversations WHERE id = %s",
            (conversation_id,),
        ).fetchone()
        assert row is not None
        contents = connection.execute(
            "SELECT content FROM messages WHERE conversation_id = %s ORDER BY seq",
            (conversation_id,),
        ).fetchall()
    return row[0], row[1], [content for (content,) in contents]


def _timed_events(response: httpx.Response) -> list[tuple[float, Event]]:
    """Each event with the moment it arrived."""
    timed: list[tuple[float, Event]] = []
    block: list[str] = []
    for line in response.iter_lines():
        block.append(line)
        if not line:
            timed.extend((time.monotonic(), event) for event in parse_events(block))
            block = []
    return timed


def test_the_reply_arrives_piece_by_piece_as_the_llm_writes_it(
    http: httpx.Client, auth: dict[str, str], llm: FakeOpenAIServer
) -> None:
    llm.enqueue(
        RequestKind.REPLY,
        StallMidStream(seconds=1.5, after_chunks=3, content="Sure! Which screen size suits you?"),
    )

    with http.stream(
        "POST", "/chat/send/stream", json={"content": "I need a laptop"}, headers=auth
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        timed = _timed_events(response)

    events = [event for _, event in timed]
    assert [e.event for e in events[:-1]] == ["delta"] * (len(events) - 1)
    assert events[-1].event == "done"
    done = events[-1].data
    assert (
        done["botMessage"]["content"] == reply_text(events) == "Sure! Which screen size suits you?"
    )
    # The first pieces were on the wire while the LLM was still stalling, not held back.
    first_arrived, done_arrived = timed[0][0], timed[-1][0]
    assert done_arrived - first_arrived > 1.0
    history = http.get(f"/chat/history/{done['conversation']['id']}", headers=auth).json()
    assert history["data"]["messages"] == [done["userMessage"], done["botMessage"]]


def test_a_client_that_disconnects_midway_leaves_nothing(
    http: httpx.Client, auth: dict[str, str], llm: FakeOpenAIServer, server_database: str
) -> None:
    conversation_id = _start(http, auth)
    before = _stored(server_database, conversation_id)
    llm.reset()
    llm.enqueue(
        RequestKind.REPLY,
        StallMidStream(seconds=LONG_STALL_S, after_chunks=2, content="Our best offer is the X1"),
    )
    body = {"content": "Any offers?", "conversationId": conversation_id}

    started = time.monotonic()
    with http.stream("POST", "/chat/send/stream", json=body, headers=auth) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines) == "event: delta"  # the LLM is now stalling midway
    # Leaving the block closed the connection. The server closes the exchange, which closes
    # the LLM stream long before the stall would have ended.
    assert llm.wait_for_stream_ends(1, timeout=LONG_STALL_S / 2) == [StreamEnd.CLIENT_CLOSED]
    assert time.monotonic() - started < LONG_STALL_S / 2

    assert _stored(server_database, conversation_id) == before
    # The same message can be sent again, and is stored once.
    retried = http.post("/chat/send", json=body, headers=auth)
    assert retried.status_code == 201, retried.text
    count, _, contents = _stored(server_database, conversation_id)
    assert count == before[0] + 2
    assert contents.count("Any offers?") == 1


@pytest.mark.parametrize(
    "failure",
    [
        ErrorMidStream(after_chunks=2, content="Let me look that up for you"),
        DropMidStream(after_chunks=2, content="Let me look that up for you"),
    ],
    ids=["error-event", "dropped"],
)
def test_an_llm_failing_midway_is_an_error_event_and_stores_nothing(
    http: httpx.Client,
    auth: dict[str, str],
    llm: FakeOpenAIServer,
    server_database: str,
    failure: MidStream,
) -> None:
    conversation_id = _start(http, auth)
    before = _stored(server_database, conversation_id)
    llm.enqueue(RequestKind.REPLY, failure)

    response = http.post(
        "/chat/send/stream",
        json={"content": "Any offers?", "conversationId": conversation_id},
        headers=auth,
    )

    assert response.status_code == 200
    events = parse_events(response.text.splitlines())
    assert [e.event for e in events] == ["delta"] * (len(events) - 1) + ["error"]
    assert len(events) > 1
    error: dict[str, Any] = events[-1].data
    assert error["status"] == 502
    assert "try again" in error["message"]
    assert _stored(server_database, conversation_id) == before


def test_errors_before_the_stream_are_envelopes_over_http(
    http: httpx.Client, auth: dict[str, str]
) -> None:
    invalid = http.post("/chat/send/stream", json={"content": " "}, headers=auth)
    anonymous = http.post("/chat/send/stream", json={"content": "hi"})

    for response, status in ((invalid, 400), (anonymous, 401)):
        assert response.status_code == status
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["success"] is False
