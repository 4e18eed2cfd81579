"""``/auth/sessions``: a user's signed-in devices, and ending one (its refresh token is refused
afterwards); another user's session is 404 like an unknown one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from salesbot_core.testing import FakeClock
from tests.api.api_helpers import PASSWORD, Customer, error_body, ok_data
from tests.api.conftest import Client, SignUp
from tests.api.test_chat_api import ISO_UTC

PATH = "/auth/sessions"


async def _login(client: Client, who: Customer, agent: str) -> dict[str, Any]:
    response = await client.post(
        "/auth/login",
        json={"email": who.email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    data: dict[str, Any] = ok_data(response)
    return data


async def _sessions(client: Client, who: Customer) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = ok_data(await client.get(PATH, headers=who.headers))
    return listed


async def test_each_login_is_a_session_most_recently_used_first(
    client: Client, customer: Customer, clock: FakeClock, sign_up: SignUp
) -> None:
    clock.advance(timedelta(minutes=1))
    await _login(client, customer, "Phone/1.0")
    clock.advance(timedelta(minutes=1))
    await _login(client, customer, "Laptop/2.0")
    await sign_up()  # someone else's session is not listed

    sessions = await _sessions(client, customer)

    assert [s["userAgent"] for s in sessions] == ["Laptop/2.0", "Phone/1.0", "testclient"]
    for session in sessions:
        assert set(session) == {"id", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "ip"}
        assert uuid.UUID(session["id"])
        for moment in ("createdAt", "lastUsedAt", "expiresAt"):
            assert ISO_UTC.match(session[moment])
        assert session["ip"] == "testclient"
    assert sessions[0]["createdAt"] == "2025-01-15T10:32:00Z"
    assert sessions[0]["expiresAt"] == "2025-01-22T10:32:00Z"


async def test_a_refresh_keeps_the_session_and_marks_it_used(
    client: Client, customer: Customer, clock: FakeClock
) -> None:
    [before] = await _sessions(client, customer)
    clock.advance(timedelta(minutes=10))

    refreshed = await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})
    ok_data(refreshed)

    [after] = await _sessions(client, customer)
    assert after["id"] == before["id"]
    assert after["createdAt"] == before["createdAt"]
    assert after["lastUsedAt"] == "2025-01-15T10:40:00Z"
    assert after["expiresAt"] == before["expiresAt"]  # the login's absolute expiry


async def test_ending_a_session_refuses_its_refresh_token_and_keeps_the_others(
    client: Client, customer: Customer
) -> None:
    phone = await _login(client, customer, "Phone/1.0")
    sessions = await _sessions(client, customer)
    phone_session = next(s for s in sessions if s["userAgent"] == "Phone/1.0")

    ended = await client.delete(f"{PATH}/{phone_session['id']}", headers=customer.headers)

    assert ended.json()["message"] == "Session ended successfully"
    assert ok_data(ended) is None
    refused = await client.post("/auth/refresh", json={"refreshToken": phone["refreshToken"]})
    error_body(refused, 401, "/auth/refresh")
    assert phone_session["id"] not in [s["id"] for s in await _sessions(client, customer)]
    # The session this test signed up with still refreshes.
    ok_data(await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token}))
    # Ending it again: it is no longer a session.
    again = await client.delete(f"{PATH}/{phone_session['id']}", headers=customer.headers)
    error_body(again, 404, f"{PATH}/{phone_session['id']}")


async def test_an_ended_session_stays_ended_after_its_token_was_rotated(
    client: Client, customer: Customer
) -> None:
    rotated = ok_data(
        await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})
    )
    [session] = await _sessions(client, customer)

    ok_data(await client.delete(f"{PATH}/{session['id']}", headers=customer.headers))

    for token in (customer.refresh_token, rotated["refreshToken"]):
        response = await client.post("/auth/refresh", json={"refreshToken": token})
        error_body(response, 401, "/auth/refresh")
    assert await _sessions(client, customer) == []


async def test_logout_ends_the_session(client: Client, customer: Customer) -> None:
    ok_data(await client.post("/auth/logout", json={"refreshToken": customer.refresh_token}))

    assert await _sessions(client, customer) == []


async def test_another_users_session_is_404_like_an_unknown_one(
    client: Client, customer: Customer, sign_up: SignUp
) -> None:
    other = await sign_up()
    [theirs] = await _sessions(client, other)

    for session_id in (theirs["id"], str(uuid.uuid4())):
        path = f"{PATH}/{session_id}"
        response = await client.delete(path, headers=customer.headers)
        assert error_body(response, 404, path)["message"] == "Session not found"
    # Theirs still works.
    ok_data(await client.post("/auth/refresh", json={"refreshToken": other.refresh_token}))


async def test_a_malformed_session_id_is_400(client: Client, customer: Customer) -> None:
    error_body(
        await client.delete(f"{PATH}/not-a-uuid", headers=customer.headers),
        400,
        f"{PATH}/not-a-uuid",
    )


@pytest.mark.parametrize(
    ("method", "path"), [("GET", PATH), ("DELETE", f"{PATH}/{uuid.UUID(int=1)}")]
)
async def test_sessions_need_a_token(client: Client, method: str, path: str) -> None:
    error_body(await client.request(method, path), 401, path)
