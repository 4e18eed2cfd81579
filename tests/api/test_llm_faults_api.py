"""The LLM failing, through the whole app: the real OpenAI adapter (and SDK) talks to the fake
OpenAI server over HTTP, the exchange goes through ``POST /chat/send`` onto PostgreSQL. Each
failure answers 502 or 504 within the configured budget, stores nothing, and the same request
succeeds once the LLM is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient

from salesbot_http.app import create_app
from salesbot_http.container import Container
from salesbot_http.errors import ASSISTANT_TIMEOUT, ASSISTANT_UNAVAILABLE
from salesbot_http.settings import Settings
from salesbot_openai.testing import (
    MALFORMED_JSON,
    Completion,
    Delay,
    FakeOpenAIServer,
    HttpError,
    Outcome,
)
from salesbot_postgres import Database
from tests.api.api_helpers import PASSWORD, error_body, ok_data, replace_settings
from tests.api.conftest import Client

pytestmark = pytest.mark.postgres

# Long enough that a busy machine's fake server answers an attempt before the client gives up
# on it (a 429 must stay a 429, not become a timeout); what is meant to time out waits SLOW_S,
# far past the deadline, so "within the deadline" shows the client did not wait for it.
TIMEOUT_S = 1.0
DEADLINE_S = 4.0  # two attempts and the SDK's back-off fit in it
SLOW_S = 15.0
SLACK_S = 2.0  # for a busy machine
SECRET = "upstream-secret-detail-9c1d"


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
async def app_client(
    container: Container, settings: Settings, llm: FakeOpenAIServer
) -> AsyncIterator[Client]:
    """The app with the real OpenAI adapter on the fake server (one retry, short timeouts)."""
    llm.reset()
    container.settings.override(
        providers.Object(
            replace_settings(
                settings,
                openai_api_key="sk-test-key",
                openai_base_url=llm.base_url,
                openai_timeout_s=TIMEOUT_S,
                openai_max_retries=1,
                openai_deadline_s=DEADLINE_S,
            )
        )
    )
    container.assistants.assistant.reset_override()
    async with AsyncTestClient(app=create_app(container)) as client:
        yield client


async def _customer(client: Client) -> dict[str, str]:
    email = f"{uuid.uuid4().hex}@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Jane Doe"}
    ok_data(await client.post("/users/register", json=body), 201)
    login = ok_data(await client.post("/auth/login", json={"email": email, "password": PASSWORD}))
    return {"Authorization": f"Bearer {login['accessToken']}"}


async def _stored(database: Database) -> list[Any]:
    """Every conversation and message row: equal before and after means nothing was written."""
    async with database.connection() as connection:
        conversations = await (
            await connection.execute(
                "SELECT id, title, message_count, messages_since_context_update, "
                "distilled_through, updated_at FROM conversations ORDER BY id"
            )
        ).fetchall()
        messages = await (
            await connection.execute("SELECT id, seq, content FROM messages ORDER BY id")
        ).fetchall()
    return [*conversations, *messages]


FAULTS: dict[str, tuple[Outcome | None, int, str]] = {
    "429 after the retry": (HttpError(429, SECRET), 502, ASSISTANT_UNAVAILABLE),
    "500 after the retry": (HttpError(500, SECRET), 502, ASSISTANT_UNAVAILABLE),
    "slower than the timeout": (Delay(SLOW_S), 504, ASSISTANT_TIMEOUT),
    "malformed JSON": (MALFORMED_JSON, 502, ASSISTANT_UNAVAILABLE),
    "connection refused": (None, 502, ASSISTANT_UNAVAILABLE),  # the server is stopped
}


@pytest.mark.parametrize("fault", FAULTS, ids=list(FAULTS))
@pytest.mark.parametrize("conversation", ["new", "ongoing"])
async def test_a_failing_llm_is_502_or_504_in_budget_stores_nothing_and_can_be_retried(
    app_client: Client, llm: FakeOpenAIServer, database: Database, fault: str, conversation: str
) -> None:
    outcome, status, message = FAULTS[fault]
    headers = await _customer(app_client)
    body: dict[str, Any] = {"content": "¿Tienes cafeteras con molinillo?"}
    if conversation == "ongoing":
        started = ok_data(
            await app_client.post("/chat/send", json={"content": "Hola"}, headers=headers), 201
        )
        body["conversationId"] = started["conversation"]["id"]
    before = await _stored(database)
    if outcome is None:
        llm.stop()
    else:
        llm.set_default(outcome)

    try:
        began = time.perf_counter()
        response = await app_client.post("/chat/send", json=body, headers=headers)
        took = time.perf_counter() - began
    finally:
        if outcome is None:
            llm.start()  # the same port again
        llm.set_default(None)

    answer = error_body(response, status, "/chat/send")
    assert answer["message"] == message
    assert SECRET not in response.text
    assert llm.base_url not in response.text
    assert took < DEADLINE_S + SLACK_S, took
    assert await _stored(database) == before

    retried = ok_data(await app_client.post("/chat/send", json=body, headers=headers), 201)
    assert retried["botMessage"]["content"] == f"Reply to: {body['content']}"
    history = ok_data(
        await app_client.get(f"/chat/history/{retried['conversation']['id']}", headers=headers)
    )
    assert history["totalMessages"] == (2 if conversation == "new" else 4)


async def test_a_server_that_keeps_asking_to_wait_is_cut_at_the_deadline(
    app_client: Client, llm: FakeOpenAIServer, database: Database
) -> None:
    headers = await _customer(app_client)
    llm.set_default(HttpError(429, retry_after_ms=60_000))
    before = await _stored(database)

    began = time.perf_counter()
    response = await app_client.post("/chat/send", json={"content": "Hola"}, headers=headers)

    error_body(response, 504, "/chat/send")
    assert time.perf_counter() - began < DEADLINE_S + SLACK_S
    assert await _stored(database) == before


async def test_nul_characters_in_the_llms_answer_are_dropped_not_a_500(
    app_client: Client, llm: FakeOpenAIServer
) -> None:
    headers = await _customer(app_client)
    llm.enqueue("title", Completion("Cafe\x00teras"))
    llm.enqueue("reply", Completion("Tenemos\x00 dos modelos"))

    sent = ok_data(
        await app_client.post("/chat/send", json={"content": "Hola"}, headers=headers), 201
    )

    assert sent["botMessage"]["content"] == "Tenemos dos modelos"
    assert sent["conversation"]["title"] == "Cafeteras"
