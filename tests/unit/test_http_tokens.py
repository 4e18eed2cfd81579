"""The JWT access-token adapter: HS256 pinned, every required claim, our clock decides expiry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from salesbot_core.domain import Role
from salesbot_core.errors import InvalidAccessToken
from salesbot_http.tokens import JwtAccessTokens

SECRET = "s" * 64
NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
USER = uuid.UUID(int=7)


@pytest.fixture
def tokens() -> JwtAccessTokens:
    return JwtAccessTokens(SECRET, timedelta(minutes=15))


def test_issue_then_verify_round_trips(tokens: JwtAccessTokens) -> None:
    issued = tokens.issue(USER, Role.ADMIN, NOW)

    claims = tokens.verify(issued.token, NOW + timedelta(minutes=14))

    assert claims.user_id == USER
    assert claims.role is Role.ADMIN
    assert claims.issued_at == NOW
    assert claims.expires_at == issued.expires_at == NOW + timedelta(minutes=15)
    header = jwt.get_unverified_header(issued.token)
    assert header["alg"] == "HS256"
    payload = jwt.decode(issued.token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert payload["typ"] == "access"
    assert payload["sub"] == str(USER)


def test_a_token_expires_at_its_ttl(tokens: JwtAccessTokens) -> None:
    issued = tokens.issue(USER, Role.CUSTOMER, NOW)
    with pytest.raises(InvalidAccessToken):
        tokens.verify(issued.token, NOW + timedelta(minutes=15))


def _payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": str(USER),
        "role": "customer",
        "typ": "access",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 60,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(_payload(), "another-secret-" * 5, algorithm="HS256"),
        jwt.encode(_payload(), SECRET, algorithm="HS384"),
        jwt.encode(_payload(), SECRET, algorithm="HS512"),
        jwt.encode(_payload(), None, algorithm="none"),
        jwt.encode(_payload(typ="refresh"), SECRET, algorithm="HS256"),
        jwt.encode(_payload(iat=True), SECRET, algorithm="HS256"),
        jwt.encode(_payload(exp="tomorrow"), SECRET, algorithm="HS256"),
        jwt.encode(_payload(exp=10**20), SECRET, algorithm="HS256"),
        jwt.encode(_payload(sub="user-7"), SECRET, algorithm="HS256"),
        jwt.encode(_payload(role="root"), SECRET, algorithm="HS256"),
        *(
            jwt.encode(_payload(**{claim: None}), SECRET, algorithm="HS256")
            for claim in ("sub", "role", "typ", "iat", "exp")
        ),
        "",
        "a.b.c",
    ],
)
def test_anything_not_ours_is_refused_the_same_way(tokens: JwtAccessTokens, token: str) -> None:
    with pytest.raises(InvalidAccessToken) as refused:
        tokens.verify(token, NOW)
    assert refused.value.message == "Invalid or expired access token"


def test_a_token_from_the_future_is_refused(tokens: JwtAccessTokens) -> None:
    future = tokens.issue(USER, Role.CUSTOMER, NOW + timedelta(hours=1))
    with pytest.raises(InvalidAccessToken):
        tokens.verify(future.token, NOW)
    # ...but a little clock skew between processes is tolerated.
    skewed = tokens.issue(USER, Role.CUSTOMER, NOW + timedelta(seconds=10))
    assert tokens.verify(skewed.token, NOW).user_id == USER


def test_a_kept_token_still_expires_on_time(tokens: JwtAccessTokens) -> None:
    issued = tokens.issue(USER, Role.CUSTOMER, NOW)
    assert tokens.verify(issued.token, NOW).user_id == USER  # now it is kept

    with pytest.raises(InvalidAccessToken):
        tokens.verify(issued.token, NOW + timedelta(minutes=15))
    with pytest.raises(InvalidAccessToken):
        tokens.verify(issued.token, NOW - timedelta(minutes=5))  # from the future, to this clock


def test_a_kept_token_does_not_vouch_for_a_tampered_copy(tokens: JwtAccessTokens) -> None:
    issued = tokens.issue(USER, Role.CUSTOMER, NOW)
    tokens.verify(issued.token, NOW)
    header, _, signature = issued.token.split(".")
    forged = jwt.encode(_payload(role="admin"), SECRET, algorithm="HS256").split(".")[1]

    with pytest.raises(InvalidAccessToken):
        tokens.verify(f"{header}.{forged}.{signature}", NOW)
    assert tokens.verify(issued.token, NOW).role is Role.CUSTOMER


@pytest.mark.parametrize("cache_size", [0, 1])
def test_any_cache_size_verifies_alike(cache_size: int) -> None:
    tokens = JwtAccessTokens(SECRET, timedelta(minutes=15), cache_size=cache_size)
    first, second = (tokens.issue(uuid.UUID(int=n), Role.CUSTOMER, NOW) for n in (1, 2))

    for issued, user in ((first, 1), (second, 2), (first, 1)):
        assert tokens.verify(issued.token, NOW).user_id == uuid.UUID(int=user)
    with pytest.raises(InvalidAccessToken):
        tokens.verify(first.token, NOW + timedelta(hours=1))


def test_a_negative_cache_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cache size"):
        JwtAccessTokens(SECRET, timedelta(minutes=15), cache_size=-1)
