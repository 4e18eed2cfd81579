"""``/users``: registration, the email check and the profile, with every registration rule."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.api.api_helpers import PASSWORD, Customer, error_body, ok_data
from tests.api.conftest import Client, SignUp

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def registration(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "jane@example.com",
        "password": PASSWORD,
        "name": "Jane Doe",
        "phone": "+14155552671",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


async def test_register_answers_201_with_the_user_in_the_envelope(client: Client) -> None:
    response = await client.post(
        "/users/register", json=registration(email="  Jane@Example.COM ", name="  Jane   Doe ")
    )

    user = ok_data(response, 201)
    assert set(user) == {"id", "email", "name", "phone", "createdAt"}
    assert uuid.UUID(user["id"])
    assert user["email"] == "jane@example.com"
    assert user["name"] == "Jane Doe"
    assert user["phone"] == "+14155552671"
    assert ISO_UTC.match(user["createdAt"])
    assert response.json()["message"] == "User registered successfully"


async def test_registration_never_answers_the_password_or_its_hash(client: Client) -> None:
    response = await client.post("/users/register", json=registration())

    assert response.status_code == 201
    assert PASSWORD not in response.text
    assert "$2b$" not in response.text
    assert "password" not in response.text.lower()


async def test_phone_is_optional(client: Client) -> None:
    user = ok_data(await client.post("/users/register", json=registration(phone=None)), 201)
    assert user["phone"] is None


async def test_an_email_registers_once_whatever_its_case(client: Client) -> None:
    assert (await client.post("/users/register", json=registration())).status_code == 201

    again = await client.post("/users/register", json=registration(email="JANE@example.com"))

    body = error_body(again, 409, "/users/register")
    assert body["message"] == "This email is already registered"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "jane@localhost"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": ""}, "email"),
        ({"email": 42}, "email"),
        ({"password": "short12"}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"password": None}, "password"),
        ({"name": "Jo"}, "name"),
        ({"name": "   Jo   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": None}, "name"),
        ({"phone": "4155552671"}, "phone"),
        ({"phone": "+0155552671"}, "phone"),
        ({"phone": "+1 415 555 2671"}, "phone"),
        ({"phone": "+1415555267123456"}, "phone"),
    ],
)
async def test_registration_rules_answer_400_naming_the_field(
    client: Client, changes: dict[str, Any], field: str
) -> None:
    response = await client.post("/users/register", json=registration(**changes))

    body = error_body(response, 400, "/users/register")
    assert field in body["message"]
    check = await client.get("/users/check", params={"email": "jane@example.com"})
    assert ok_data(check) == {"exists": False}


@pytest.mark.parametrize("password", ["12345678", "x" * 128, "é" * 8, "🔒" * 128])
async def test_passwords_of_8_to_128_characters_of_any_kind_are_accepted(
    client: Client, password: str
) -> None:
    response = await client.post("/users/register", json=registration(password=password))
    assert response.status_code == 201, response.text


async def test_a_64_emoji_password_registers_and_logs_in(client: Client) -> None:
    password = "😀" * 64  # 256 bytes of UTF-8: far beyond what bcrypt reads
    assert (await client.post("/users/register", json=registration(password=password))).is_success

    login = await client.post(
        "/auth/login", json={"email": "jane@example.com", "password": password}
    )

    assert login.status_code == 200, login.text


async def test_a_long_password_is_not_truncated(client: Client) -> None:
    # The same first 72 bytes, different after: bcrypt alone would accept the wrong one.
    password = "😀" * 18 + "right-tail"
    wrong = "😀" * 18 + "wrong-tail"
    assert (await client.post("/users/register", json=registration(password=password))).is_success

    login = await client.post("/auth/login", json={"email": "jane@example.com", "password": wrong})

    error_body(login, 401, "/auth/login")


async def test_unknown_fields_are_refused(client: Client) -> None:
    response = await client.post("/users/register", json=registration(role="admin"))

    body = error_body(response, 400, "/users/register")
    assert "role" in body["message"]
    check = await client.get("/users/check", params={"email": "jane@example.com"})
    assert ok_data(check) == {"exists": False}


@pytest.mark.parametrize(
    "raw", [b'{"email": "jane@example.com",', b"not json", b"", b"[]", b'"text"']
)
async def test_a_body_that_is_not_a_json_object_is_400(client: Client, raw: bytes) -> None:
    response = await client.post(
        "/users/register", content=raw, headers={"Content-Type": "application/json"}
    )
    error_body(response, 400, "/users/register")


async def test_a_body_over_64_kib_is_413(client: Client) -> None:
    response = await client.post("/users/register", json=registration(name="x" * (64 * 1024 + 1)))
    body = error_body(response, 413, "/users/register")
    assert "Too Large" in body["message"]


async def test_check_tells_whether_an_email_is_registered(
    client: Client, customer: Customer
) -> None:
    taken = await client.get("/users/check", params={"email": customer.email.upper()})
    free = await client.get("/users/check", params={"email": "nobody@example.com"})

    assert ok_data(taken) == {"exists": True}
    assert ok_data(free) == {"exists": False}


@pytest.mark.parametrize("query", ["", "?email=", "?email=not-an-email"])
async def test_check_without_a_valid_email_is_400(client: Client, query: str) -> None:
    error_body(await client.get(f"/users/check{query}"), 400, "/users/check")


async def test_profile_is_the_signed_in_user(client: Client, sign_up: SignUp) -> None:
    jane = await sign_up(email="jane@example.com", name="Jane Doe")
    await sign_up(email="john@example.com", name="John Roe")

    profile = ok_data(await client.get("/users/profile", headers=jane.headers))

    assert profile["id"] == jane.id
    assert profile["email"] == "jane@example.com"
    assert profile["name"] == "Jane Doe"
    assert set(profile) == {"id", "email", "name", "phone", "createdAt"}


async def test_profile_needs_a_token(client: Client) -> None:
    error_body(await client.get("/users/profile"), 401, "/users/profile")
