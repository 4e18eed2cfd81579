"""``salesbot serve`` told to stop (SIGTERM) while exchanges are waiting on a slow LLM: the requests
in flight still finish, the process exits cleanly, and no exchange is half-written.

The server is a real process on a free port, on a database of its own on the test PostgreSQL
server, with the real OpenAI adapter talking to the fake OpenAI server (replies delayed)."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from salesbot_openai.testing import Delay, FakeOpenAIServer
from tests.support.database import migrated_database
from tests.support.serve import STOP_TIMEOUT_S, TEST_SECRETS, Served, serve_env, served

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPLY_DELAY_S = 2.0
IN_FLIGHT = 8
START_TIMEOUT_S = 60
PASSWORD = "correct horse battery"


@pytest.fixture
def server_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_shutdown_") as url:
        yield url


@pytest.fixture
def slow_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        fake.set_default(Delay(REPLY_DELAY_S), kind="reply")
        yield fake


@pytest.fixture
def serve(server_database: str, slow_llm: FakeOpenAIServer) -> Iterator[Served]:
    env = serve_env(
        **TEST_SECRETS,
        DATABASE_URL=server_database,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=slow_llm.base_url,
        OPENAI_TIMEOUT_S="10",
        OPENAI_MAX_RETRIES="0",
    )
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-shutdown-"))
    with served(env, workdir, start_timeout_s=START_TIMEOUT_S) as running:
        yield running


def _data(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def _stored(database_url: str) -> list[tuple[Any, ...]]:
    """Per conversation: its counters, and its messages' senders in order."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        return connection.execute(
            """
            SELECT c.id, c.message_count, c.messages_since_context_update, c.distilled_through,
                   coalesce(array_agg(m.sender::text ORDER BY m.seq)
                            FILTER (WHERE m.id IS NOT NULL), '{}')
            FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
            GROUP BY c.id
            """
        ).fetchall()


async def _signed_in(http: httpx.AsyncClient) -> dict[str, str]:
    """Register Jane and log her in; her bearer header."""
    user = {"email": "jane@example.com", "password": PASSWORD, "name": "Jane Doe"}
    _data(await http.post("/users/register", json=user), 201)
    login = _data(
        await http.post("/auth/login", json={"email": user["email"], "password": PASSWORD}), 200
    )
    return {"Authorization": f"Bearer {login['accessToken']}"}


async def test_sigterm_lets_exchanges_in_flight_finish_and_writes_none_by_halves(
    serve: Served, slow_llm: FakeOpenAIServer, server_database: str
) -> None:
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as http:
        auth = await _signed_in(http)
        first = _data(
            await http.post("/chat/send", json={"content": "I need a laptop"}, headers=auth), 201
        )
        ongoing = first["conversation"]["id"]
        slow_llm.reset()
        slow_llm.set_default(Delay(REPLY_DELAY_S), kind="reply")

        # Half start conversations, half go on with one (two exchanges are then distilled).
        bodies = [
            {"content": f"question {n}"}
            if n % 2
            else {"content": f"question {n}", "conversationId": ongoing}
            for n in range(IN_FLIGHT)
        ]
        sends = [
            asyncio.create_task(http.post("/chat/send", json=body, headers=auth)) for body in bodies
        ]
        async with asyncio.timeout(10):
            # The fake server records requests on its own thread: poll.
            while len(slow_llm.requests_of("reply")) < IN_FLIGHT:  # noqa: ASYNC110
                await asyncio.sleep(0.02)

        serve.process.send_signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        responses = await asyncio.gather(*sends, return_exceptions=True)

    returncode = await asyncio.to_thread(serve.process.wait, STOP_TIMEOUT_S)
    stop_took = time.monotonic() - stopped_at
    output = serve.output()

    statuses = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in responses]
    assert statuses == [201] * IN_FLIGHT, f"{statuses}\n{output}"
    assert returncode == 0, output
    assert "Traceback" not in output
    assert stop_took < REPLY_DELAY_S + 10

    stored = _stored(server_database)
    assert len(stored) == 1 + IN_FLIGHT // 2
    for _, count, since_update, distilled_through, senders in stored:
        assert count == len(senders), stored
        assert senders == ["user", "bot"] * (count // 2), stored  # never a lone question
        assert since_update == count - distilled_through, stored
    assert sorted(count for _, count, *_ in stored) == [2] * (IN_FLIGHT // 2) + [
        2 + 2 * (IN_FLIGHT // 2)
    ]


async def test_an_exchange_whose_client_left_still_completes_before_the_process_stops(
    serve: Served, slow_llm: FakeOpenAIServer, server_database: str
) -> None:
    """A customer who closes the tab while the bot is thinking finds the exchange in the history
    later, even if the server was told to stop meanwhile: shutdown waits for requests in flight,
    not only for the connections still open, before it closes the LLM client and the pool."""
    async with httpx.AsyncClient(base_url=serve.base_url, timeout=30) as http:
        auth = await _signed_in(http)
        slow_llm.reset()
        slow_llm.set_default(Delay(REPLY_DELAY_S), kind="reply")
        send = asyncio.create_task(
            http.post("/chat/send", json={"content": "left before the answer"}, headers=auth)
        )
        async with asyncio.timeout(10):
            while not slow_llm.requests_of("reply"):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        send.cancel()  # the client goes away; its connection closes
        with pytest.raises(asyncio.CancelledError):
            await send

    serve.process.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(serve.process.wait, STOP_TIMEOUT_S)
    output = serve.output()

    assert returncode == 0, output
    assert "Traceback" not in output, output
    stored = _stored(server_database)
    assert [senders for *_, senders in stored] == [["user", "bot"]], f"{stored}\n{output}"
