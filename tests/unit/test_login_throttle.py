"""The login-throttling rule on the core's in-memory counters: failures counted per account and per
client address within a window, refusals past the limit, and what a success or another failure
takes back."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from salesbot_core.errors import DatabaseUnavailable, InvalidCredentials, TooManyLoginAttempts
from salesbot_core.testing import InMemoryAttemptCounter
from salesbot_core.usecases import ClientInfo, Login, LoginLimits, LoginResult, ThrottledLogin
from salesbot_core.usecases.login_throttle import account_key, client_key
from tests.unit.conftest import Core

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery"
WINDOW = timedelta(minutes=15)
HOME = ClientInfo(ip="203.0.113.7")
ELSEWHERE = ClientInfo(ip="198.51.100.9")


class Throttle:
    def __init__(self, core: Core, **limits: int) -> None:
        self.counter = InMemoryAttemptCounter(core.clock)
        self.login = ThrottledLogin(core.login, self.counter, LoginLimits(window=WINDOW, **limits))

    async def fails(self, times: int, *, email: str = EMAIL, client: ClientInfo = HOME) -> None:
        for _ in range(times):
            with pytest.raises(InvalidCredentials):
                await self.login(email=email, password="wrong password", client=client)

    async def refused(self, *, email: str = EMAIL, client: ClientInfo = HOME) -> int:
        with pytest.raises(TooManyLoginAttempts) as refused:
            await self.login(email=email, password=PASSWORD, client=client)
        return refused.value.retry_after_s

    async def succeeds(self, *, email: str = EMAIL, client: ClientInfo = HOME) -> LoginResult:
        return await self.login(email=email, password=PASSWORD, client=client)


@pytest.fixture
async def core(core: Core) -> Core:
    await core.register(email=EMAIL, password=PASSWORD, name="Jane")
    await core.register(email="john@example.com", password=PASSWORD, name="John")
    return core


async def test_past_the_account_limit_even_the_right_password_is_refused_until_the_window_ends(
    core: Core,
) -> None:
    throttle = Throttle(core, per_account=3)
    await throttle.fails(3)
    core.clock.advance(timedelta(minutes=5))

    assert await throttle.refused(email=" JANE@example.com ") == 10 * 60
    assert throttle.counter.counts[account_key(EMAIL)] == 3  # a refusal is not counted
    assert (await throttle.succeeds(email="john@example.com")).user.email == "john@example.com"

    core.clock.advance(timedelta(minutes=10))

    assert (await throttle.succeeds()).user.email == EMAIL


async def test_an_unknown_email_is_counted_like_a_registered_one(core: Core) -> None:
    throttle = Throttle(core, per_account=2)
    await throttle.fails(2)
    await throttle.fails(2, email="nobody@example.com")

    assert await throttle.refused() == await throttle.refused(email="nobody@example.com")


async def test_past_the_client_limit_every_account_is_refused_from_that_address_only(
    core: Core,
) -> None:
    throttle = Throttle(core, per_account=100, per_client=3)
    for n in range(3):
        await throttle.fails(1, email=f"guess{n}@example.com")

    await throttle.refused()
    await throttle.refused(email="john@example.com")
    assert (await throttle.succeeds(client=ELSEWHERE)).user.email == EMAIL
    assert throttle.counter.counts[client_key(HOME.ip)] == 3


async def test_the_wait_is_the_longest_of_the_limits_reached(core: Core) -> None:
    throttle = Throttle(core, per_account=1, per_client=2)
    await throttle.fails(1, email="guess@example.com")  # the client's window starts here
    core.clock.advance(timedelta(minutes=10))
    await throttle.fails(1)  # the account's window starts here: 15 minutes left, the client's 5

    assert await throttle.refused() == 15 * 60


async def test_a_success_clears_the_account_and_takes_back_only_its_own_client_step(
    core: Core,
) -> None:
    throttle = Throttle(core, per_account=3, per_client=10)
    await throttle.fails(2)

    await throttle.succeeds()

    assert throttle.counter.counts == {client_key(HOME.ip): 2}
    await throttle.fails(3)
    await throttle.refused()


class _DatabaseDown(Login):
    async def __call__(
        self, *, email: str, password: str, client: ClientInfo | None = None
    ) -> LoginResult:
        raise DatabaseUnavailable("the database is down")


async def test_any_other_failure_takes_both_steps_back(core: Core) -> None:
    throttle = Throttle(core, per_account=3, per_client=3)
    await throttle.fails(1)  # before the database went away
    down = _DatabaseDown(
        core.store.uow_factory, core.hasher, core.issuer, core.clock, core.ids, core.policy
    )
    throttle.login = ThrottledLogin(down, throttle.counter, LoginLimits(per_account=3))

    with pytest.raises(DatabaseUnavailable):
        await throttle.succeeds()

    assert throttle.counter.counts == {account_key(EMAIL): 1, client_key(HOME.ip): 1}


async def test_a_limit_of_zero_is_not_counted_at_all(core: Core) -> None:
    throttle = Throttle(core, per_account=0, per_client=2)
    await throttle.fails(2)

    await throttle.refused(email="john@example.com")
    assert throttle.counter.counts == {client_key(HOME.ip): 2}


async def test_a_client_without_an_address_is_counted_as_unknown(core: Core) -> None:
    throttle = Throttle(core, per_account=100, per_client=1)
    await throttle.fails(1, client=ClientInfo())

    await throttle.refused(client=ClientInfo(user_agent="curl"))
    assert client_key(None) in throttle.counter.counts


async def test_a_failing_counter_store_lets_logins_through_and_says_so(
    core: Core, caplog: pytest.LogCaptureFixture
) -> None:
    throttle = Throttle(core, per_account=1)
    throttle.counter.failing = True

    with caplog.at_level(logging.WARNING, logger="salesbot_core.usecases.login_throttle"):
        await throttle.fails(3)
        result = await throttle.succeeds()

    assert result.user.email == EMAIL
    assert any("login throttle: could not count" in r.getMessage() for r in caplog.records)


def test_the_account_key_is_a_digest_of_the_canonical_email() -> None:
    assert account_key(" Jane@Example.COM ") == account_key("jane@example.com")
    assert "jane" not in account_key("jane@example.com")
    assert account_key("\ud800@example.com")  # a lone surrogate (legal in JSON) is no crash
