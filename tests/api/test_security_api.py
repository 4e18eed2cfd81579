"""Attacks on the real app over PostgreSQL, beyond the route suites: forged access tokens, racing
refreshes, what the database holds, passwords of any length and alphabet, and what an error
response may carry."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jwt
import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from litestar.testing import AsyncTestClient

from salesbot_core.domain import Role
from salesbot_core.testing import FakeClock, ScriptedAssistant
from salesbot_core.tokens import hash_refresh_secret
from salesbot_http.app import create_app
from salesbot_http.container import Container
from salesbot_http.settings import Settings
from salesbot_postgres import Database, DatabaseConfig
from tests.api.api_helpers import PASSWORD, Customer, error_body, ok_data, replace_settings
from tests.api.conftest import Client, SignUp
from tests.api.test_auth_api import _bad_authorizations, _claims
from tests.support.database import create_database, drop_database

# ------------------------------------------------------------------ forged access tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT with exactly this header, signed with HMAC-SHA256 under ``key`` (or unsigned)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if key is None:
        return f"{signing_input}."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _more_forgeries(
    customer: Customer, clock: FakeClock, settings: Settings
) -> dict[str, str | None]:
    """What ``test_auth_api`` does not already try: header tricks around the right key."""
    claims = _claims(customer, clock)
    secret = settings.jwt_secret.encode()
    forgeries = {
        # A valid HS256 signature under the real key, but the header names another algorithm:
        # the header must not choose how the token is checked.
        f"header says {alg}, HMAC under the real key": _forged(
            {"alg": alg, "typ": "JWT"}, claims, secret
        )
        for alg in ("RS256", "ES256", "PS256", "EdDSA", "HS384")
    }
    forgeries |= {
        f"alg {alg!r}": _forged({"alg": alg, "typ": "JWT"}, claims, None)
        for alg in ("None", "NONE", "nOnE", "")
    }
    forgeries |= {
        "no alg at all": _forged({"typ": "JWT"}, claims, secret),
        "alg none with the real signature": _forged({"alg": "none"}, claims, secret).rsplit(".", 1)[
            0
        ]
        + "."
        + _forged({"alg": "HS256", "typ": "JWT"}, claims, secret).rsplit(".", 1)[1],
        "embedded jwk of the attacker": _forged(
            {"alg": "HS256", "jwk": {"kty": "oct", "k": _b64(b"attacker-key")}},
            claims,
            b"attacker-key",
        ),
        "HS384 under the real key": jwt.encode(claims, settings.jwt_secret, algorithm="HS384"),
        "foreign key, right header": jwt.encode(
            claims, "a-foreign-service-secret-of-32-bytes!", algorithm="HS256"
        ),
        "expired a second ago": jwt.encode(
            _claims(customer, clock, exp=int(clock.now().timestamp()) - 1),
            settings.jwt_secret,
            algorithm="HS256",
        ),
        "exp as a string": jwt.encode(
            _claims(customer, clock, exp=str(int(clock.now().timestamp()) + 900)),
            settings.jwt_secret,
            algorithm="HS256",
        ),
    }
    return {name: f"Bearer {token}" for name, token in forgeries.items()}


def _comparable(response: Any) -> dict[str, Any]:
    """The response as a client sees it, without the timestamp and the path."""
    body: dict[str, Any] = response.json()
    return {
        "status": response.status_code,
        "challenge": response.headers.get("www-authenticate"),
        **{key: value for key, value in body.items() if key not in {"timestamp", "path"}},
    }


async def test_every_forged_or_misused_access_token_gets_one_identical_401(
    client: Client, customer: Customer, clock: FakeClock, settings: Settings
) -> None:
    cases = _bad_authorizations(customer, clock, settings) | _more_forgeries(
        customer, clock, settings
    )
    seen: dict[str, dict[str, Any]] = {}
    for route in ("/auth/me", "/users/profile", "/chat/conversations"):
        for case, authorization in cases.items():
            headers = {} if authorization is None else {"Authorization": authorization}
            response = await client.get(route, headers=headers)
            error_body(response, 401, route)
            seen[f"{route} {case}"] = _comparable(response)

    reference = next(iter(seen.values()))
    different = {case: answer for case, answer in seen.items() if answer != reference}
    assert different == {}, reference
    assert (await client.get("/auth/me", headers=customer.headers)).status_code == 200


# ------------------------------------------------------------------ refresh tokens


async def test_eight_parallel_refreshes_of_one_token_have_exactly_one_winner(
    client: Client, customer: Customer, database: Database
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})
            for _ in range(8)
        )
    )

    winners = [r for r in responses if r.status_code == 200]
    losers = [r for r in responses if r.status_code != 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert {r.status_code for r in losers} == {401}
    assert len({json.dumps(_comparable(r)) for r in losers}) == 1
    # One rotation happened, not several: the family is the login's token and one successor.
    async with database.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) AS family FROM refresh_tokens WHERE family_id = "
            "(SELECT family_id FROM refresh_tokens WHERE token_hash = %(hash)s)",
            {"hash": hash_refresh_secret(customer.refresh_token)},
        )
        row = await cursor.fetchone()
    assert row is not None
    assert row["family"] == 2


async def _everything_stored(database: Database) -> str:
    """Every row of every table of the schema, as JSON text: what a database dump would show."""
    async with database.connection() as connection:
        tables = await (
            await connection.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
        ).fetchall()
        rows: list[str] = []
        for table in tables:
            dumped = await connection.execute(
                f'SELECT row_to_json(t)::text AS row FROM "{table["table_name"]}" AS t'  # noqa: S608
            )
            rows.extend(row["row"] for row in await dumped.fetchall())
    return "\n".join(rows)


async def test_the_database_never_holds_a_refresh_token_or_password_in_clear(
    client: Client, sign_up: SignUp, database: Database
) -> None:
    jane = await sign_up(password="Plaintext-Password-Marker-1")
    handed_out = [jane.refresh_token]
    rotated = ok_data(await client.post("/auth/refresh", json={"refreshToken": jane.refresh_token}))
    handed_out.append(rotated["refreshToken"])
    second = ok_data(
        await client.post("/auth/login", json={"email": jane.email, "password": jane.password})
    )
    handed_out.append(second["refreshToken"])
    await client.post("/auth/logout", json={"refreshToken": second["refreshToken"]})
    await client.post("/auth/refresh", json={"refreshToken": jane.refresh_token})  # reuse

    dump = await _everything_stored(database)

    # The scan sees the table: each token's SHA-256 is there...
    for token in handed_out:
        assert hash_refresh_secret(token) in dump
    # ...and nothing a thief could use.
    for secret in [*handed_out, jane.password, jane.access_token, rotated["accessToken"]]:
        assert secret not in dump
        assert secret.lower() not in dump.lower()


# ------------------------------------------------------------------ passwords


@pytest.fixture
async def unthrottled(container: Container, settings: Settings) -> AsyncIterator[Client]:
    """The app without login limits, for tests that try many passwords from one client."""
    container.settings.override(
        providers.Object(
            replace_settings(
                settings, login_max_failures_per_account=0, login_max_failures_per_client=0
            )
        )
    )
    async with AsyncTestClient(app=create_app(container)) as client:
        yield client


async def test_seven_characters_are_too_few_even_as_28_bytes(client: Client) -> None:
    for password in ("🔒" * 7, "abcdefg"):
        response = await client.post(
            "/users/register",
            json={"email": "jane@example.com", "password": password, "name": "Jane Doe"},
        )
        assert "password" in error_body(response, 400, "/users/register")["message"]


def _raw_json(body: dict[str, str]) -> bytes:
    # UTF-8 as it is: 10,000 emoji are 40 KB, under the body limit (escaped they would not be).
    return json.dumps(body, ensure_ascii=False).encode()


ALPHABETS = {
    "ascii": "a",
    "latin": "é",
    "cjk": "密",
    "emoji": "😀",
    "combining": "e\u0301",
    "nul": "\x00",
    "rtl override": "\u202e",
}
LENGTHS = (0, 1, 7, 8, 71, 72, 73, 128, 129, 1000, 10_000)


def _passwords() -> Iterator[tuple[str, int, str]]:
    for name, unit in ALPHABETS.items():
        for length in LENGTHS:
            yield f"{name} x{length}", length, (unit * length)[:length]


async def test_no_password_of_any_length_or_alphabet_causes_a_server_error(
    unthrottled: Client,
) -> None:
    answers: dict[str, tuple[int, int]] = {}
    expected: dict[str, tuple[int, int]] = {}
    for n, (case, length, password) in enumerate(_passwords()):
        expected[case] = (201, 200) if 8 <= length <= 128 else (400, 401)
        email = f"user{n}@example.com"
        registered = await unthrottled.post(
            "/users/register",
            content=_raw_json({"email": email, "password": password, "name": "Jane Doe"}),
            headers={"Content-Type": "application/json"},
        )
        logged_in = await unthrottled.post(
            "/auth/login",
            content=_raw_json({"email": email, "password": password}),
            headers={"Content-Type": "application/json"},
        )
        answers[case] = (registered.status_code, logged_in.status_code)

    # Characters are code points: 8 emoji are enough, 129 are too many, whatever the bytes.
    assert answers == expected


@pytest.mark.parametrize(
    "raw",
    [
        # Not UTF-8: a lone surrogate encoded anyway (CESU-style), a Latin-1 byte, an overlong "/"
        '{"email": "jane@example.com", "password": "\ud800abcdefgh", "name": "Jane Doe"}'.encode(
            "utf-8", "surrogatepass"
        ),
        b'{"email": "jane@example.com", "password": "caf\xe9-latin-1", "name": "Jane Doe"}',
        b'{"email": "jane@example.com", "password": "\xc0\xafoverlong", "name": "Jane Doe"}',
        # UTF-8, but a JSON escape of a lone surrogate: no valid string
        b'{"email": "jane@example.com", "password": "\\ud800abcdefgh", "name": "Jane Doe"}',
    ],
    ids=["encoded surrogate", "latin-1", "overlong", "escaped surrogate"],
)
@pytest.mark.parametrize("path", ["/users/register", "/auth/login"])
async def test_a_body_that_is_not_valid_unicode_is_400(
    unthrottled: Client, raw: bytes, path: str
) -> None:
    response = await unthrottled.post(
        path, content=raw, headers={"Content-Type": "application/json"}
    )

    error_body(response, 400, path)
    _no_leak(response)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(password=st.text(max_size=10_000))
async def test_any_unicode_password_is_refused_or_accepted_never_a_5xx(
    unthrottled: Client, password: str
) -> None:
    email = f"fuzz-{uuid.uuid4().hex}@example.com"
    registered = await unthrottled.post(
        "/users/register",
        content=_raw_json({"email": email, "password": password, "name": "Fuzz Buyer"}),
        headers={"Content-Type": "application/json"},
    )
    assert registered.status_code in {201, 400}, registered.text
    assert registered.status_code == (201 if 8 <= len(password) <= 128 else 400)

    logged_in = await unthrottled.post(
        "/auth/login",
        content=_raw_json({"email": email, "password": password}),
        headers={"Content-Type": "application/json"},
    )
    assert logged_in.status_code == (200 if registered.status_code == 201 else 401)


async def test_unknown_email_and_wrong_password_answer_identically(
    client: Client, sign_up: SignUp
) -> None:
    jane = await sign_up(email="jane@example.com")
    attempts = {
        "wrong password": {"email": jane.email, "password": "not her password"},
        "unknown email": {"email": "nobody@example.com", "password": PASSWORD},
        "unknown email, wrong password": {"email": "nobody@example.com", "password": "x" * 9},
        "right password, another case of email": {"email": "JANE@example.COM", "password": "x"},
    }

    answers = {
        case: (
            _comparable(response),
            sorted(
                (key, value)
                for key, value in response.headers.items()
                if key not in {"date", "content-length"}
            ),
        )
        for case, body in attempts.items()
        for response in [await client.post("/auth/login", json=body)]
    }

    assert len({json.dumps(answer) for answer in answers.values()}) == 1, answers
    assert next(iter(answers.values()))[0]["status"] == 401


# ------------------------------------------------------------------ what responses carry

LEAKS = ("$2b$", "$2a$", "password_hash", "passwordHash", "Traceback", "SELECT ", "INSERT ")


def _no_leak(response: Any) -> None:
    for leak in LEAKS:
        assert leak.lower() not in response.text.lower(), (leak, response.text)


async def test_no_answer_of_a_whole_session_carries_a_hash_or_internals(
    client: Client, sign_up: SignUp
) -> None:
    jane = await sign_up()
    responses = [
        await client.post("/auth/login", json={"email": jane.email, "password": jane.password}),
        await client.get("/auth/me", headers=jane.headers),
        await client.get("/users/profile", headers=jane.headers),
        await client.get("/users/check", params={"email": jane.email}),
        sent := await client.post("/chat/send", json={"content": "hi"}, headers=jane.headers),
        await client.get("/chat/conversations", headers=jane.headers),
        await client.get(
            f"/chat/history/{sent.json()['data']['conversation']['id']}", headers=jane.headers
        ),
        await client.post("/auth/refresh", json={"refreshToken": jane.refresh_token}),
        await client.post(
            "/users/register",
            json={"email": jane.email, "password": jane.password, "name": "Jane Doe"},
        ),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 201, 200, 200, 200, 409]
    for response in responses:
        _no_leak(response)


async def test_an_unexpected_error_in_the_assistant_is_a_bare_500_and_stores_nothing(
    client: Client, customer: Customer, assistant: ScriptedAssistant
) -> None:
    assistant.replies.append(
        RuntimeError('SELECT password_hash FROM users; File "/app/x.py", line 1, Traceback')
    )

    response = await client.post("/chat/send", json={"content": "hi"}, headers=customer.headers)

    body = error_body(response, 500, "/chat/send")
    assert body["message"] == "Internal server error"
    _no_leak(response)
    assert ok_data(await client.get("/chat/conversations", headers=customer.headers)) == []


@pytest.fixture
def unmigrated_database_url(postgres_server_url: str) -> Iterator[str]:
    """A real, empty database: every query fails in PostgreSQL with an error naming SQL."""
    name, url = create_database(postgres_server_url)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


async def test_a_real_database_error_never_reaches_the_client(
    container: Container, settings: Settings, unmigrated_database_url: str
) -> None:
    broken = Database(DatabaseConfig(unmigrated_database_url, pool_size=2))
    container.persistence.uow_factory.override(providers.Object(broken.unit_of_work))
    container.shutdown().add(broken.dispose)  # in the app's loop, where its pool opened
    token = container.security.token_issuer().issue(uuid.uuid4(), Role.CUSTOMER, FakeClock().now())
    bearer = {"Authorization": f"Bearer {token.token}"}
    try:
        async with AsyncTestClient(app=create_app(container)) as client:
            responses = [
                await client.post(
                    "/users/register",
                    json={"email": "jane@example.com", "password": PASSWORD, "name": "Jane Doe"},
                ),
                await client.post(
                    "/auth/login", json={"email": "jane@example.com", "password": PASSWORD}
                ),
                await client.get("/chat/conversations", headers=bearer),
                await client.post("/chat/send", json={"content": "hi"}, headers=bearer),
            ]
            health = await client.get("/health")
    finally:
        await broken.dispose()

    for response in responses:
        body = error_body(response, 500, response.url.path)
        assert body["message"] == "Internal server error"
        _no_leak(response)
        for internal in ("relation", "users", "psycopg", "sqlalchemy", "does not exist"):
            assert internal not in body["message"].lower()
    error_body(health, 503, "/health")
    _no_leak(health)


# ------------------------------------------------------------------ text PostgreSQL cannot take


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/users/register",
            {"email": "jane@example.com", "password": PASSWORD, "name": "Jane\x00Doe"},
            "name",
        ),
        (
            "POST",
            "/users/register",
            {"email": "ja\x00ne@example.com", "password": PASSWORD, "name": "Jane Doe"},
            "email",
        ),
        (
            "POST",
            "/users/register",
            {
                "email": "jane@example.com",
                "password": PASSWORD,
                "name": "Jane",
                "phone": "+1\u0664\u0661\u06655552671",  # Arabic-Indic digits
            },
            "phone",
        ),
        ("POST", "/chat/send", {"content": "a laptop\x00please"}, "content"),
    ],
)
async def test_a_nul_or_a_foreign_digit_is_a_400_not_a_database_error(
    client: Client, customer: Customer, method: str, path: str, body: dict[str, str], field: str
) -> None:
    response = await client.request(method, path, json=body, headers=customer.headers)

    assert field in error_body(response, 400, path)["message"]


async def test_nul_characters_elsewhere_are_answered_not_crashed_on(
    client: Client, customer: Customer
) -> None:
    sent = ok_data(
        await client.post("/chat/send", json={"content": "hi"}, headers=customer.headers), 201
    )
    conversation_id = sent["conversation"]["id"]
    rename = f"/chat/conversations/{conversation_id}/title"

    renamed = await client.patch(rename, json={"title": "a\x00b"}, headers=customer.headers)
    checked = await client.get("/users/check", params={"email": "a\x00@example.com"})
    login = await client.post("/auth/login", json={"email": "a\x00@example.com", "password": "x"})
    searched = await client.get(
        "/chat/conversations", params={"q": "hi\x00there"}, headers=customer.headers
    )
    far_back = await client.get(
        f"/chat/history/{conversation_id}", params={"before": 2**40}, headers=customer.headers
    )

    assert "title" in error_body(renamed, 400, rename)["message"]
    assert "email" in error_body(checked, 400, "/users/check")["message"]
    error_body(login, 401, "/auth/login")
    assert ok_data(searched) == []
    assert [m["content"] for m in ok_data(far_back)["messages"]] == ["hi", "Reply to: hi"]


# ------------------------------------------------------------------ deeply nested bodies

NESTED = {
    "5,000 arrays": "[" * 5_000 + "]" * 5_000,
    "5,000 objects": '{"a":' * 5_000 + "1" + "}" * 5_000,
    "deep in a field": '{"content": ' + "[" * 5_000 + "]" * 5_000 + "}",
}


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
async def test_a_too_deeply_nested_body_is_400_on_every_json_route_and_stores_nothing(
    client: Client, customer: Customer, database: Database, body: str
) -> None:
    conversation_id = ok_data(
        await client.post("/chat/send", json={"content": "hi"}, headers=customer.headers), 201
    )["conversation"]["id"]
    stored = await _everything_stored(database)
    routes = [
        ("POST", "/users/register"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        ("POST", "/chat/send"),
        ("POST", "/chat/send/stream"),
        ("PATCH", f"/chat/conversations/{conversation_id}/title"),
    ]

    for method, path in routes:
        response = await client.request(
            method,
            path,
            content=body,
            headers={**customer.headers, "Content-Type": "application/json"},
        )
        assert error_body(response, 400, path)["message"] == "JSON is malformed: nested too deeply"
        _no_leak(response)

    assert await _everything_stored(database) == stored
