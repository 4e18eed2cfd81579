"""Schemathesis against the app's own OpenAPI document: every operation, generated valid and
invalid requests, every default check and the positive-data check (a request the document
calls valid is not refused with 400 or 422), as a signed-in customer.

The app is the real one (bcrypt at cost 4, the offline assistant) on this session's PostgreSQL
database, called in process through Schemathesis's ASGI transport. That transport runs the app,
and its lifespan, on an event loop of its own, so the app builds its own connection pool there
(on first use) rather than sharing the suite's.

The schema is loaded when the module is imported (Schemathesis's lazy fixture loader does not
work with pytest 9.2); the app needs no database for that, and the database is plugged in by a
fixture before the first generated request.

One parameter is not left to chance, as a client would not make it up either: the conversation
id is one of the customer's conversations (so reads, renames and the delete reach their success
answers, and those bodies are checked against the document too). The paging cursor is left to
Schemathesis: the document's pattern describes exactly the cursors the API accepts.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import schemathesis
from dependency_injector import providers
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from salesbot_core.domain import Conversation
from salesbot_http.app import create_app
from salesbot_http.container import build_container, database_config
from salesbot_http.settings import Settings
from salesbot_postgres import Database
from tests.api.api_helpers import PASSWORD, replace_settings

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SETTINGS = Settings(
    database_url="postgresql://unset@127.0.0.1:1/unset",  # replaced by `on_the_test_database`
    jwt_secret="schemathesis-access-secret-" + "a" * 40,
    jwt_refresh_secret="schemathesis-refresh-secret-" + "b" * 40,
    bcrypt_rounds=4,
    hash_threads=2,
    health_timeout_s=1.0,
    # Schemathesis logs in with made-up credentials over and over from one address.
    login_max_failures_per_client=0,
)
CONTAINER = build_container(SETTINGS)
APP = create_app(CONTAINER, run_scheduled_jobs=False)

CONVERSATION_ID = uuid.uuid4()
CONFIG = schemathesis.Config.from_dict(
    {
        "parameters": {"path.conversation_id": str(CONVERSATION_ID)},
        # On by default today; named so a change of Schemathesis's defaults cannot drop it.
        "checks": {"positive_data_acceptance": {"enabled": True}},
        "generation": {
            # The token is sent by the test; Schemathesis's `ignored_auth` check still drops it
            # to see that each protected operation refuses the request.
            "with-security-parameters": False,
            # salesbot ignores query parameters it does not know (cache busters, tracking), as
            # most HTTP APIs do. Unknown body fields are refused: the API suite checks that.
            "allow-extra-parameters": False,
        },
    }
)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """The catalogue import's JSON Lines body is text: sent as its UTF-8 bytes, as text/csv is."""
    return value.encode() if isinstance(value, str) else str(value).encode()


schema = schemathesis.openapi.from_asgi("/schema/openapi.json", APP, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def on_the_test_database(database_url: str) -> Iterator[None]:
    CONTAINER.persistence.config.override(
        providers.Object(database_config(replace_settings(SETTINGS, database_url=database_url)))
    )
    yield
    asgi.shutdown_lifespans()  # the app's lifespan closes its pool, on Schemathesis's loop


@pytest.fixture(scope="module")
def login() -> dict[str, Any]:
    """Register and log in a customer through the API itself; the login's data."""
    email = f"schemathesis-{secrets.token_hex(4)}@example.com"
    register = schema["/users/register"]["POST"].Case(
        body={"email": email, "password": PASSWORD, "name": "Schema Tester"}
    )
    registered = register.call()
    assert registered.status_code == 201, registered.text
    login = schema["/auth/login"]["POST"].Case(body={"email": email, "password": PASSWORD})
    logged_in = login.call()
    assert logged_in.status_code == 200, logged_in.text
    data: dict[str, Any] = logged_in.json()["data"]
    return data


@pytest.fixture(scope="module")
async def access_token(login: dict[str, Any], session_database: Database) -> str:
    """The customer's token; the customer owns ``CONVERSATION_ID``, with one exchange in it."""
    now = datetime.now(UTC)
    async with session_database.unit_of_work() as uow:
        await uow.conversations.add(
            Conversation(
                id=CONVERSATION_ID,
                user_id=uuid.UUID(login["user"]["id"]),
                title="Schemathesis",
                created_at=now,
                updated_at=now,
            )
        )
        await uow.commit()
    token: str = login["accessToken"]
    send = schema["/chat/send"]["POST"].Case(
        body={"content": "I need a laptop", "conversationId": str(CONVERSATION_ID)}
    )
    sent = send.call(headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 201, sent.text
    return token


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_api_keeps_its_openapi_document(case: schemathesis.Case, access_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {access_token}"})
