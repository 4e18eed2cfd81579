"""``/admin``: the admin role from the token, analytics figures on a seeded data set, leads with
filter and paging, the CSV export (content, quoting, formula-safe cells, every page, the cap), and
403 for customers on every admin route."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from salesbot_core.domain import Conversation, Product, SalesMetadata, SaleStatus, User
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock, ScriptedAssistant
from salesbot_core.usecases import GrantAdmin
from salesbot_http.controllers import admin as admin_routes
from salesbot_http.leads_csv import COLUMNS
from tests.api.api_helpers import PASSWORD, Customer, error_body, ok_data
from tests.api.conftest import Client, Settle, SignUp
from tests.api.test_chat_api import ISO_UTC, send, start

ADMIN_ROUTES = (
    "/admin/analytics",
    "/admin/leads",
    "/admin/leads.csv",
    f"/admin/conversations/{uuid.UUID(int=1)}",
)


async def _grant(uow_factory: UnitOfWorkFactory, clock: FakeClock, email: str) -> None:
    await GrantAdmin(uow_factory, clock)(email)


async def _log_in(client: Client, who: Customer) -> Customer:
    data = ok_data(
        await client.post("/auth/login", json={"email": who.email, "password": who.password})
    )
    return Customer(
        id=who.id,
        email=who.email,
        password=who.password,
        access_token=data["accessToken"],
        refresh_token=data["refreshToken"],
    )


@pytest.fixture
async def admin(
    client: Client, sign_up: SignUp, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> Customer:
    """Shop staff: granted the role, then logged in again (the role travels in the token)."""
    staff = await sign_up(email="staff@example.com", name="Shop Staff")
    await _grant(uow_factory, clock, staff.email)
    return await _log_in(client, staff)


# ------------------------------------------------------------------ who may


@pytest.mark.parametrize("path", ADMIN_ROUTES)
async def test_a_customer_gets_403_on_every_admin_route(
    client: Client, customer: Customer, path: str
) -> None:
    body = error_body(await client.get(path, headers=customer.headers), 403, path)
    assert body["message"] == "You do not have access to this resource"


@pytest.mark.parametrize("path", ADMIN_ROUTES)
async def test_anonymous_gets_401_on_every_admin_route(client: Client, path: str) -> None:
    response = await client.get(path)
    error_body(response, 401, path)
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ADMIN_ROUTES)
async def test_403_comes_before_the_parameters_are_read(
    client: Client, customer: Customer, path: str
) -> None:
    response = await client.get(f"{path}?days=0&limit=0&saleStatus=bogus", headers=customer.headers)
    error_body(response, 403, path)


async def test_the_role_counts_from_the_next_refresh(
    client: Client, customer: Customer, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> None:
    await _grant(uow_factory, clock, customer.email)

    # The access token issued before the grant still says "customer".
    error_body(
        await client.get("/admin/analytics", headers=customer.headers), 403, "/admin/analytics"
    )
    tokens = ok_data(
        await client.post("/auth/refresh", json={"refreshToken": customer.refresh_token})
    )
    headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    ok_data(await client.get("/admin/analytics", headers=headers))


async def test_an_admin_is_still_a_customer_of_the_chat(client: Client, admin: Customer) -> None:
    conversation_id = await start(client, admin)
    assert ok_data(await client.get(f"/chat/history/{conversation_id}", headers=admin.headers))


# ------------------------------------------------------------------ analytics

NOW = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)  # the FakeClock's start


def _at(day: int, month: int = 1, year: int = 2025) -> datetime:
    return datetime(year, month, day, 9, 0, tzinfo=UTC)


SEED: list[dict[str, Any]] = [
    # created, status (None: never distilled), interests, offered, rejected,
    # message_count, prompt, completion, context chars, full-history chars
    {
        "created": _at(15),
        "status": SaleStatus.CLOSED,
        "interests": ("laptops", "Gaming"),
        "offered": ("MacBook Air",),
        "rejected": ("Dell XPS",),
        "counts": (6, 300, 120, 900, 1500),
    },
    {
        "created": _at(15),
        "status": SaleStatus.NEGOTIATING,
        "interests": ("Laptops",),
        "offered": ("MacBook Air", "ThinkPad X1"),
        "rejected": (),
        "counts": (4, 200, 80, 500, 600),
    },
    {
        "created": _at(14),
        "status": SaleStatus.CLOSED,
        "interests": ("monitors",),
        "offered": ("Dell U2723",),
        "rejected": ("dell xps",),
        "counts": (2, 100, 40, 200, 200),
    },
    {
        "created": _at(14),
        "status": SaleStatus.LOST,
        "interests": ("laptops", "monitors", "LAPTOPS"),
        "offered": ("ThinkPad X1",),
        "rejected": ("MacBook Air", "ThinkPad X1"),
        "counts": (8, 400, 160, 1000, 2400),
    },
    {
        "created": _at(10),
        "status": None,
        "interests": (),
        "offered": (),
        "rejected": (),
        "counts": (2, 50, 20, 100, 100),
    },
    {
        "created": _at(1, month=12, year=2024),  # before a 30-day window
        "status": SaleStatus.INTERESTED,
        "interests": ("gaming",),
        "offered": (),
        "rejected": (),
        "counts": (2, 60, 30, 150, 150),
    },
]


async def _seed_customer(uow_factory: UnitOfWorkFactory, **fields: Any) -> User:
    user = User(
        id=uuid.uuid4(),
        email=fields.get("email", f"seed-{uuid.uuid4().hex[:8]}@example.com"),
        name=fields.get("name", "Seeded Customer"),
        phone=fields.get("phone"),
        password_hash="not-a-real-hash",
        created_at=NOW,
        updated_at=NOW,
    )
    async with uow_factory() as uow:
        await uow.users.add(user)
        await uow.commit()
    return user


async def _seed_analytics(uow_factory: UnitOfWorkFactory) -> None:
    owner = await _seed_customer(uow_factory)
    async with uow_factory() as uow:
        for row in SEED:
            messages, prompt, completion, context, full = row["counts"]
            metadata = (
                SalesMetadata(
                    interests=row["interests"],
                    offered_products=row["offered"],
                    rejected_products=row["rejected"],
                    sale_status=row["status"],
                )
                if row["status"] is not None
                else None
            )
            await uow.conversations.add(
                Conversation(
                    id=uuid.uuid4(),
                    user_id=owner.id,
                    title="Seeded",
                    metadata=metadata,
                    message_count=messages,
                    prompt_tokens=prompt,
                    completion_tokens=completion,
                    context_chars=context,
                    full_history_chars=full,
                    created_at=row["created"],
                    updated_at=row["created"],
                )
            )
        await uow.commit()


async def test_analytics_figures_match_the_seeded_data_exactly(
    client: Client, admin: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    await _seed_analytics(uow_factory)

    response = await client.get("/admin/analytics", headers=admin.headers)

    assert response.json()["message"] == "Sales analytics retrieved successfully"
    assert ok_data(response) == {
        "conversations": 6,
        "byStatus": {"exploring": 1, "interested": 1, "negotiating": 1, "closed": 2, "lost": 1},
        "topInterests": [
            {"name": "laptops", "count": 3},
            {"name": "gaming", "count": 2},
            {"name": "monitors", "count": 2},
        ],
        "mostOffered": [
            {"name": "macbook air", "count": 2},
            {"name": "thinkpad x1", "count": 2},
            {"name": "dell u2723", "count": 1},
        ],
        "mostRejected": [
            {"name": "dell xps", "count": 2},
            {"name": "macbook air", "count": 1},
            {"name": "thinkpad x1", "count": 1},
        ],
        "conversion": [
            {"day": "2025-01-10", "started": 1, "closed": 0, "rate": 0.0},
            {"day": "2025-01-14", "started": 2, "closed": 1, "rate": 0.5},
            {"day": "2025-01-15", "started": 2, "closed": 1, "rate": 0.5},
        ],
        "tokens": {
            "exchanges": 12,
            "promptTokens": 1110,
            "completionTokens": 450,
            "tokensPerExchange": 130.0,
        },
        "context": {
            "sentChars": 2850,
            "fullHistoryChars": 4950,
            "savedChars": 2100,
            "savedRatio": 0.4242,
            "estimatedSavedTokens": 525,
        },
    }


async def _stored(uow_factory: UnitOfWorkFactory, *products: Product) -> None:
    async with uow_factory() as work:
        await work.products.upsert(products)
        await work.commit()


MACBOOK = Product(
    sku="LAP-MBA",
    name="MacBook Air",
    brand="Apple",
    category="Laptops",
    description="Light laptop.",
    price=Decimal("1099.00"),
    currency="USD",
    stock=4,
)


async def test_analytics_link_offered_and_rejected_products_to_the_catalogue(
    client: Client, admin: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    await _seed_analytics(uow_factory)
    await _stored(uow_factory, MACBOOK)

    data = ok_data(await client.get("/admin/analytics", headers=admin.headers))

    linked = {"name": "MacBook Air", "sku": "LAP-MBA", "price": "1099.00", "currency": "USD"}
    assert data["mostOffered"] == [
        {**linked, "count": 2},
        {"name": "thinkpad x1", "count": 2},
        {"name": "dell u2723", "count": 1},
    ]
    assert data["mostRejected"] == [
        {"name": "dell xps", "count": 2},
        {**linked, "count": 1},
        {"name": "thinkpad x1", "count": 1},
    ]


async def test_analytics_days_bound_the_conversion_window(
    client: Client, admin: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    await _seed_analytics(uow_factory)

    today = ok_data(await client.get("/admin/analytics?days=1", headers=admin.headers))
    year = ok_data(await client.get("/admin/analytics?days=366", headers=admin.headers))

    assert [d["day"] for d in today["conversion"]] == ["2025-01-15"]
    assert [d["day"] for d in year["conversion"]] == [
        "2024-12-01",
        "2025-01-10",
        "2025-01-14",
        "2025-01-15",
    ]
    assert today["conversations"] == year["conversations"] == 6


async def test_analytics_of_an_empty_shop_are_zeros(client: Client, admin: Customer) -> None:
    figures = ok_data(await client.get("/admin/analytics", headers=admin.headers))

    assert figures["conversations"] == 0
    assert set(figures["byStatus"].values()) == {0}
    assert figures["tokens"]["tokensPerExchange"] == 0.0
    assert figures["context"]["savedRatio"] == 0.0


@pytest.mark.parametrize("query", ["days=0", "days=367", "days=week"])
async def test_analytics_days_are_validated(client: Client, admin: Customer, query: str) -> None:
    response = await client.get(f"/admin/analytics?{query}", headers=admin.headers)
    error_body(response, 400, "/admin/analytics")


# ------------------------------------------------------------------ leads


async def _chat_to_status(
    client: Client,
    settle: Settle,
    who: Customer,
    assistant: ScriptedAssistant,
    metadata: SalesMetadata | None,
    words: str,
) -> str:
    """A conversation of three exchanges, distilled (one when ``metadata`` is None, never
    distilled)."""
    conversation_id = await start(client, who, f"{words} one")
    if metadata is not None:
        assistant.distillations.append(metadata)
        await send(client, who, f"{words} two", conversation_id)
        await send(client, who, f"{words} three", conversation_id)
        await settle()
    return conversation_id


@pytest.fixture
async def leads(
    client: Client,
    sign_up: SignUp,
    assistant: ScriptedAssistant,
    clock: FakeClock,
    settle: Settle,
) -> dict[str, str]:
    """Three conversations, oldest first: negotiating, closed, exploring (never distilled)."""
    jane = await sign_up(email="jane@example.com", name="Jane Doe")
    john = await sign_up(email="john@example.com", name="John Roe")
    hot = await _chat_to_status(
        client,
        settle,
        jane,
        assistant,
        SalesMetadata(
            interests=("laptops",),
            offered_products=("MacBook Air",),
            sale_status=SaleStatus.NEGOTIATING,
            last_intent="asks for a discount",
        ),
        "laptop",
    )
    clock.advance(timedelta(minutes=1))
    won = await _chat_to_status(
        client,
        settle,
        john,
        assistant,
        SalesMetadata(offered_products=("Dell U2723",), sale_status=SaleStatus.CLOSED),
        "monitor",
    )
    clock.advance(timedelta(minutes=1))
    fresh = await _chat_to_status(client, settle, jane, assistant, None, "mouse")
    return {"hot": hot, "won": won, "fresh": fresh}


async def test_leads_carry_customer_metadata_and_last_message(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    found = ok_data(await client.get("/admin/leads", headers=admin.headers))

    assert [lead["conversationId"] for lead in found] == [
        leads["fresh"],
        leads["won"],
        leads["hot"],
    ]
    hot = found[2]
    assert set(hot) == {
        "conversationId",
        "title",
        "saleStatus",
        "customer",
        "metadata",
        "offeredProducts",
        "lastMessage",
        "updatedAt",
    }
    assert hot["offeredProducts"] == [{"name": "MacBook Air"}]  # no catalogue: names only
    assert hot["saleStatus"] == "negotiating"
    assert hot["customer"] == {
        "id": hot["customer"]["id"],
        "name": "Jane Doe",
        "email": "jane@example.com",
        "phone": None,
    }
    assert hot["metadata"] == {
        "interests": ["laptops"],
        "offeredProducts": ["MacBook Air"],
        "rejectedProducts": [],
        "saleStatus": "negotiating",
        "lastIntent": "asks for a discount",
    }
    assert hot["lastMessage"]["content"] == "Reply to: laptop three"
    assert hot["lastMessage"]["sender"] == "bot"
    assert ISO_UTC.match(hot["updatedAt"])
    assert found[0]["metadata"] is None
    assert found[0]["saleStatus"] == "exploring"


async def test_leads_and_their_csv_carry_offered_products_linked_to_the_catalogue(
    client: Client, admin: Customer, leads: dict[str, str], uow_factory: UnitOfWorkFactory
) -> None:
    await _stored(uow_factory, MACBOOK)

    found = ok_data(await client.get("/admin/leads", headers=admin.headers))
    rows = _rows(await client.get("/admin/leads.csv", headers=admin.headers))
    one = ok_data(await client.get(f"/admin/conversations/{leads['hot']}", headers=admin.headers))

    offered = {lead["conversationId"]: lead["offeredProducts"] for lead in found}
    linked = {"name": "MacBook Air", "sku": "LAP-MBA", "price": "1099.00", "currency": "USD"}
    assert offered == {
        leads["hot"]: [linked],
        leads["won"]: [{"name": "Dell U2723"}],
        leads["fresh"]: [],
    }
    assert one["offeredProducts"] == [linked]
    cells = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    hot, won = cells[leads["hot"]], cells[leads["won"]]
    assert (hot["offeredProducts"], hot["offeredSkus"], hot["offeredPrices"]) == (
        "MacBook Air",
        "LAP-MBA",
        "1099.00 USD",
    )
    assert (won["offeredProducts"], won["offeredSkus"], won["offeredPrices"]) == (
        "Dell U2723",
        "",
        "",
    )


async def test_leads_filter_by_sale_status(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    for status, expected in (
        ("negotiating", [leads["hot"]]),
        ("closed", [leads["won"]]),
        ("exploring", [leads["fresh"]]),
        ("lost", []),
    ):
        found = ok_data(
            await client.get("/admin/leads", params={"saleStatus": status}, headers=admin.headers)
        )
        assert [lead["conversationId"] for lead in found] == expected, status


async def test_leads_come_a_page_at_a_time_with_a_next_link(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    seen: list[str] = []
    url: str | None = "/admin/leads?limit=1"
    while url is not None:
        response = await client.get(url, headers=admin.headers)
        page = ok_data(response)
        assert len(page) == 1
        seen.extend(lead["conversationId"] for lead in page)
        link = response.headers.get("link")
        url = None
        if link:
            match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', link)
            assert match is not None, link
            url = match["url"]
            assert url.startswith("/admin/leads?")
    assert seen == [leads["fresh"], leads["won"], leads["hot"]]


async def test_the_next_link_keeps_the_filter(
    client: Client,
    admin: Customer,
    assistant: ScriptedAssistant,
    sign_up: SignUp,
    leads: dict[str, str],
    settle: Settle,
) -> None:
    other = await sign_up()
    also_hot = await _chat_to_status(
        client, settle, other, assistant, SalesMetadata(sale_status=SaleStatus.NEGOTIATING), "desk"
    )

    first = await client.get(
        "/admin/leads", params={"saleStatus": "negotiating", "limit": 1}, headers=admin.headers
    )
    match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', first.headers["link"])
    assert match is not None
    assert "saleStatus=negotiating" in match["url"]
    second = await client.get(match["url"], headers=admin.headers)

    assert [lead["conversationId"] for lead in ok_data(first)] == [also_hot]
    assert [lead["conversationId"] for lead in ok_data(second)] == [leads["hot"]]
    assert "link" not in second.headers


async def test_leads_search_every_lead_by_customer_name_or_email_and_page_with_it(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    async def found(**params: str | int) -> list[str]:
        page = ok_data(await client.get("/admin/leads", params=params, headers=admin.headers))
        return [lead["conversationId"] for lead in page]

    assert await found(q="JANE") == [leads["fresh"], leads["hot"]]  # name, any case
    assert await found(q="  john@EXAMPLE ") == [leads["won"]]  # email, trimmed
    assert await found(q="jane", saleStatus="negotiating") == [leads["hot"]]
    assert await found(q="nobody at all") == []
    assert await found(q="") == [leads["fresh"], leads["won"], leads["hot"]]

    first = await client.get("/admin/leads", params={"q": "doe", "limit": 1}, headers=admin.headers)
    match = re.fullmatch(r'<(?P<url>[^>]+)>; rel="next"', first.headers["link"])
    assert match is not None
    assert "q=doe" in match["url"]
    second = await client.get(match["url"], headers=admin.headers)
    assert [lead["conversationId"] for lead in ok_data(first)] == [leads["fresh"]]
    assert [lead["conversationId"] for lead in ok_data(second)] == [leads["hot"]]
    assert "link" not in second.headers

    too_long = await client.get("/admin/leads", params={"q": "x" * 256}, headers=admin.headers)
    body = error_body(too_long, 400, "/admin/leads")
    assert "q: at most 255 characters" in body["message"]
    error_body(
        await client.get("/admin/leads", params={"q": "ja\x00ne"}, headers=admin.headers),
        400,
        "/admin/leads",
    )


async def test_any_lead_cursor_in_the_documented_format_is_a_position(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    past_the_oldest = await client.get(
        "/admin/leads", params={"cursor": "g" + "A" * 31}, headers=admin.headers
    )
    past_the_newest = await client.get(
        "/admin/leads", params={"cursor": "f" + "_" * 31}, headers=admin.headers
    )

    assert ok_data(past_the_oldest) == []
    assert {lead["conversationId"] for lead in ok_data(past_the_newest)} == set(leads.values())


@pytest.mark.parametrize(
    "query",
    ["saleStatus=bogus", "limit=0", "limit=201", "limit=x", "cursor=nope", f"cursor={'A' * 31}"],
)
async def test_leads_parameters_are_validated(client: Client, admin: Customer, query: str) -> None:
    response = await client.get(f"/admin/leads?{query}", headers=admin.headers)
    message = error_body(response, 400, "/admin/leads")["message"]
    # The error names the parameter as the client sent it, not as the handler calls it.
    assert f"{query.split('=', maxsplit=1)[0]}: " in message, message


# ------------------------------------------------------------------ CSV


def _rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="leads.csv"'
    assert response.text.endswith("\r\n")
    return list(csv.reader(io.StringIO(response.text, newline="")))


async def test_the_csv_has_a_header_and_one_row_per_lead(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    rows = _rows(await client.get("/admin/leads.csv", headers=admin.headers))

    assert rows[0] == list(COLUMNS)
    assert [row[0] for row in rows[1:]] == [leads["fresh"], leads["won"], leads["hot"]]
    hot = dict(zip(COLUMNS, rows[3], strict=True))
    assert hot["customerName"] == "Jane Doe"
    assert hot["customerEmail"] == "jane@example.com"
    assert hot["customerPhone"] == ""
    assert hot["saleStatus"] == "negotiating"
    assert hot["interests"] == "laptops"
    assert hot["offeredProducts"] == "MacBook Air"
    assert hot["rejectedProducts"] == ""
    assert hot["lastIntent"] == "asks for a discount"
    assert hot["lastMessage"] == "Reply to: laptop three"
    assert ISO_UTC.match(hot["lastMessageAt"])
    assert ISO_UTC.match(hot["updatedAt"])
    fresh = dict(zip(COLUMNS, rows[1], strict=True))
    assert fresh["saleStatus"] == "exploring"
    assert fresh["interests"] == fresh["lastIntent"] == ""


async def test_the_csv_filters_by_sale_status(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    rows = _rows(
        await client.get("/admin/leads.csv", params={"saleStatus": "closed"}, headers=admin.headers)
    )

    assert [row[0] for row in rows[1:]] == [leads["won"]]
    error_body(
        await client.get("/admin/leads.csv?saleStatus=bogus", headers=admin.headers),
        400,
        "/admin/leads.csv",
    )


async def test_the_csv_takes_the_search_too(
    client: Client, admin: Customer, leads: dict[str, str]
) -> None:
    rows = _rows(await client.get("/admin/leads.csv", params={"q": "roe"}, headers=admin.headers))

    assert [row[0] for row in rows[1:]] == [leads["won"]]


async def test_the_csv_quotes_and_defuses_what_customers_wrote(
    client: Client,
    admin: Customer,
    assistant: ScriptedAssistant,
    sign_up: SignUp,
    settle: Settle,
) -> None:
    sneaky = await sign_up(email="sneaky@example.com", name='=HYPERLINK("http://x","Doe, Jim")')
    assistant.replies.extend(["fine", "fine", '@SUM(1+1) "quoted", and\nsplit'])
    await _chat_to_status(
        client,
        settle,
        sneaky,
        assistant,
        SalesMetadata(
            interests=("-2+3", "laptops"),
            offered_products=("+cmd", "Dell; XPS"),
            sale_status=SaleStatus.INTERESTED,
            last_intent="=1+2",
        ),
        "sneaky",
    )
    await client.patch(
        f"/chat/conversations/{(await _first_conversation(client, sneaky))}/title",
        json={"title": "+1 laptop, please"},
        headers=sneaky.headers,
    )

    response = await client.get("/admin/leads.csv", headers=admin.headers)

    rows = _rows(response)
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["customerName"] == '\'=HYPERLINK("http://x","Doe, Jim")'
    assert row["title"] == "'+1 laptop, please"
    assert row["interests"] == "'-2+3;laptops"
    assert row["offeredProducts"] == "'+cmd;Dell; XPS"
    assert row["lastIntent"] == "'=1+2"
    assert row["lastMessage"] == '\'@SUM(1+1) "quoted", and\nsplit'
    # RFC 4180 on the wire: quotes doubled inside a quoted cell, the line break kept inside it.
    assert '"\'@SUM(1+1) ""quoted"", and\nsplit"' in response.text


async def _first_conversation(client: Client, who: Customer) -> str:
    listed = ok_data(await client.get("/chat/conversations", headers=who.headers))
    conversation_id: str = listed[0]["id"]
    return conversation_id


async def test_an_e164_phone_is_kept_as_it_is(client: Client, admin: Customer) -> None:
    registered = await client.post(
        "/users/register",
        json={
            "email": "phone@example.com",
            "password": PASSWORD,
            "name": "Phone Owner",
            "phone": "+14155552671",
        },
    )
    ok_data(registered, 201)
    owner = await _log_in(
        client,
        Customer(
            id=registered.json()["data"]["id"],
            email="phone@example.com",
            password=PASSWORD,
            access_token="",
            refresh_token="",
        ),
    )
    await start(client, owner)

    rows = _rows(await client.get("/admin/leads.csv", headers=admin.headers))

    assert dict(zip(COLUMNS, rows[1], strict=True))["customerPhone"] == "+14155552671"


async def _seed_many(uow_factory: UnitOfWorkFactory, count: int) -> list[str]:
    """``count`` conversations, one minute apart; their ids, most recently updated first."""
    owner = await _seed_customer(uow_factory, name="Bulk Buyer")
    ids = []
    async with uow_factory() as uow:
        for n in range(count):
            moment = NOW - timedelta(days=30) + timedelta(minutes=n)
            conversation = Conversation(
                id=uuid.uuid4(),
                user_id=owner.id,
                title=f"Conversation {n}",
                created_at=moment,
                updated_at=moment,
            )
            await uow.conversations.add(conversation)
            ids.append(str(conversation.id))
        await uow.commit()
    return ids[::-1]


async def test_the_csv_streams_every_page(
    client: Client, admin: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    expected = await _seed_many(uow_factory, 2 * admin_routes.CSV_PAGE_SIZE + 37)

    rows = _rows(await client.get("/admin/leads.csv", headers=admin.headers))

    assert [row[0] for row in rows[1:]] == expected


async def test_the_csv_stops_at_its_maximum(
    client: Client,
    admin: Customer,
    uow_factory: UnitOfWorkFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = await _seed_many(uow_factory, 260)
    monkeypatch.setattr(admin_routes, "CSV_MAX_ROWS", 250)

    rows = _rows(await client.get("/admin/leads.csv", headers=admin.headers))

    assert [row[0] for row in rows[1:]] == expected[:250]


async def test_an_empty_csv_is_its_header(client: Client, admin: Customer) -> None:
    assert _rows(await client.get("/admin/leads.csv", headers=admin.headers)) == [list(COLUMNS)]
