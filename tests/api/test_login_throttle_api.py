"""Login rate limiting through the real app: failed logins per account and per client address,
429 with ``Retry-After`` and the error envelope, and logging in again once the window has passed.
In memory (the default) and on the real Redis server (``REDIS_URL``)."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import AsyncTestClient
from redis.asyncio import Redis

from salesbot_http.app import create_app
from salesbot_http.container import Container, build_container
from salesbot_http.ratelimit import CountingRedisStore
from salesbot_http.settings import Settings
from tests.api.api_helpers import PASSWORD, error_body, ok_data, replace_settings
from tests.api.conftest import Client

REDIS_URL = "redis://127.0.0.1:6379/0"
THROTTLED = "Too many failed login attempts; please try again later"
WINDOW = timedelta(seconds=1)

Throttled = Callable[..., AbstractAsyncContextManager[Client]]


@pytest.fixture
def throttled(container: Container, settings: Settings) -> Throttled:
    """The app with these login limits (a 1 s window unless told otherwise)."""

    @asynccontextmanager
    async def start(**limits: Any) -> AsyncIterator[Client]:
        changes = {"login_failure_window": WINDOW, **limits}
        container.settings.override(providers.Object(replace_settings(settings, **changes)))
        async with AsyncTestClient(app=create_app(container)) as client:
            yield client

    return start


async def register(client: Client, email: str) -> None:
    response = await client.post(
        "/users/register", json={"email": email, "password": PASSWORD, "name": "Jane Doe"}
    )
    assert response.status_code == 201, response.text


async def login(client: Client, email: str, password: str = PASSWORD) -> Any:
    return await client.post("/auth/login", json={"email": email, "password": password})


def refused(response: Any) -> int:
    """Assert ``response`` is the throttle's 429; return its ``Retry-After``."""
    body = error_body(response, 429, "/auth/login")
    assert body["message"] == THROTTLED
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 1 + WINDOW.total_seconds()
    return retry_after


async def test_failures_for_one_account_are_refused_until_the_window_ends(
    throttled: Throttled,
) -> None:
    async with throttled(login_max_failures_per_account=3) as client:
        await register(client, "jane@example.com")
        await register(client, "john@example.com")
        for _ in range(3):
            error_body(
                await login(client, "jane@example.com", "wrong password"), 401, "/auth/login"
            )

        # Even the right password is refused now: the guesser cannot tell a hit.
        retry_after = refused(await login(client, "JANE@example.com "))
        refused(await login(client, "jane@example.com", "wrong password"))
        # Another account from the same client is not affected.
        ok_data(await login(client, "john@example.com"))

        await asyncio.sleep(retry_after + 0.1)

        ok_data(await login(client, "jane@example.com"))


async def test_an_unknown_email_is_counted_like_a_registered_one(throttled: Throttled) -> None:
    async with throttled(login_max_failures_per_account=2) as client:
        await register(client, "jane@example.com")
        answers = []
        for email in ("jane@example.com", "nobody@example.com"):
            for password in ("wrong password", "wrong password", "wrong password"):
                response = await login(client, email, password)
                answers.append((response.status_code, response.json()["message"]))

    # The limit does not tell which accounts exist.
    assert answers[:3] == answers[3:]
    assert [status for status, _ in answers[:3]] == [401, 401, 429]


async def test_failures_from_one_client_are_refused_whatever_the_account(
    throttled: Throttled,
) -> None:
    async with throttled(login_max_failures_per_account=100, login_max_failures_per_client=3) as c:
        await register(c, "jane@example.com")
        for n in range(3):
            error_body(
                await login(c, f"guess{n}@example.com", "wrong password"), 401, "/auth/login"
            )

        retry_after = refused(await login(c, "someone-else@example.com", "wrong password"))
        refused(await login(c, "jane@example.com"))

        await asyncio.sleep(retry_after + 0.1)

        ok_data(await login(c, "jane@example.com"))


async def test_a_successful_login_clears_the_accounts_failures(throttled: Throttled) -> None:
    async with throttled(
        login_max_failures_per_account=3, login_failure_window=timedelta(minutes=5)
    ) as c:
        await register(c, "jane@example.com")
        for _ in range(2):
            await login(c, "jane@example.com", "typo")
        ok_data(await login(c, "jane@example.com"))

        statuses = [(await login(c, "jane@example.com", "typo")).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


async def test_concurrent_guesses_cannot_slip_past_the_limit(throttled: Throttled) -> None:
    async with throttled(
        login_max_failures_per_account=3, login_failure_window=timedelta(minutes=5)
    ) as c:
        await register(c, "jane@example.com")

        responses = await asyncio.gather(
            *(login(c, "jane@example.com", f"guess {n}") for n in range(12))
        )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [401] * 3 + [429] * 9


async def test_refusals_are_documented(client: Client) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    responses = document["paths"]["/auth/login"]["post"]["responses"]
    assert responses["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }


class _BrokenCounter:
    async def add(self, key: str, window: timedelta) -> Any:
        raise ConnectionError("redis is down")

    async def undo(self, key: str) -> None:
        raise ConnectionError("redis is down")

    async def delete(self, key: str) -> None:
        raise ConnectionError("redis is down")


class _HangingCounter(_BrokenCounter):
    async def add(self, key: str, window: timedelta) -> Any:
        await asyncio.sleep(3600)


@pytest.mark.parametrize("counter", [_BrokenCounter(), _HangingCounter()])
async def test_a_failing_counter_store_does_not_lock_customers_out(
    throttled: Throttled,
    container: Container,
    counter: _BrokenCounter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    container.security.login_attempts.override(providers.Object(counter))
    async with throttled(login_max_failures_per_account=1) as client:
        await register(client, "jane@example.com")
        with caplog.at_level(logging.WARNING, logger="salesbot_core.usecases.login_throttle"):
            async with asyncio.timeout(5):
                wrong = await login(client, "jane@example.com", "wrong password")
                right = await login(client, "jane@example.com")

    error_body(wrong, 401, "/auth/login")
    ok_data(right)
    assert any("login throttle" in record.getMessage() for record in caplog.records)


# ------------------------------------------------------------------ Redis


@pytest.fixture
async def redis_namespace() -> AsyncIterator[str]:
    """A key namespace of this test's own on the real Redis server, emptied afterwards."""
    namespace = f"salesbot-test-{secrets.token_hex(6)}"
    yield namespace
    store = CountingRedisStore.from_url(REDIS_URL, namespace=namespace)
    try:
        await store.delete_all()
    finally:
        await store.aclose()


def _instance(settings: Settings, container: Container, namespace: str) -> Container:
    """Another salesbot process on the same database and Redis."""
    other = build_container(
        replace_settings(
            settings,
            redis_url=REDIS_URL,
            redis_namespace=namespace,
            login_max_failures_per_account=2,
            login_failure_window=timedelta(seconds=2),
        )
    )
    other.persistence.uow_factory.override(container.persistence.uow_factory)
    other.clock.override(container.clock)
    return other


async def test_with_redis_every_instance_shares_the_counts(
    settings: Settings, container: Container, redis_namespace: str
) -> None:
    first = _instance(settings, container, redis_namespace)
    second = _instance(settings, container, redis_namespace)
    async with (
        AsyncTestClient(app=create_app(first)) as one,
        AsyncTestClient(app=create_app(second)) as two,
    ):
        await register(one, "jane@example.com")
        error_body(await login(one, "jane@example.com", "wrong"), 401, "/auth/login")
        error_body(await login(two, "jane@example.com", "wrong"), 401, "/auth/login")

        response = await login(one, "jane@example.com")
        body = error_body(response, 429, "/auth/login")
        assert body["message"] == THROTTLED
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 2

        # The counts live in Redis under the namespace, named without the email address.
        redis = Redis.from_url(REDIS_URL)
        try:
            keys = [key.decode() async for key in redis.scan_iter(f"{redis_namespace}:*")]
        finally:
            await redis.aclose()
        assert keys, "nothing was counted in Redis"
        assert not any("jane" in key for key in keys), keys

        await asyncio.sleep(retry_after + 0.1)

        ok_data(await login(two, "jane@example.com"))
