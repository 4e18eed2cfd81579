"""``/auth``: login, refresh rotation and reuse detection, logout, logout-all, me, and every way
an access token can be refused (all with the same 401)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import timedelta
from typing import Any

import jwt
import pytest

from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock
from salesbot_http.settings import Settings
from tests.api.api_helpers import PASSWORD, Customer, error_body, ok_data
from tests.api.conftest import Client, SignUp

INVALID_TOKEN = "Invalid or expired access token"


async def test_login_answers_both_tokens_and_the_user(client: Client, sign_up: SignUp) -> None:
    jane = await sign_up(email="jane@example.com")

    response = await client.post(
        "/auth/login", json={"email": "  JANE@example.com ", "password": PASSWORD}
    )

    data = ok_data(response)
    assert set(data) == {"accessToken", "refreshToken", "user"}
    assert data["user"] == {"id": jane.id, "email": "jane@example.com", "name": "Jane Doe"}
    assert response.json()["message"] == "Login successful"
    assert data["refreshToken"] != jane.refresh_token
    me = ok_data(
        await client.get("/auth/me", headers={"Authorization": f"Bearer {data['accessToken']}"})
    )
    assert me["id"] == jane.id


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "jane@example.com", "password": "wrong password"},
        {"email": "nobody@example.com", "password": PASSWORD},
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "jane@example.com", "password": PASSWORD + "x" * 200},
    ],
)
async def test_login_failures_look_the_same(
    client: Client, sign_up: SignUp, credentials: dict[str, str]
) -> None:
    await sign_up(email="jane@example.com")

    body = error_body(await client.post("/auth/login", json=credentials), 401, "/auth/login")

    assert body["message"] == "Invalid email or password"


async def test_login_body_is_validated(client: Client) -> None:
    response = await client.post("/auth/login", json={"email": "jane@example.com"})
    error_body(response, 400, "/auth/login")
    extra = await client.post(
        "/auth/login", json={"email": "jane@example.com", "password": PASSWORD, "remember": True}
    )
    error_body(extra, 400, "/auth/login")


async def test_login_records_the_client_for_audit(
    client: Client, sign_up: SignUp, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> None:
    jane = await sign_up()
    await client.post(
        "/auth/login",
        json={"email": jane.email, "password": PASSWORD},
        headers={"User-Agent": "shop-web/2.0"},
    )

    async with uow_factory() as uow:
        tokens = await uow.refresh_tokens.list_active_for_user(uuid.UUID(jane.id), clock.now())

    assert "shop-web/2.0" in {t.user_agent for t in tokens}
    assert {t.ip for t in tokens} == {"testclient"}


async def test_refresh_rotates_the_refresh_token(client: Client, customer: Customer) -> None:
    response = await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})

    data = ok_data(response)
    assert set(data) == {"accessToken", "refreshToken"}
    assert data["refreshToken"] != customer.refresh_token
    me = await client.get("/auth/me", headers={"Authorization": f"Bearer {data['accessToken']}"})
    assert ok_data(me)["id"] == customer.id
    again = await client.post("/auth/refresh", json={"refreshToken": data["refreshToken"]})
    assert again.status_code == 200


async def test_a_replayed_refresh_token_revokes_its_whole_family(
    client: Client, sign_up: SignUp
) -> None:
    jane = await sign_up(email="jane@example.com")
    other_login = ok_data(
        await client.post("/auth/login", json={"email": jane.email, "password": PASSWORD})
    )
    rotated = ok_data(await client.post("/auth/refresh", json={"refreshToken": jane.refresh_token}))

    replay = await client.post("/auth/refresh", json={"refreshToken": jane.refresh_token})

    body = error_body(replay, 401, "/auth/refresh")
    assert body["message"] == "Invalid or expired refresh token"
    # The thief's (or victim's) fresh token of that family is dead too...
    successor = await client.post("/auth/refresh", json={"refreshToken": rotated["refreshToken"]})
    error_body(successor, 401, "/auth/refresh")
    # ...but another login (another family) is untouched.
    other = await client.post("/auth/refresh", json={"refreshToken": other_login["refreshToken"]})
    assert other.status_code == 200


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43])
async def test_refresh_with_an_unknown_token_is_401(client: Client, token: str) -> None:
    response = await client.post("/auth/refresh", json={"refreshToken": token})
    error_body(response, 401, "/auth/refresh")


async def test_refresh_tokens_expire(
    client: Client, customer: Customer, clock: FakeClock, settings: Settings
) -> None:
    clock.advance(settings.jwt_refresh_expires_in + timedelta(seconds=1))

    response = await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})

    error_body(response, 401, "/auth/refresh")


async def test_refresh_needs_the_field(client: Client) -> None:
    error_body(await client.post("/auth/refresh", json={}), 400, "/auth/refresh")


async def test_logout_kills_that_refresh_token_only(client: Client, customer: Customer) -> None:
    second = ok_data(
        await client.post("/auth/login", json={"email": customer.email, "password": PASSWORD})
    )

    response = await client.post("/auth/logout", json={"refreshToken": customer.refresh_token})

    assert ok_data(response) is None
    dead = await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})
    error_body(dead, 401, "/auth/refresh")
    alive = await client.post("/auth/refresh", json={"refreshToken": second["refreshToken"]})
    assert alive.status_code == 200


async def test_logout_is_idempotent_and_tells_nothing(client: Client, customer: Customer) -> None:
    first = await client.post("/auth/logout", json={"refreshToken": customer.refresh_token})
    second = await client.post("/auth/logout", json={"refreshToken": customer.refresh_token})
    unknown = await client.post("/auth/logout", json={"refreshToken": "never-issued"})

    assert first.status_code == second.status_code == unknown.status_code == 200


async def test_logout_all_kills_every_refresh_token_of_the_user(
    client: Client, sign_up: SignUp
) -> None:
    jane = await sign_up(email="jane@example.com")
    john = await sign_up(email="john@example.com")
    second = ok_data(
        await client.post("/auth/login", json={"email": jane.email, "password": PASSWORD})
    )

    response = await client.post("/auth/logout-all", headers=jane.headers)

    assert ok_data(response) is None
    for token in (jane.refresh_token, second["refreshToken"]):
        error_body(
            await client.post("/auth/refresh", json={"refreshToken": token}), 401, "/auth/refresh"
        )
    johns = await client.post("/auth/refresh", json={"refreshToken": john.refresh_token})
    assert johns.status_code == 200


async def test_logout_all_needs_a_token(client: Client) -> None:
    error_body(await client.post("/auth/logout-all"), 401, "/auth/logout-all")


async def test_me_is_the_signed_in_user(client: Client, customer: Customer) -> None:
    me = ok_data(await client.get("/auth/me", headers=customer.headers))

    assert me["id"] == customer.id
    assert me["email"] == customer.email
    assert set(me) == {"id", "email", "name", "phone", "createdAt"}


# ------------------------------------------------------------------ refused access tokens


def _claims(customer: Customer, clock: FakeClock, **changes: Any) -> dict[str, Any]:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "sub": customer.id,
        "role": "customer",
        "typ": "access",
        "iat": now,
        "exp": now + 900,
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _bad_authorizations(
    customer: Customer, clock: FakeClock, settings: Settings
) -> dict[str, str | None]:
    secret = settings.jwt_secret
    good = customer.access_token

    def signed(key: str = secret, algorithm: str = "HS256", **changes: Any) -> str:
        return jwt.encode(_claims(customer, clock, **changes), key, algorithm=algorithm)

    return {
        "missing header": None,
        "empty header": "",
        "no scheme": good,
        "basic scheme": f"Basic {good}",
        "bearer without token": "Bearer ",
        "garbage": "Bearer not.a.jwt",
        "tampered payload": "Bearer "
        + good[:-4]
        + ("AAAA" if not good.endswith("AAAA") else "BBBB"),
        "alg none": f"Bearer {_unsigned(_claims(customer, clock))}",
        "alg none with signature": f"Bearer {_unsigned(_claims(customer, clock))}sig",
        "wrong key": f"Bearer {signed(key='another-secret-that-is-long-enough-too')}",
        "refresh secret as key": f"Bearer {signed(key=settings.jwt_refresh_secret)}",
        "another algorithm": f"Bearer {signed(algorithm='HS512')}",
        "wrong typ": f"Bearer {signed(typ='refresh')}",
        "no typ": f"Bearer {signed(typ=None)}",
        "no exp": f"Bearer {signed(exp=None)}",
        "no iat": f"Bearer {signed(iat=None)}",
        "no sub": f"Bearer {signed(sub=None)}",
        "no role": f"Bearer {signed(role=None)}",
        "sub not a uuid": f"Bearer {signed(sub='42')}",
        "unknown role": f"Bearer {signed(role='root')}",
        "already expired": f"Bearer {signed(exp=int(clock.now().timestamp()) - 1)}",
        "issued in the future": f"Bearer {signed(iat=int(clock.now().timestamp()) + 3600)}",
        "refresh token as access token": f"Bearer {customer.refresh_token}",
    }


async def test_every_refused_access_token_gets_the_same_401(
    client: Client, customer: Customer, clock: FakeClock, settings: Settings
) -> None:
    bodies: dict[str, tuple[str, Any]] = {}
    for case, authorization in _bad_authorizations(customer, clock, settings).items():
        headers = {} if authorization is None else {"Authorization": authorization}
        response = await client.get("/auth/me", headers=headers)
        body = error_body(response, 401, "/auth/me")
        assert response.headers.get("www-authenticate", "").startswith("Bearer"), case
        bodies[case] = (body["message"], body["data"])

    assert set(bodies.values()) == {(INVALID_TOKEN, None)}, bodies
    still_good = await client.get("/auth/me", headers=customer.headers)
    assert still_good.status_code == 200


async def test_an_access_token_expires_after_its_ttl(
    client: Client, customer: Customer, clock: FakeClock, settings: Settings
) -> None:
    clock.advance(settings.jwt_expires_in - timedelta(seconds=1))
    assert (await client.get("/auth/me", headers=customer.headers)).status_code == 200

    clock.advance(timedelta(seconds=1))

    body = error_body(await client.get("/auth/me", headers=customer.headers), 401, "/auth/me")
    assert body["message"] == INVALID_TOKEN


async def test_the_guard_runs_before_the_body_is_read(client: Client) -> None:
    response = await client.post("/chat/send", content=b"{not json", headers={})
    error_body(response, 401, "/chat/send")
