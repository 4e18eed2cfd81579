"""``/chat``: sending messages, listing, reading (both paths), renaming and deleting
conversations; another user's conversation is 404 everywhere; a failing assistant stores nothing."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from dependency_injector import providers

from salesbot_core.domain import SalesMetadata
from salesbot_core.errors import AssistantTimeout, AssistantUnavailable
from salesbot_core.ports import (
    DistillationRequest,
    Distilled,
    UnitOfWorkFactory,
)
from salesbot_core.testing import FakeClock, ScriptedAssistant
from salesbot_http.container import Container
from tests.api.api_helpers import Customer, error_body, ok_data
from tests.api.conftest import Client, Settle, SignUp

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def send(
    client: Client, who: Customer, content: str, conversation_id: str | None = None
) -> Any:
    body: dict[str, Any] = {"content": content}
    if conversation_id is not None:
        body["conversationId"] = conversation_id
    return await client.post("/chat/send", json=body, headers=who.headers)


async def start(client: Client, who: Customer, content: str = "I need a laptop") -> str:
    data = ok_data(await send(client, who, content), 201)
    conversation_id: str = data["conversation"]["id"]
    return conversation_id


def _message_shape(message: dict[str, Any], conversation_id: str, sender: str) -> None:
    assert set(message) == {"id", "conversationId", "content", "sender", "createdAt"}
    assert uuid.UUID(message["id"])
    assert message["conversationId"] == conversation_id
    assert message["sender"] == sender
    assert ISO_UTC.match(message["createdAt"])


async def test_send_starts_a_conversation_with_a_title(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.titles.append("Programming Laptop Search")
    assistant.replies.append("What kind of programming do you do?")

    response = await send(client, customer, "  Hi, I am looking for a laptop for programming  ")

    data = ok_data(response, 201)
    assert set(data) == {"conversation", "userMessage", "botMessage"}
    conversation = data["conversation"]
    assert set(conversation) == {"id", "title"}
    assert conversation["title"] == "Programming Laptop Search"
    _message_shape(data["userMessage"], conversation["id"], "user")
    _message_shape(data["botMessage"], conversation["id"], "bot")
    assert data["userMessage"]["content"] == "Hi, I am looking for a laptop for programming"
    assert data["botMessage"]["content"] == "What kind of programming do you do?"
    assert response.json()["message"] == "Message sent successfully"


async def test_send_continues_a_conversation(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    conversation_id = await start(client, customer)

    data = ok_data(await send(client, customer, "Web development", conversation_id), 201)

    assert data["conversation"]["id"] == conversation_id
    history = ok_data(
        await client.get(f"/chat/history/{conversation_id}", headers=customer.headers)
    )
    assert history["totalMessages"] == 4
    # The reply prompt carried the earlier exchange.
    assert [t.content for t in assistant.reply_requests[-1].recent_turns] == [
        "I need a laptop",
        "Reply to: I need a laptop",
    ]


async def test_every_third_exchange_distils_the_metadata(
    client: Client, customer: Customer, assistant: ScriptedAssistant, settle: Settle
) -> None:
    conversation_id = await start(client, customer, "one")
    await send(client, customer, "two", conversation_id)
    assert assistant.distil_requests == []

    await send(client, customer, "three", conversation_id)
    await settle()

    assert len(assistant.distil_requests) == 1
    assert [t.content for t in assistant.distil_requests[0].turns if t.sender == "user"] == [
        "one",
        "two",
        "three",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   \n\t "}, "content"),
        ({"content": "x" * 5001}, "content"),
        ({"content": 5}, "content"),
        ({}, "content"),
        ({"content": "hi", "conversationId": "not-a-uuid"}, "conversationId"),
        ({"content": "hi", "conversationId": 12}, "conversationId"),
        ({"content": "hi", "model": "gpt-4"}, "model"),
    ],
)
async def test_send_validates_its_body(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post("/chat/send", json=body, headers=customer.headers)

    assert field in error_body(response, 400, "/chat/send")["message"]
    assert assistant.reply_requests == []


async def test_content_is_counted_after_trimming(client: Client, customer: Customer) -> None:
    padded = "  " + "x" * 5000 + "\n "

    data = ok_data(await send(client, customer, padded), 201)

    assert data["userMessage"]["content"] == "x" * 5000


async def test_send_into_an_unknown_conversation_is_404(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    response = await send(client, customer, "hello", str(uuid.uuid4()))

    assert error_body(response, 404, "/chat/send")["message"] == "Conversation not found"
    assert assistant.reply_requests == []


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (AssistantUnavailable("upstream 500: secret internals"), 502),
        (AssistantTimeout("read timeout after 10s"), 504),
    ],
)
async def test_a_failing_assistant_stores_nothing(
    client: Client,
    customer: Customer,
    assistant: ScriptedAssistant,
    failure: Exception,
    status: int,
) -> None:
    conversation_id = await start(client, customer)
    assistant.replies.append(failure)

    response = await send(client, customer, "and a mouse?", conversation_id)

    body = error_body(response, status, "/chat/send")
    assert "secret internals" not in body["message"]
    assert "try again" in body["message"]
    history = ok_data(
        await client.get(f"/chat/history/{conversation_id}", headers=customer.headers)
    )
    assert history["totalMessages"] == 2
    # The same request succeeds once the assistant is back.
    retry = await send(client, customer, "and a mouse?", conversation_id)
    assert retry.status_code == 201


async def test_a_failing_assistant_creates_no_conversation(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.replies.append(AssistantTimeout("timeout"))

    error_body(await send(client, customer, "hello"), 504, "/chat/send")

    listed = ok_data(await client.get("/chat/conversations", headers=customer.headers))
    assert listed == []


async def test_conversations_are_listed_most_recently_updated_first(
    client: Client, customer: Customer, sign_up: SignUp, clock: FakeClock
) -> None:
    first = await start(client, customer, "first")
    clock.advance(timedelta(minutes=1))
    second = await start(client, customer, "second")
    clock.advance(timedelta(minutes=1))
    await send(client, customer, "back to the first", first)
    other = await sign_up()
    await start(client, other, "not yours")

    listed = ok_data(await client.get("/chat/conversations", headers=customer.headers))

    assert [c["id"] for c in listed] == [first, second]
    for conversation in listed:
        assert set(conversation) == {"id", "title", "createdAt", "updatedAt"}
        assert ISO_UTC.match(conversation["createdAt"])
        assert ISO_UTC.match(conversation["updatedAt"])
    assert listed[0]["updatedAt"] > listed[0]["createdAt"]


@pytest.mark.parametrize("path", ["/chat/conversations/{id}/history", "/chat/history/{id}"])
async def test_history_is_oldest_first_on_both_paths(
    client: Client, customer: Customer, path: str
) -> None:
    conversation_id = await start(client, customer, "one")
    await send(client, customer, "two", conversation_id)

    response = await client.get(path.format(id=conversation_id), headers=customer.headers)

    data = ok_data(response)
    assert set(data) == {"conversationId", "title", "messages", "totalMessages", "nextBefore"}
    assert data["conversationId"] == conversation_id
    assert data["totalMessages"] == 4
    assert data["nextBefore"] is None
    assert [m["content"] for m in data["messages"]] == [
        "one",
        "Reply to: one",
        "two",
        "Reply to: two",
    ]
    assert [m["sender"] for m in data["messages"]] == ["user", "bot", "user", "bot"]


async def test_both_history_paths_answer_the_same(client: Client, customer: Customer) -> None:
    conversation_id = await start(client, customer)

    new = await client.get(
        f"/chat/conversations/{conversation_id}/history", headers=customer.headers
    )
    old = await client.get(f"/chat/history/{conversation_id}", headers=customer.headers)

    assert ok_data(new) == ok_data(old)


async def test_rename_sets_the_title(client: Client, customer: Customer) -> None:
    conversation_id = await start(client, customer)

    response = await client.patch(
        f"/chat/conversations/{conversation_id}/title",
        json={"title": "  Gaming   laptop  "},
        headers=customer.headers,
    )

    data = ok_data(response)
    assert data["id"] == conversation_id
    assert data["title"] == "Gaming laptop"
    assert set(data) == {"id", "title", "createdAt", "updatedAt"}
    history = ok_data(
        await client.get(f"/chat/history/{conversation_id}", headers=customer.headers)
    )
    assert history["title"] == "Gaming laptop"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 256}, "title"),
        ({}, "title"),
        ({"title": "ok", "pinned": True}, "pinned"),
    ],
)
async def test_rename_validates_the_title(
    client: Client, customer: Customer, body: dict[str, Any], field: str
) -> None:
    conversation_id = await start(client, customer)
    path = f"/chat/conversations/{conversation_id}/title"

    response = await client.patch(path, json=body, headers=customer.headers)

    assert field in error_body(response, 400, path)["message"]


async def test_a_255_character_title_is_accepted(client: Client, customer: Customer) -> None:
    conversation_id = await start(client, customer)
    response = await client.patch(
        f"/chat/conversations/{conversation_id}/title",
        json={"title": "x" * 255},
        headers=customer.headers,
    )
    assert ok_data(response)["title"] == "x" * 255


async def test_delete_removes_the_conversation_and_its_messages(
    client: Client, customer: Customer
) -> None:
    conversation_id = await start(client, customer)

    response = await client.delete(
        f"/chat/conversations/{conversation_id}", headers=customer.headers
    )

    assert ok_data(response) is None
    gone = await client.get(f"/chat/history/{conversation_id}", headers=customer.headers)
    error_body(gone, 404, f"/chat/history/{conversation_id}")
    assert ok_data(await client.get("/chat/conversations", headers=customer.headers)) == []
    again = await client.delete(f"/chat/conversations/{conversation_id}", headers=customer.headers)
    error_body(again, 404, f"/chat/conversations/{conversation_id}")


def _routes_on(conversation_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"/chat/conversations/{conversation_id}/history", None),
        ("GET", f"/chat/history/{conversation_id}", None),
        ("PATCH", f"/chat/conversations/{conversation_id}/title", {"title": "mine now"}),
        ("DELETE", f"/chat/conversations/{conversation_id}", None),
        ("POST", "/chat/send", {"content": "hello", "conversationId": conversation_id}),
    ]


async def test_another_users_conversation_is_404_on_every_route(
    client: Client, sign_up: SignUp, assistant: ScriptedAssistant
) -> None:
    owner = await sign_up()
    intruder = await sign_up()
    conversation_id = await start(client, owner)
    replies_before = len(assistant.reply_requests)

    for method, path, body in _routes_on(conversation_id):
        response = await client.request(method, path, json=body, headers=intruder.headers)
        assert error_body(response, 404, path)["message"] == "Conversation not found", path

    assert len(assistant.reply_requests) == replies_before
    history = ok_data(await client.get(f"/chat/history/{conversation_id}", headers=owner.headers))
    assert history["totalMessages"] == 2
    assert history["title"] != "mine now"


async def test_a_missing_conversation_answers_exactly_like_another_users(
    client: Client, sign_up: SignUp
) -> None:
    owner = await sign_up()
    intruder = await sign_up()
    theirs = await start(client, owner)
    missing = str(uuid.uuid4())

    for (method, path, body), (_, missing_path, missing_body) in zip(
        _routes_on(theirs), _routes_on(missing), strict=True
    ):
        foreign = await client.request(method, path, json=body, headers=intruder.headers)
        absent = await client.request(
            method, missing_path, json=missing_body, headers=intruder.headers
        )
        assert foreign.status_code == absent.status_code == 404
        assert foreign.json()["message"] == absent.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/chat/conversations/not-a-uuid/history"),
        ("GET", "/chat/history/not-a-uuid"),
        ("PATCH", "/chat/conversations/not-a-uuid/title"),
        ("DELETE", "/chat/conversations/not-a-uuid"),
    ],
)
async def test_a_malformed_conversation_id_in_the_path_is_400(
    client: Client, customer: Customer, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"title": "x"}, headers=customer.headers)
    assert "UUID" in error_body(response, 400, path)["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/chat/send"),
        ("GET", "/chat/conversations"),
        ("GET", "/chat/conversations/00000000-0000-0000-0000-000000000001/history"),
        ("GET", "/chat/history/00000000-0000-0000-0000-000000000001"),
        ("PATCH", "/chat/conversations/00000000-0000-0000-0000-000000000001/title"),
        ("DELETE", "/chat/conversations/00000000-0000-0000-0000-000000000001"),
    ],
)
async def test_every_chat_route_needs_a_token(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, json={"content": "hi", "title": "x"})
    error_body(response, 401, path)


# ------------------------------------------------------------------ paging and search


async def test_conversations_come_a_page_at_a_time_with_a_next_link(
    client: Client, customer: Customer, clock: FakeClock
) -> None:
    started = []
    for word in ("laptop", "mouse", "monitor"):
        started.append(await start(client, customer, f"I need a {word}"))
        clock.advance(timedelta(minutes=1))

    first = await client.get("/chat/conversations?limit=2", headers=customer.headers)

    assert [c["id"] for c in ok_data(first)] == started[:0:-1]
    link = first.headers["link"]
    match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', link)
    assert match is not None, link
    second = await client.get(match["url"], headers=customer.headers)
    assert [c["id"] for c in ok_data(second)] == started[:1]
    assert "link" not in second.headers


async def test_conversations_can_be_searched(client: Client, customer: Customer) -> None:
    laptop = await start(client, customer, "I need a laptop for gaming")
    await start(client, customer, "I need a mouse")

    found = await client.get(
        "/chat/conversations", params={"q": "laptop"}, headers=customer.headers
    )

    assert [c["id"] for c in ok_data(found)] == [laptop]


# Cursors in the documented format (32 characters of base64url) that the API never gave: the
# largest and the smallest 64-bit microsecond, clamped to what a datetime holds.
FAR_FUTURE_CURSOR = "f" + "_" * 31
FAR_PAST_CURSOR = "g" + "A" * 31


async def test_any_cursor_in_the_documented_format_is_a_position_to_continue_from(
    client: Client, customer: Customer, clock: FakeClock
) -> None:
    started = []
    for word in ("laptop", "mouse"):
        started.append(await start(client, customer, f"I need a {word}"))
        clock.advance(timedelta(minutes=1))

    def listed(cursor: str) -> Any:
        return client.get(
            "/chat/conversations", params={"cursor": cursor}, headers=customer.headers
        )

    assert [c["id"] for c in ok_data(await listed(FAR_FUTURE_CURSOR))] == started[::-1]
    assert ok_data(await listed(FAR_PAST_CURSOR)) == []
    assert [c["id"] for c in ok_data(await listed(""))] == started[::-1]  # the first page


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=many",
        "cursor=not-a-cursor",
        "cursor=%25%25",
        f"cursor={'A' * 31}",
        f"cursor={'A' * 33}",
        f"cursor={'A' * 31}%3D",
    ],
)
async def test_conversation_paging_parameters_are_validated(
    client: Client, customer: Customer, query: str
) -> None:
    response = await client.get(f"/chat/conversations?{query}", headers=customer.headers)
    error_body(response, 400, "/chat/conversations")


async def test_history_pages_back_from_the_latest_messages(
    client: Client, customer: Customer
) -> None:
    conversation_id = await start(client, customer, "one")
    await send(client, customer, "two", conversation_id)
    await send(client, customer, "three", conversation_id)
    path = f"/chat/history/{conversation_id}"

    latest = ok_data(await client.get(path, params={"limit": 2}, headers=customer.headers))
    older = ok_data(
        await client.get(
            path, params={"limit": 4, "before": latest["nextBefore"]}, headers=customer.headers
        )
    )

    assert [m["content"] for m in latest["messages"]] == ["three", "Reply to: three"]
    assert latest["totalMessages"] == 6
    assert [m["content"] for m in older["messages"]] == [
        "one",
        "Reply to: one",
        "two",
        "Reply to: two",
    ]
    assert older["nextBefore"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "before=0", "before=x"])
async def test_history_paging_parameters_are_validated(
    client: Client, customer: Customer, query: str
) -> None:
    conversation_id = await start(client, customer)
    path = f"/chat/conversations/{conversation_id}/history"

    error_body(await client.get(f"{path}?{query}", headers=customer.headers), 400, path)


class _GatedAssistant(ScriptedAssistant):
    """Distils only once ``go`` is set. It runs on the app's loop, in the test client's portal
    thread: set ``go`` through the portal (``release``). (The test client serves one request at
    a time: racing requests are in tests/e2e/test_distillation_serve.py.)"""

    def __init__(self) -> None:
        super().__init__()
        # Read from the test's thread: a thread-safe event. ``go`` is awaited on the app's loop.
        self.distilling, self.go = threading.Event(), asyncio.Event()

    async def distil(self, request: DistillationRequest) -> Distilled:
        self.distilling.set()
        await self.go.wait()
        return await super().distil(request)

    async def release(self, client: Client) -> None:
        await asyncio.to_thread(client.blocking_portal.call, self._set_go)

    async def started(self, client: Client) -> None:
        """Wait (bounded) on the app's loop for the background distillation to begin: it is
        scheduled by the exchange, and may begin only after the answer was sent."""
        await asyncio.to_thread(client.blocking_portal.call, self._wait_distilling)

    async def _wait_distilling(self) -> None:
        await asyncio.wait_for(self.distilling.wait(), timeout=30)

    async def _set_go(self) -> None:
        self.go.set()


async def test_the_answer_arrives_before_a_slow_distillation_which_then_lands(
    client: Client,
    customer: Customer,
    container: Container,
    settle: Settle,
    uow_factory: UnitOfWorkFactory,
) -> None:
    gated = _GatedAssistant()
    gated.distillations.append(SalesMetadata(interests=("laptop",)))
    container.assistants.assistant.override(providers.Object(gated))
    conversation_id = await start(client, customer, "one")
    await send(client, customer, "two", conversation_id)

    third = ok_data(await send(client, customer, "three", conversation_id), 201)

    # The reply is here; the distillation starts after it and waits for its LLM answer.
    assert third["botMessage"]["content"] == "Reply to: three"
    assert await asyncio.to_thread(gated.distilling.wait, 60)
    assert gated.distil_requests == []
    assert not gated.go.is_set()
    await gated.release(client)
    await settle()
    async with uow_factory() as uow:
        found = await uow.conversations.get_with_messages(
            uuid.UUID(conversation_id), uuid.UUID(customer.id), limit=0
        )
    assert found is not None
    assert found[0].metadata == SalesMetadata(interests=("laptop",))
    assert found[0].messages_since_context_update == 0
