"""The token policy: login, rotation with reuse detection, logout, logout-all, cleanup."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from salesbot_core.errors import InvalidAccessToken, InvalidCredentials, InvalidRefreshToken
from salesbot_core.tokens import hash_refresh_secret
from salesbot_core.usecases import ClientInfo
from tests.unit.conftest import Core

EMAIL = "jane@example.com"
PASSWORD = "password123"


@pytest.fixture
async def registered(core: Core) -> Core:
    await core.register(email=EMAIL, password=PASSWORD, name="Jane")
    return core


async def test_login_issues_an_access_token_and_stores_only_the_refresh_hash(
    registered: Core,
) -> None:
    core = registered
    result = await core.login(
        email="JANE@example.com",
        password=PASSWORD,
        client=ClientInfo(user_agent="ua", ip="1.2.3.4"),
    )
    claims = core.issuer.verify(result.tokens.access_token.token, core.clock.now())
    assert claims.user_id == result.user.id
    assert result.tokens.access_token.expires_at == core.clock.now() + timedelta(minutes=15)
    secret = result.tokens.refresh_token
    assert len(secret) >= 43  # 256 bits, base64url
    (stored,) = core.store.state.tokens.values()
    assert stored.token_hash == hash_refresh_secret(secret)
    assert secret not in repr(core.store.state)
    assert stored.expires_at == core.clock.now() + timedelta(days=7)
    assert (stored.user_agent, stored.ip) == ("ua", "1.2.3.4")


async def test_access_token_expires_after_15_minutes(registered: Core) -> None:
    core = registered
    token = (await core.login(email=EMAIL, password=PASSWORD)).tokens.access_token.token
    core.clock.advance(timedelta(minutes=15))
    with pytest.raises(InvalidAccessToken):
        core.issuer.verify(token, core.clock.now())


@pytest.mark.parametrize(
    ("email", "password"),
    [(EMAIL, "wrong-password"), ("nobody@example.com", PASSWORD), ("not an email", PASSWORD)],
)
async def test_login_failures_look_alike_and_cost_the_same(
    registered: Core, email: str, password: str
) -> None:
    core = registered
    before = core.hasher.verifications
    with pytest.raises(InvalidCredentials) as raised:
        await core.login(email=email, password=password)
    assert str(raised.value) == "Invalid email or password"
    assert core.hasher.verifications == before + 1


async def test_an_overlong_password_never_logs_in(registered: Core) -> None:
    with pytest.raises(InvalidCredentials):
        await registered.login(email=EMAIL, password=PASSWORD + "x" * 500)


async def test_refresh_rotates_and_keeps_the_absolute_expiry(registered: Core) -> None:
    core = registered
    first = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    core.clock.advance(timedelta(days=1))
    second = await core.refresh(first)
    assert second.refresh_token != first
    tokens = sorted(core.store.state.tokens.values(), key=lambda t: t.created_at)
    assert tokens[0].revoked_reason == "rotated"
    assert tokens[0].replaced_by == tokens[1].id
    assert tokens[1].expires_at == tokens[0].expires_at
    third = await core.refresh(second.refresh_token)
    assert third.refresh_token not in (first, second.refresh_token)


async def test_reusing_a_rotated_token_revokes_the_whole_family(registered: Core) -> None:
    core = registered
    stolen = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    legit = await core.refresh(stolen)
    other_device = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    with pytest.raises(InvalidRefreshToken):
        await core.refresh(stolen)
    with pytest.raises(InvalidRefreshToken):
        await core.refresh(legit.refresh_token)
    # Another login is another family: untouched.
    assert (await core.refresh(other_device)).refresh_token


async def test_refresh_token_expires_after_7_days_even_when_rotated(registered: Core) -> None:
    core = registered
    token = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    core.clock.advance(timedelta(days=6))
    token = (await core.refresh(token)).refresh_token
    core.clock.advance(timedelta(days=1))
    with pytest.raises(InvalidRefreshToken):
        await core.refresh(token)


async def test_unknown_refresh_token(registered: Core) -> None:
    with pytest.raises(InvalidRefreshToken):
        await registered.refresh("made-up")


async def test_concurrent_refreshes_of_one_token_have_one_winner(registered: Core) -> None:
    core = registered
    token = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    results = await asyncio.gather(*(core.refresh(token) for _ in range(8)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidRefreshToken) for r in results if r not in winners)


async def test_logout_revokes_one_token_and_is_idempotent(registered: Core) -> None:
    core = registered
    a = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    b = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    await core.logout(a)
    await core.logout(a)
    await core.logout("never-issued")
    with pytest.raises(InvalidRefreshToken):
        await core.refresh(a)
    assert (await core.refresh(b)).refresh_token


async def test_logout_all_revokes_every_token_of_the_user(registered: Core) -> None:
    core = registered
    tokens = [(await core.login(email=EMAIL, password=PASSWORD)).tokens for _ in range(3)]
    revoked = await core.logout_all(next(iter(core.store.state.users)))
    assert revoked == 3
    for pair in tokens:
        with pytest.raises(InvalidRefreshToken):
            await core.refresh(pair.refresh_token)


async def test_cleanup_deletes_expired_and_old_revoked_tokens_only(registered: Core) -> None:
    core = registered
    old_revoked = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    await core.logout(old_revoked)
    core.clock.advance(timedelta(days=5))
    expiring = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    core.clock.advance(timedelta(days=3))  # the first family is now expired, the second is not
    recent_revoked = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    await core.logout(recent_revoked)
    active = (await core.login(email=EMAIL, password=PASSWORD)).tokens.refresh_token
    deleted = await core.cleanup()
    assert deleted == 1
    kept = {t.token_hash for t in core.store.state.tokens.values()}
    assert kept == {hash_refresh_secret(t) for t in (expiring, recent_revoked, active)}
    core.clock.advance(timedelta(days=31))
    assert await core.cleanup() == 3
    assert core.store.state.tokens == {}
