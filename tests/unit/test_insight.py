"""Sales analytics and leads: exact figures on a seeded data set; admins only."""

from __future__ import annotations

from datetime import date, timedelta
from uuid import UUID

import msgspec
import pytest

from salesbot_core.domain import Role, SalesMetadata, SaleStatus
from salesbot_core.errors import Forbidden, InvalidInput
from salesbot_core.usecases import GetSalesAnalytics, ListLeads
from salesbot_core.usecases.insight import LEAD_SEARCH_MAX_CHARS, lead_search
from tests.unit.conftest import Core


async def _seed(core: Core) -> dict[str, UUID]:
    """Three customers, four conversations, distilled into known metadata."""
    users = {
        name: (
            await core.register(email=f"{name}@example.com", password="password123", name=name)
        ).id
        for name in ("anna", "bruno", "carla")
    }
    script = [
        (
            "anna",
            SalesMetadata(
                interests=("laptop", "Gaming"),
                offered_products=("XPS",),
                sale_status=SaleStatus.CLOSED,
            ),
        ),
        (
            "bruno",
            SalesMetadata(
                interests=("laptop",),
                offered_products=("XPS", "MacBook"),
                rejected_products=("Chromebook",),
                sale_status=SaleStatus.NEGOTIATING,
            ),
        ),
        (
            "carla",
            SalesMetadata(
                interests=("phone", "gaming"),
                rejected_products=("chromebook",),
                sale_status=SaleStatus.NEGOTIATING,
            ),
        ),
    ]
    conversations = {}
    for name, metadata in script:
        core.assistant.distillations.append(metadata)
        conversation_id = None
        for n in range(3):
            core.clock.advance(timedelta(minutes=1))
            result = await core.send(
                user_id=users[name], content=f"{name} message {n}", conversation_id=conversation_id
            )
            conversation_id = result.conversation.id
        conversations[name] = result.conversation.id
        core.clock.advance(timedelta(days=1))
    # A conversation never distilled counts as exploring.
    await core.send(user_id=users["anna"], content="just browsing")
    return conversations


async def test_analytics_figures_match_the_seeded_data(core: Core) -> None:
    await _seed(core)
    analytics = await GetSalesAnalytics(core.store.insight(), core.clock)(role=Role.ADMIN)
    assert analytics.conversations == 4
    assert analytics.by_status == {
        SaleStatus.EXPLORING: 1,
        SaleStatus.INTERESTED: 0,
        SaleStatus.NEGOTIATING: 2,
        SaleStatus.CLOSED: 1,
        SaleStatus.LOST: 0,
    }
    assert [(c.name, c.count) for c in analytics.top_interests] == [
        ("gaming", 2),
        ("laptop", 2),
        ("phone", 1),
    ]
    assert [(c.name, c.count) for c in analytics.most_offered] == [("xps", 2), ("macbook", 1)]
    assert [(c.name, c.count) for c in analytics.most_rejected] == [("chromebook", 2)]
    start = date(2025, 1, 15)
    assert [(d.day, d.started, d.closed, d.rate) for d in analytics.conversion] == [
        (start, 1, 1, 1.0),
        (start + timedelta(days=1), 1, 0, 0.0),
        (start + timedelta(days=2), 1, 0, 0.0),
        (start + timedelta(days=3), 1, 0, 0.0),
    ]
    # Ten exchanges, each reply 10 + 5 tokens (the scripted usage); titles and distillations
    # add theirs to the conversation totals.
    assert analytics.tokens.exchanges == 10
    assert analytics.tokens.prompt_tokens == 10 * 10 + 4 * 10 + 3 * 10
    # No reply has used distilled metadata yet: the context sent is the whole history.
    assert analytics.context.sent_chars == analytics.context.full_history_chars > 0
    assert analytics.context.saved_chars == 0


async def test_context_saving_is_counted_per_exchange(core: Core) -> None:
    """u1..u4 with replies "Reply to: uN" (12 characters); distilled after exchange 3."""
    metadata = SalesMetadata(interests=("x",))
    core.assistant.distillations.append(metadata)
    conversation_id = None
    for n in range(1, 7):
        result = await core.send(
            user_id=UUID(int=5), content=f"u{n}", conversation_id=conversation_id
        )
        conversation_id = result.conversation.id
    block = len(msgspec.json.encode(metadata))
    # Exchanges 1-3 send the whole history (2, 14 + 2, 28 + 2 characters); exchange 4 sends the
    # metadata and the new message, 5 and 6 add the turns since. Whole history: 14 per exchange.
    sent = 2 + 16 + 30 + (block + 2) + (block + 14 + 2) + (block + 28 + 2)
    full = 2 + 16 + 30 + 44 + 58 + 72
    analytics = await GetSalesAnalytics(core.store.insight(), core.clock)(role=Role.ADMIN)
    assert analytics.context.sent_chars == sent
    assert analytics.context.full_history_chars == full
    assert analytics.context.saved_chars == full - sent


async def test_conversion_only_covers_the_requested_days(core: Core) -> None:
    await _seed(core)
    analytics = await GetSalesAnalytics(core.store.insight(), core.clock)(role=Role.ADMIN, days=2)
    assert [d.day for d in analytics.conversion] == [date(2025, 1, 17), date(2025, 1, 18)]


async def test_leads_by_status_with_customer_and_last_message(core: Core) -> None:
    conversations = await _seed(core)
    leads = ListLeads(core.store.insight())
    page = await leads(role=Role.ADMIN, status=SaleStatus.NEGOTIATING)
    assert [lead.conversation_id for lead in page.items] == [
        conversations["carla"],
        conversations["bruno"],
    ]
    first = page.items[0]
    assert first.customer_email == "carla@example.com"
    assert first.last_message is not None
    assert first.last_message.content == "Reply to: carla message 2"
    assert first.sale_status is SaleStatus.NEGOTIATING
    one = await leads(role=Role.ADMIN, limit=1)
    assert one.next is not None
    rest = await leads(role=Role.ADMIN, after=one.next)
    assert len(one.items) + len(rest.items) == 4


async def test_customers_are_refused(core: Core) -> None:
    with pytest.raises(Forbidden):
        await GetSalesAnalytics(core.store.insight(), core.clock)(role=Role.CUSTOMER)
    with pytest.raises(Forbidden):
        await ListLeads(core.store.insight())(role=Role.CUSTOMER)


async def test_offered_and_rejected_products_are_linked_to_the_catalogue(core: Core) -> None:
    """A ranked name that is a catalogue product's gets its SKU, name and price; others stay."""
    from decimal import Decimal

    from salesbot_core.grounding import link_counts
    from salesbot_core.ports.insight import Count
    from salesbot_core.testing import InMemoryCatalogue
    from tests.support.shop import product

    shop = [
        product("LAP-XPS", "XPS", brand="Dell", category="laptop", price="1499.00"),
        product("LAP-CB", "Chromebook", brand="Acer", category="laptop", price="449.50"),
    ]
    for conversation_id in (await _seed(core)).values():
        await core.settle(conversation_id)
    catalogue = InMemoryCatalogue(shop)
    analytics = await GetSalesAnalytics(core.store.insight(), core.clock, catalogue)(
        role=Role.ADMIN
    )
    xps, macbook = analytics.most_offered
    assert (xps.name, xps.count, xps.sku, xps.price, xps.currency) == (
        "XPS",
        2,
        "LAP-XPS",
        Decimal("1499.00"),
        "USD",
    )
    assert (macbook.name, macbook.sku, macbook.price) == ("macbook", None, None)
    (chromebook,) = analytics.most_rejected
    assert (chromebook.name, chromebook.count, chromebook.sku) == ("Chromebook", 2, "LAP-CB")
    # Counts of names of one product add up under its SKU, ranked again.
    merged = link_counts(
        [Count(name="other", count=2), Count(name="xps", count=1), Count(name="XPS ", count=2)],
        shop,
    )
    assert [(c.name, c.count, c.sku) for c in merged] == [
        ("XPS", 3, "LAP-XPS"),
        ("other", 2, None),
    ]


async def test_each_lead_carries_its_offered_products_linked_to_the_catalogue(core: Core) -> None:
    """A lead's offered names that are products get their SKU, catalogue name and price; others
    stay names; without a catalogue every one stays a name."""
    from decimal import Decimal

    from salesbot_core.ports.insight import OfferedProduct
    from salesbot_core.testing import InMemoryCatalogue
    from tests.support.shop import product

    shop = [product("LAP-XPS", "Dell XPS", brand="Dell", category="laptop", price="1499.00")]
    shop.append(product("LAP-MB", "macbook", brand="Apple", category="laptop", price="999.00"))
    conversations = await _seed(core)
    for conversation_id in conversations.values():
        await core.settle(conversation_id)
    page = await ListLeads(core.store.insight(), catalogue=InMemoryCatalogue(shop))(role=Role.ADMIN)
    offered = {lead.conversation_id: lead.offered_products for lead in page.items}
    macbook = OfferedProduct(name="macbook", sku="LAP-MB", price=Decimal("999.00"), currency="USD")
    assert offered[conversations["anna"]] == (OfferedProduct(name="XPS"),)
    assert offered[conversations["bruno"]] == (OfferedProduct(name="XPS"), macbook)
    assert offered[conversations["carla"]] == ()
    bare = await ListLeads(core.store.insight())(role=Role.ADMIN)
    assert {lead.conversation_id: lead.offered_products for lead in bare.items}[
        conversations["bruno"]
    ] == (OfferedProduct(name="XPS"), OfferedProduct(name="MacBook"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("  Ana TORRES ", "ana torres"),
        ("x" * 255, "x" * 255),
    ],
)
def test_a_lead_search_is_trimmed_and_lower_cased(text: str | None, needle: str | None) -> None:
    assert lead_search(text) == needle


def test_a_lead_search_longer_than_any_searched_field_is_refused() -> None:
    with pytest.raises(InvalidInput, match="q: at most 255 characters"):
        lead_search("x" * (LEAD_SEARCH_MAX_CHARS + 1))


def test_a_lead_search_with_a_nul_is_refused() -> None:
    with pytest.raises(InvalidInput, match="q: must not contain NUL"):
        lead_search("ana\x00")


async def test_name_variants_ranked_below_the_top_ten_still_add_up_to_their_sku(core: Core) -> None:
    """The reader is asked for more names than are shown: three variants of one product's name,
    each ranked below ten others, add up to a count that enters the top ten."""
    from salesbot_core.ports.insight import Count, SalesFigures, UsageTotals
    from salesbot_core.testing import InMemoryCatalogue
    from tests.support.shop import product

    others = [Count(name=f"model {n:02d}", count=3) for n in range(10)]
    variants = [Count(name=n, count=2) for n in ("XPS", "xps ", "XPS  ")]
    asked: list[int] = []

    class Reader:
        async def figures(self, *, since: object, top: int) -> SalesFigures:
            asked.append(top)
            return SalesFigures(
                conversations=0,
                by_status={},
                top_interests=tuple(others[:top]),
                most_offered=tuple((others + variants)[:top]),
                most_rejected=(),
                conversion=(),
                usage=UsageTotals(
                    exchanges=0,
                    prompt_tokens=0,
                    completion_tokens=0,
                    context_chars=0,
                    full_history_chars=0,
                ),
            )

    shop = [product("LAP-XPS", "XPS", brand="Dell", category="laptop", price="1499.00")]
    analytics = await GetSalesAnalytics(Reader(), core.clock, InMemoryCatalogue(shop))(  # type: ignore[arg-type]
        role=Role.ADMIN
    )

    assert asked[0] > 13
    assert analytics.most_offered[0].sku == "LAP-XPS"
    assert analytics.most_offered[0].count == 6
    assert len(analytics.most_offered) == 10
