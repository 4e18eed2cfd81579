"""The console's API and pages over the real app: ``GET /admin/conversations/{id}`` (the
transcript and the metadata distillation by distillation), and the pages' documents and headers
(a Content-Security-Policy without inline scripts, nothing cached)."""

from __future__ import annotations

import re
import uuid

import pytest

from salesbot_core.domain import SalesMetadata, SaleStatus
from salesbot_core.testing import ScriptedAssistant
from salesbot_http.web.pages import STATIC_DIR
from tests.api.api_helpers import Customer, error_body, ok_data
from tests.api.conftest import Client, Settle
from tests.api.test_admin_api import admin  # noqa: F401 - the fixture
from tests.api.test_chat_api import send, start


async def test_an_admin_reads_a_conversation_with_its_distillations(
    client: Client,
    admin: Customer,  # noqa: F811 - the fixture
    customer: Customer,
    assistant: ScriptedAssistant,
    settle: Settle,
) -> None:
    left = SalesMetadata(
        interests=("laptop",), offered_products=("XPS 13",), sale_status=SaleStatus.NEGOTIATING
    )
    assistant.distillations.append(left)
    conversation_id = await start(client, customer, "I need a <b>laptop</b>")
    for content in ("for coding", "under 1500"):
        ok_data(await send(client, customer, content, conversation_id), 201)
    await settle()

    path = f"/admin/conversations/{conversation_id}"
    data = ok_data(await client.get(path, headers=admin.headers))

    assert data["conversationId"] == conversation_id
    assert data["customer"]["email"] == customer.email
    assert data["saleStatus"] == "negotiating"
    assert data["metadata"]["offeredProducts"] == ["XPS 13"]
    assert data["totalMessages"] == 6
    assert [m["sender"] for m in data["messages"]] == ["user", "bot"] * 3
    assert data["messages"][0]["content"] == "I need a <b>laptop</b>"
    assert data["totalDistillations"] == 1
    [distillation] = data["distillations"]
    assert distillation["throughMessage"] == 6
    assert distillation["coveredMessages"] == 6
    assert distillation["metadata"] == {
        "interests": ["laptop"],
        "offeredProducts": ["XPS 13"],
        "rejectedProducts": [],
        "saleStatus": "negotiating",
        "lastIntent": None,
    }
    assert set(distillation) == {
        "distilledAt",
        "throughMessage",
        "coveredMessages",
        "metadata",
        "promptTokens",
        "completionTokens",
    }


async def test_an_unknown_conversation_is_404_and_a_malformed_id_400(
    client: Client,
    admin: Customer,  # noqa: F811 - the fixture
) -> None:
    unknown = f"/admin/conversations/{uuid.uuid4()}"
    error_body(await client.get(unknown, headers=admin.headers), 404, unknown)
    malformed = "/admin/conversations/not-a-uuid"
    error_body(await client.get(malformed, headers=admin.headers), 400, malformed)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/", "text/html"),
        ("/console", "text/html"),
        ("/static/console.js", "text/javascript"),
        ("/static/salesbot.css", "text/css"),
    ],
)
async def test_the_pages_are_served_with_a_strict_policy(
    client: Client, path: str, media_type: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_the_api_keeps_its_own_headers(client: Client) -> None:
    response = await client.get("/health")
    assert "content-security-policy" not in response.headers


def test_the_pages_carry_no_inline_script_or_style() -> None:
    """The policy refuses inline code, so a page that had some would break: none has."""
    for page in STATIC_DIR.glob("*.html"):
        text = page.read_text()
        assert "<script>" not in text, page.name
        assert not re.search(r"\son[a-z]+\s*=", text), page.name
        assert "style=" not in text, page.name
        assert "<style" not in text, page.name
