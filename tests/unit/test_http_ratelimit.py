"""The login throttle's settings and the stores of its counts (the rule is tested in the core)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from salesbot_http.container import build_container
from salesbot_http.ratelimit import CountingMemoryStore, CountingRedisStore
from salesbot_http.settings import SettingsError, settings_from_env

BASE = {"DATABASE_URL": "postgresql://x/y", "JWT_SECRET": "s" * 32, "JWT_REFRESH_SECRET": "s" * 32}


def test_the_limits_default_to_10_per_account_and_30_per_client_in_15_minutes() -> None:
    settings = settings_from_env(BASE)

    limits = build_container(settings).security.login_limits()

    assert (limits.per_account, limits.per_client) == (10, 30)
    assert limits.window == timedelta(minutes=15)
    assert isinstance(build_container(settings).security.login_attempts(), CountingMemoryStore)


def test_the_limits_and_redis_come_from_the_environment() -> None:
    settings = settings_from_env(
        {
            **BASE,
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "5",
            "LOGIN_MAX_FAILURES_PER_IP": "0",
            "LOGIN_FAILURE_WINDOW": "1h",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
            "REDIS_NAMESPACE": "shop-eu",
        }
    )

    container = build_container(settings)
    limits = container.security.login_limits()

    assert (limits.per_account, limits.per_client, limits.window) == (5, 0, timedelta(hours=1))
    store = container.security.login_attempts()
    assert isinstance(store, CountingRedisStore)
    assert store.namespace == "shop-eu"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("LOGIN_MAX_FAILURES_PER_ACCOUNT", "-1"),
        ("LOGIN_MAX_FAILURES_PER_IP", "many"),
        ("LOGIN_FAILURE_WINDOW", "0s"),
        ("LOGIN_FAILURE_WINDOW", "soon"),
    ],
)
def test_bad_limits_are_refused_naming_the_variable(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        settings_from_env({**BASE, key: value})


async def test_memory_counts_expire_with_their_window_and_undo_steps_back() -> None:
    store = CountingMemoryStore()
    window = timedelta(milliseconds=300)

    assert (await store.add("k", window)).count == 1
    second = await store.add("k", window)
    assert (second.count, second.retry_after_s) == (2, 1)
    await store.undo("k")
    assert (await store.add("k", window)).count == 2

    await asyncio.sleep(0.35)

    await store.undo("k")  # an expired counter is not revived
    assert (await store.add("k", window)).count == 1


async def test_memory_forgets_expired_counters_of_addresses_never_seen_again() -> None:
    store = CountingMemoryStore(sweep_every=timedelta(milliseconds=50))
    for n in range(100):
        await store.add(f"login:client:10.0.0.{n}", timedelta(milliseconds=10))

    await asyncio.sleep(0.1)
    await store.add("login:client:127.0.0.1", timedelta(minutes=1))

    assert len(store._store) == 1
