"""``POST /chat/send/stream`` through the test client: the events in order, the final one exactly
what ``/chat/send`` answers, failures before the stream as envelopes, failures midway as an
``error`` event with nothing stored. Disconnecting midway is tested over real HTTP in
``tests/e2e/test_stream_serve.py``."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from dependency_injector import providers

from salesbot_core.errors import AssistantTimeout, AssistantUnavailable
from salesbot_core.offline import OfflineSalesAssistant
from salesbot_core.ports import Generated, ReplyDelta, ReplyRequest, UnitOfWorkFactory
from salesbot_core.testing import FailMidStream, ScriptedAssistant
from salesbot_http.app import create_app
from salesbot_http.container import Container
from tests.api.api_helpers import Customer, error_body, ok_data
from tests.api.conftest import Client, Settle
from tests.api.sse import Event, events_of, reply_text
from tests.api.test_chat_api import send, start

PATH = "/chat/send/stream"


async def stream(
    client: Client, who: Customer, content: str, conversation_id: str | None = None
) -> Any:
    body: dict[str, Any] = {"content": content}
    if conversation_id is not None:
        body["conversationId"] = conversation_id
    return await client.post(PATH, json=body, headers=who.headers)


def _streamed(response: Any) -> list[Event]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-store"
    return events_of(response.text)


def _shape(value: Any) -> Any:
    """The keys of a JSON value, recursively (values left out)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    return type(value).__name__


async def _history(client: Client, who: Customer, conversation_id: str) -> dict[str, Any]:
    found: dict[str, Any] = ok_data(
        await client.get(f"/chat/history/{conversation_id}", headers=who.headers)
    )
    return found


async def _counter(uow_factory: UnitOfWorkFactory, who: Customer, conversation_id: str) -> int:
    async with uow_factory() as uow:
        conversation = await uow.conversations.get_for_user(
            uuid.UUID(conversation_id), uuid.UUID(who.id)
        )
    assert conversation is not None
    return conversation.messages_since_context_update


async def test_the_reply_comes_in_pieces_then_the_stored_exchange(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.titles.append("Programming Laptop Search")
    assistant.replies.append("What kind of programming do you do?")

    events = _streamed(await stream(client, customer, "  I need a laptop for programming "))

    assert [e.event for e in events] == ["delta"] * 7 + ["done"]
    assert [e.data for e in events[:-1]] == [
        {"text": piece} for piece in ("What ", "kind ", "of ", "programming ", "do ", "you ")
    ] + [{"text": "do?"}]
    done = events[-1].data
    assert set(done) == {"conversation", "userMessage", "botMessage"}
    assert done["conversation"]["title"] == "Programming Laptop Search"
    assert done["userMessage"]["content"] == "I need a laptop for programming"
    assert done["botMessage"]["content"] == reply_text(events)
    # Stored: the history holds exactly the two messages the final event announced.
    history = await _history(client, customer, done["conversation"]["id"])
    assert history["messages"] == [done["userMessage"], done["botMessage"]]


async def test_the_final_event_is_what_chat_send_answers(
    client: Client, customer: Customer
) -> None:
    conversation_id = await start(client, customer)
    sent = ok_data(await send(client, customer, "Web development", conversation_id), 201)

    events = _streamed(await stream(client, customer, "And a mouse?", conversation_id))

    done = events[-1].data
    assert _shape(done) == _shape(sent)
    assert done["conversation"] == sent["conversation"]
    assert done["botMessage"]["content"] == "Reply to: And a mouse?"
    assert (await _history(client, customer, conversation_id))["totalMessages"] == 6


async def test_a_streamed_exchange_counts_like_a_sent_one(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    uow_factory: UnitOfWorkFactory,
    settle: Settle,
) -> None:
    first = _streamed(await stream(client, customer, "one"))[-1].data
    conversation_id = first["conversation"]["id"]
    assert await _counter(uow_factory, customer, conversation_id) == 2
    _streamed(await stream(client, customer, "two", conversation_id))

    _streamed(await stream(client, customer, "three", conversation_id))
    await settle()

    # The third exchange distilled the metadata and reset the counter, as /chat/send does.
    assert len(assistant.distil_requests) == 1
    assert await _counter(uow_factory, customer, conversation_id) == 0


async def test_the_offline_assistant_streams(
    client: Client, customer: Customer, container: Container
) -> None:
    container.assistants.assistant.override(providers.Object(OfflineSalesAssistant()))

    events = _streamed(await stream(client, customer, "Hi, I'm looking for a laptop for design"))

    deltas = [e for e in events if e.event == "delta"]
    assert len(deltas) > 3
    assert events[-1].event == "done"
    assert events[-1].data["botMessage"]["content"] == reply_text(events)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "x" * 5001}, "content"),
        ({}, "content"),
        ({"content": "hi", "conversationId": "not-a-uuid"}, "conversationId"),
        ({"content": "hi", "stream": True}, "stream"),
    ],
)
async def test_the_body_is_validated_before_the_stream(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post(PATH, json=body, headers=customer.headers)

    assert field in error_body(response, 400, PATH)["message"]
    assert assistant.reply_requests == []


async def test_anonymous_is_401_before_the_stream(client: Client) -> None:
    error_body(await client.post(PATH, json={"content": "hi"}), 401, PATH)


async def test_an_unknown_or_foreign_conversation_is_404_before_the_stream(
    client: Client, customer: Customer, sign_up: Any
) -> None:
    other = await sign_up()
    theirs = await start(client, other)

    for conversation_id in (str(uuid.uuid4()), theirs):
        response = await stream(client, customer, "hello", conversation_id)
        assert error_body(response, 404, PATH)["message"] == "Conversation not found"


@pytest.mark.parametrize(
    ("failure", "status"),
    [(AssistantUnavailable("upstream 500: secret"), 502), (AssistantTimeout("timeout"), 504)],
)
async def test_an_assistant_failing_before_the_first_piece_is_an_error_envelope(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    failure: Exception,
    status: int,
) -> None:
    assistant.replies.append(failure)

    body = error_body(await stream(client, customer, "hello"), status, PATH)

    assert "secret" not in body["message"]
    assert ok_data(await client.get("/chat/conversations", headers=customer.headers)) == []


@pytest.mark.parametrize(
    ("failure", "status"),
    [(AssistantUnavailable("connection reset: secret"), 502), (AssistantTimeout("stall"), 504)],
)
async def test_an_assistant_failing_midway_is_an_error_event_and_stores_nothing(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    uow_factory: UnitOfWorkFactory,
    failure: Exception,
    status: int,
) -> None:
    conversation_id = await start(client, customer)
    before = await _history(client, customer, conversation_id)
    assistant.replies.append(FailMidStream(text="Let me check our laptops", error=failure))

    events = _streamed(await stream(client, customer, "Any offers?", conversation_id))

    assert [e.event for e in events] == ["delta"] * 5 + ["error"]
    assert reply_text(events) == "Let me check our laptops"
    error = events[-1].data
    assert set(error) == {"message", "status"}
    assert error["status"] == status
    assert "try again" in error["message"]
    assert "secret" not in error["message"]
    assert await _history(client, customer, conversation_id) == before
    assert await _counter(uow_factory, customer, conversation_id) == 2
    # The same request can be sent again.
    retried = _streamed(await stream(client, customer, "Any offers?", conversation_id))
    assert retried[-1].event == "done"


async def test_a_new_conversation_failing_midway_is_not_created(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.replies.append(FailMidStream(text="Hello there", error=AssistantUnavailable("x")))

    events = _streamed(await stream(client, customer, "hello"))

    assert events[-1].event == "error"
    assert ok_data(await client.get("/chat/conversations", headers=customer.headers)) == []


class _ClosableAssistant(ScriptedAssistant):
    """Streams like the scripted assistant and notes whether its stream was closed midway."""

    closed_early = False

    async def stream_reply(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        try:
            async for event in super().stream_reply(request):
                yield event
        except GeneratorExit:
            self.closed_early = True
            raise


async def test_a_client_gone_while_a_piece_is_being_sent_closes_the_exchange(
    container: Container, customer: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    """The client disconnects while the server is blocked sending a piece: the exchange is
    suspended between pieces, not waiting on the assistant, so only the response's closing of the
    event generator ends it. (Over real HTTP, ``tests/e2e`` disconnects while the LLM stalls.)"""
    assistant = _ClosableAssistant(replies=["one two three four five"])
    container.assistants.assistant.override(providers.Object(assistant))
    first_piece_sent = asyncio.Event()
    sent: list[bytes] = []

    async def receive() -> dict[str, Any]:
        if not sent:
            body = json.dumps({"content": "hello"}).encode()
            return {"type": "http.request", "body": body, "more_body": False}
        await first_piece_sent.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.append(b"")
            return
        if first_piece_sent.is_set():
            await asyncio.Event().wait()  # a client that no longer reads: blocked for ever
        sent.append(message["body"])
        if b"event: delta" in message["body"]:
            first_piece_sent.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"authorization", customer.headers["Authorization"].encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async with asyncio.timeout(10):
        await create_app(container, run_scheduled_jobs=False)(scope, receive, send)

    assert b"event: done" not in b"".join(sent)
    assert assistant.closed_early
    async with uow_factory() as uow:
        assert await uow.conversations.list_for_user(uuid.UUID(customer.id)) == []
