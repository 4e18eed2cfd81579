"""What every route shares: unknown routes and methods, unexpected errors, the body limit, CORS,
``/health`` and the OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from salesbot_core.errors import DatabaseUnavailable
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock
from salesbot_core.tokens import hash_refresh_secret
from salesbot_http.app import create_app
from salesbot_http.container import Container
from salesbot_http.settings import Settings
from tests.api.api_helpers import Customer, error_body, ok_data, replace_settings
from tests.api.conftest import Client


class _DownUnitOfWork:
    async def __aenter__(self) -> Self:
        raise DatabaseUnavailable("connection refused")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


class _ExplodingUnitOfWork(_DownUnitOfWork):
    async def __aenter__(self) -> Self:
        raise RuntimeError("SELECT password_hash FROM users -- boom")


class _HangingUnitOfWork(_DownUnitOfWork):
    async def __aenter__(self) -> Self:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


class _FrozenDatabaseUnitOfWork(_DownUnitOfWork):
    """Like psycopg on a server that froze mid-query: a first cancellation makes it wait (up to
    10 s) for the server to confirm; only a second one makes it give up at once."""

    async def __aenter__(self) -> Self:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(10)
        raise AssertionError("unreachable")


async def test_an_unknown_route_is_404_in_the_envelope(client: Client) -> None:
    body = error_body(await client.get("/nowhere"), 404, "/nowhere")
    assert body["message"] == "Not Found"


async def test_a_wrong_method_is_405_with_allow(client: Client) -> None:
    response = await client.delete("/users/register")

    error_body(response, 405, "/users/register")
    assert "POST" in response.headers["allow"]


async def test_an_unexpected_error_is_a_generic_500_with_the_traceback_logged(
    client: Client,
    container: Container,
    customer: Customer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    container.persistence.uow_factory.override(providers.Object(_ExplodingUnitOfWork))

    with caplog.at_level(logging.ERROR, logger="salesbot_http"):
        response = await client.get("/chat/conversations", headers=customer.headers)

    body = error_body(response, 500, "/chat/conversations")
    assert body["message"] == "Internal server error"
    assert "SELECT" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "boom" in str(logged[0].exc_info[1])  # type: ignore[index]


async def test_a_body_over_the_configured_limit_is_413(
    container: Container, settings: Settings
) -> None:
    container.settings.override(providers.Object(replace_settings(settings, max_body_bytes=2048)))
    async with AsyncTestClient(app=create_app(container)) as small:
        response = await small.post("/auth/login", json={"email": "a@b.io", "password": "x" * 3000})
    error_body(response, 413, "/auth/login")


async def _call(
    app: Litestar, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, int]:
    """Drive the ASGI app by hand: (status, how many body chunks it asked for)."""
    pending = list(chunks)
    asked = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if not pending:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/auth/login",
        "raw_path": b"/auth/login",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, asked


@pytest.fixture
def bare_app(container: Container) -> Litestar:
    """The app without its lifespan: these requests are refused before any adapter is used."""
    return create_app(container, run_scheduled_jobs=False)


async def test_an_announced_oversized_body_is_refused_before_it_is_read(
    bare_app: Litestar,
) -> None:
    status, asked = await _call(
        bare_app, [(b"content-length", str(10 * 1024 * 1024).encode())], [b"x" * 1024] * 8
    )

    assert status == 413
    assert asked == 0


async def test_a_streamed_oversized_body_is_cut_off_at_the_limit(bare_app: Litestar) -> None:
    chunks = [b"x" * 16 * 1024] * 64  # 1 MiB without a content-length

    status, asked = await _call(bare_app, [], chunks)

    assert status == 413
    assert asked <= 5  # 64 KiB is four and a bit of these chunks


async def test_cors_allows_the_configured_origin_only(client: Client) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    allowed = await client.options(
        "/chat/send", headers={"Origin": "http://localhost:5173", **preflight}
    )
    refused = await client.options(
        "/chat/send", headers={"Origin": "https://evil.example", **preflight}
    )

    assert allowed.status_code in {200, 204}
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "access-control-allow-origin" not in refused.headers
    simple = await client.get("/health", headers={"Origin": "http://localhost:5173"})
    assert simple.headers["access-control-allow-origin"] == "http://localhost:5173"
    # Paged lists put the next page in a Link header, which a browser may only read if exposed.
    assert "link" in simple.headers["access-control-expose-headers"].lower()


async def test_cors_origins_come_from_settings(container: Container, settings: Settings) -> None:
    origins = ("https://shop.example", "https://admin.shop.example")
    container.settings.override(providers.Object(replace_settings(settings, cors_origins=origins)))
    async with AsyncTestClient(app=create_app(container)) as configured:
        second = await configured.get("/health", headers={"Origin": origins[1]})
        default = await configured.get("/health", headers={"Origin": "http://localhost:5173"})

    assert second.headers["access-control-allow-origin"] == origins[1]
    assert "access-control-allow-origin" not in default.headers


# ------------------------------------------------------------------ health


async def test_health_is_200_when_the_database_answers(client: Client) -> None:
    data = ok_data(await client.get("/health"))
    assert data == {"status": "ok", "database": "up"}


async def test_health_is_503_when_the_database_is_down(
    client: Client, container: Container, customer: Customer
) -> None:
    container.persistence.uow_factory.override(providers.Object(_DownUnitOfWork))

    body = error_body(await client.get("/health"), 503, "/health")

    assert "database" in body["message"].lower()
    # Any route meeting a database outage answers 503 the same way.
    error_body(
        await client.get("/chat/conversations", headers=customer.headers),
        503,
        "/chat/conversations",
    )


async def test_health_does_not_hang_on_a_database_that_never_answers(
    client: Client, container: Container, settings: Settings
) -> None:
    container.persistence.uow_factory.override(providers.Object(_HangingUnitOfWork))

    async with asyncio.timeout(settings.health_timeout_s + 2):
        response = await client.get("/health")

    error_body(response, 503, "/health")


async def test_health_answers_in_time_even_when_the_driver_is_slow_to_give_up(
    client: Client, container: Container, settings: Settings
) -> None:
    container.persistence.uow_factory.override(providers.Object(_FrozenDatabaseUnitOfWork))

    began = asyncio.get_running_loop().time()
    response = await client.get("/health")

    error_body(response, 503, "/health")
    # Well inside the driver's 10 s give-up, with room for a busy machine.
    assert asyncio.get_running_loop().time() - began < settings.health_timeout_s + 3


# ------------------------------------------------------------------ OpenAPI

CONTRACT_PATHS = {
    ("post", "/users/register"),
    ("get", "/users/check"),
    ("get", "/users/profile"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("post", "/auth/logout-all"),
    ("get", "/auth/me"),
    ("post", "/chat/send"),
    ("get", "/chat/conversations"),
    ("get", "/chat/conversations/{conversation_id}/history"),
    ("get", "/chat/history/{conversation_id}"),
    ("patch", "/chat/conversations/{conversation_id}/title"),
    ("delete", "/chat/conversations/{conversation_id}"),
    ("get", "/health"),
}
# Beyond the contract (issue 8): streaming, sessions, sales insight.
BEYOND_PATHS = {
    ("post", "/chat/send/stream"),
    ("get", "/auth/sessions"),
    ("delete", "/auth/sessions/{session_id}"),
    ("get", "/admin/analytics"),
    ("get", "/admin/leads"),
    ("get", "/admin/leads.csv"),
    ("get", "/admin/webhooks/deliveries"),
    ("post", "/admin/webhooks/deliveries/{delivery_id}/retry"),
    ("get", "/admin/products"),
    ("put", "/admin/products/{sku}"),
    ("delete", "/admin/products/{sku}"),
    ("post", "/admin/products/import"),
    ("get", "/admin/conversations/{conversation_id}"),
}
# Success bodies that are not the JSON envelope.
STREAMED = {"/chat/send/stream": "text/event-stream", "/admin/leads.csv": "text/csv"}
PROTECTED = {
    "/users/profile",
    "/auth/logout-all",
    "/auth/me",
    "/chat/send",
    "/chat/conversations",
    "/chat/conversations/{conversation_id}/history",
    "/chat/history/{conversation_id}",
    "/chat/conversations/{conversation_id}/title",
    "/chat/conversations/{conversation_id}",
    "/chat/send/stream",
    "/auth/sessions",
    "/auth/sessions/{session_id}",
    "/admin/analytics",
    "/admin/leads",
    "/admin/leads.csv",
    "/admin/webhooks/deliveries",
    "/admin/webhooks/deliveries/{delivery_id}/retry",
    "/admin/products",
    "/admin/products/{sku}",
    "/admin/products/import",
    "/admin/conversations/{conversation_id}",
}


@pytest.fixture
async def openapi(client: Client) -> dict[str, Any]:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


async def test_the_openapi_document_is_3_1_and_has_every_route(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.1")
    assert openapi["info"]["title"] == "salesbot"
    operations = {(method, path) for path, item in openapi["paths"].items() for method in item}
    assert operations == CONTRACT_PATHS | BEYOND_PATHS


async def test_the_openapi_document_describes_the_envelopes(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    error = schemas["ErrorEnvelope"]
    assert set(error["properties"]) == {"success", "message", "data", "timestamp", "path"}
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            success = next(code for code in responses if code.startswith("2"))
            if path in STREAMED:
                assert set(responses[success]["content"]) == {STREAMED[path]}, path
            else:
                ref = responses[success]["content"]["application/json"]["schema"]["$ref"]
                envelope = schemas[ref.rsplit("/", 1)[-1]]
                assert set(envelope["properties"]) == {"success", "message", "data", "timestamp"}
            errors = {code: r for code, r in responses.items() if not code.startswith("2")}
            assert {"500", "503"} <= set(errors), (method, path)
            for code, response in errors.items():
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (
                    method,
                    path,
                    code,
                )
            if path in PROTECTED:
                assert operation["security"] == [{"BearerAuth": []}], path
                assert "401" in errors, path
            else:
                assert "security" not in operation, path


async def test_the_openapi_document_uses_camel_case(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert "conversationId" in schemas["SendMessageRequest"]["properties"]
    assert "createdAt" in schemas["UserOut"]["properties"]
    assert "passwordHash" not in schemas["UserOut"]["properties"]
    assert openapi["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"


async def test_the_schema_page_is_browsable(client: Client) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger-ui" in response.text
    assert "/chat/send" in response.text  # the document it renders
    # Every file it loads is salesbot's own: the page works with no internet.
    loaded = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert len(loaded) == 3, loaded
    for url in loaded:
        assert url.startswith("/static/swagger-ui/"), url
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 10_000, url
    assert "://" not in "".join(re.findall(r"<head>.*?</head>", response.text, re.DOTALL))


# ------------------------------------------------------------------ scheduled cleanup


async def test_the_server_cleans_up_stale_refresh_tokens_on_its_schedule(
    client: Client,
    container: Container,
    settings: Settings,
    customer: Customer,
    clock: FakeClock,
    uow_factory: UnitOfWorkFactory,
) -> None:
    await client.post("/auth/logout", json={"refreshToken": customer.refresh_token})
    clock.advance(timedelta(days=31))
    stale = hash_refresh_secret(customer.refresh_token)
    container.settings.override(
        providers.Object(
            replace_settings(settings, token_cleanup_interval=timedelta(milliseconds=20))
        )
    )

    async with AsyncTestClient(app=create_app(container)):
        async with asyncio.timeout(5):
            while True:
                async with uow_factory() as uow:
                    if await uow.refresh_tokens.get_by_hash(stale) is None:
                        break
                await asyncio.sleep(0.01)


async def test_the_app_works_again_after_its_lifespan_is_restarted(container: Container) -> None:
    app = create_app(container, run_scheduled_jobs=False)
    body = {"email": "jane@example.com", "password": "correct horse battery", "name": "Jane Doe"}
    async with AsyncTestClient(app=app) as first:
        assert (await first.post("/users/register", json=body)).status_code == 201

    async with AsyncTestClient(app=app) as second:
        login = await second.post(
            "/auth/login", json={"email": body["email"], "password": body["password"]}
        )

    assert login.status_code == 200, login.text


async def test_a_query_parameter_given_twice_is_refused(client: Client, customer: Customer) -> None:
    response = await client.get(
        "/chat/conversations?q=laptop&q=mouse&limit=5", headers=customer.headers
    )

    body = error_body(response, 400, "/chat/conversations")
    assert body["message"] == "Validation failed: q: given more than once"
