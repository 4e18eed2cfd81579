"""The headers every answer carries, over the real app: ``X-Content-Type-Options: nosniff`` on
every answer, and ``Cache-Control: no-store`` (with ``Pragma: no-cache``) on every answer but
``/health`` and the OpenAPI pages: successes, error envelopes, unknown routes, the body limit,
the login throttle, unexpected errors and event streams alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from dependency_injector import providers

from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock, ScriptedAssistant
from salesbot_http.container import Container
from tests.api.api_helpers import Customer
from tests.api.conftest import Client, SignUp
from tests.api.test_admin_api import _grant, _log_in
from tests.api.test_chat_api import start
from tests.api.test_platform_api import _DownUnitOfWork

UNKNOWN_ID = "00000000-0000-0000-0000-000000000001"


@dataclass(frozen=True)
class World:
    customer: Customer
    admin: Customer
    conversation_id: str


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # ``{conversation}`` is the customer's conversation
    status: int
    who: str = "customer"  # "customer", "admin" or "anonymous"
    body: Callable[[World], Any] | None = None
    content: bytes | None = None
    private: bool = True
    headers: dict[str, str] = field(default_factory=dict)


def _login(world: World) -> Any:
    return {"email": world.customer.email, "password": world.customer.password}


def _refresh(world: World) -> Any:
    return {"refreshToken": world.customer.refresh_token}


CALLS: dict[str, Call] = {
    # users
    "register": Call(
        "POST",
        "/users/register",
        201,
        "anonymous",
        lambda _: {"email": "new@example.com", "password": "long enough", "name": "New One"},
    ),
    "register, invalid": Call("POST", "/users/register", 400, "anonymous", lambda _: {}),
    "check": Call("GET", "/users/check?email=a@example.com", 200, "anonymous"),
    "check, no email": Call("GET", "/users/check", 400, "anonymous"),
    "profile": Call("GET", "/users/profile", 200),
    "profile, no token": Call("GET", "/users/profile", 401, "anonymous"),
    # auth
    "login": Call("POST", "/auth/login", 200, "anonymous", _login),
    "login, wrong password": Call(
        "POST",
        "/auth/login",
        401,
        "anonymous",
        lambda w: {"email": w.customer.email, "password": "wrong password"},
    ),
    "login, malformed JSON": Call("POST", "/auth/login", 400, "anonymous", content=b"{"),
    "login, too deeply nested": Call(
        "POST", "/auth/login", 400, "anonymous", content=b"[" * 5000 + b"]" * 5000
    ),
    "login, over 64 KiB": Call(
        "POST", "/auth/login", 413, "anonymous", content=b'{"email": "' + b"a" * 70_000 + b'"}'
    ),
    "refresh": Call("POST", "/auth/refresh", 200, "anonymous", _refresh),
    "refresh, unknown token": Call(
        "POST", "/auth/refresh", 401, "anonymous", lambda _: {"refreshToken": "x" * 43}
    ),
    "logout": Call("POST", "/auth/logout", 200, "anonymous", _refresh),
    "logout-all": Call("POST", "/auth/logout-all", 200),
    "me": Call("GET", "/auth/me", 200),
    "me, no token": Call("GET", "/auth/me", 401, "anonymous"),
    "sessions": Call("GET", "/auth/sessions", 200),
    "end a session, unknown": Call("DELETE", f"/auth/sessions/{UNKNOWN_ID}", 404),
    # chat
    "send": Call("POST", "/chat/send", 201, body=lambda _: {"content": "hi"}),
    "send, invalid": Call("POST", "/chat/send", 400, body=lambda _: {"content": ""}),
    "send, stream": Call("POST", "/chat/send/stream", 200, body=lambda _: {"content": "hi"}),
    "send, stream, no token": Call(
        "POST", "/chat/send/stream", 401, "anonymous", lambda _: {"content": "hi"}
    ),
    "conversations": Call("GET", "/chat/conversations", 200),
    "conversations, bad cursor": Call("GET", "/chat/conversations?cursor=x", 400),
    "history": Call("GET", "/chat/conversations/{conversation}/history", 200),
    "history, legacy path": Call("GET", "/chat/history/{conversation}", 200),
    "history, unknown": Call("GET", f"/chat/history/{UNKNOWN_ID}", 404),
    "rename": Call(
        "PATCH", "/chat/conversations/{conversation}/title", 200, body=lambda _: {"title": "x"}
    ),
    "delete": Call("DELETE", "/chat/conversations/{conversation}", 200),
    # admin
    "analytics": Call("GET", "/admin/analytics", 200, "admin"),
    "analytics, a customer": Call("GET", "/admin/analytics", 403),
    "leads": Call("GET", "/admin/leads", 200, "admin"),
    "leads CSV": Call("GET", "/admin/leads.csv", 200, "admin"),
    "leads CSV, anonymous": Call("GET", "/admin/leads.csv", 401, "anonymous"),
    # the rest
    "unknown route": Call("GET", "/no/such/route", 404, "anonymous"),
    "wrong method": Call("PUT", "/auth/login", 405, "anonymous"),
    "CORS preflight": Call(
        "OPTIONS",
        "/auth/login",
        204,
        "anonymous",
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "POST",
        },
    ),
    # public documents: a cache may keep them
    "health": Call("GET", "/health", 200, "anonymous", private=False),
    "OpenAPI document": Call("GET", "/schema/openapi.json", 200, "anonymous", private=False),
    "OpenAPI page": Call("GET", "/schema", 200, "anonymous", private=False),
}


def assert_headers(response: Any, *, private: bool) -> None:
    assert response.headers.get_list("x-content-type-options") == ["nosniff"]
    if private:
        assert response.headers.get_list("cache-control") == ["no-store"]
        assert response.headers.get_list("pragma") == ["no-cache"]
    else:
        assert "no-store" not in response.headers.get("cache-control", "")
        assert "pragma" not in response.headers


@pytest.fixture
async def world(
    client: Client, sign_up: SignUp, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> World:
    customer = await sign_up()
    staff = await sign_up(email="staff@example.com")
    await _grant(uow_factory, clock, staff.email)
    return World(
        customer=customer,
        admin=await _log_in(client, staff),
        conversation_id=await start(client, customer),
    )


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
async def test_every_answer_carries_its_headers(client: Client, world: World, call: Call) -> None:
    headers = dict(call.headers)
    if call.who != "anonymous":
        headers |= (world.admin if call.who == "admin" else world.customer).headers
    if call.content is not None:
        headers["Content-Type"] = "application/json"
    response = await client.request(
        call.method,
        call.path.format(conversation=world.conversation_id),
        json=call.body(world) if call.body else None,
        content=call.content,
        headers=headers,
    )

    assert response.status_code == call.status, response.text
    assert_headers(response, private=call.private)


async def test_an_event_stream_says_no_store_once(client: Client, world: World) -> None:
    # Litestar's event streams say ``Cache-Control: no-cache`` themselves: replaced, not doubled.
    response = await client.post(
        "/chat/send/stream", json={"content": "hi"}, headers=world.customer.headers
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: done" in response.text
    assert_headers(response, private=True)


async def test_the_login_throttle_s_429_carries_them(client: Client, customer: Customer) -> None:
    wrong = {"email": customer.email, "password": "wrong password"}
    answers = [await client.post("/auth/login", json=wrong) for _ in range(11)]

    assert answers[-1].status_code == 429
    assert_headers(answers[-1], private=True)


async def test_an_unexpected_error_s_500_carries_them(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.replies.append(RuntimeError("boom"))

    response = await client.post("/chat/send", json={"content": "hi"}, headers=customer.headers)

    assert response.status_code == 500
    assert_headers(response, private=True)


async def test_a_database_outage_s_503_carries_them(
    client: Client, container: Container, customer: Customer
) -> None:
    container.persistence.uow_factory.override(providers.Object(_DownUnitOfWork))

    health = await client.get("/health")
    conversations = await client.get("/chat/conversations", headers=customer.headers)

    assert (health.status_code, conversations.status_code) == (503, 503)
    assert_headers(health, private=False)
    assert_headers(conversations, private=True)
