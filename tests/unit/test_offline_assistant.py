"""The offline assistant: a credible, deterministic seller in English and Spanish, answering from
the products the core picked from the shop's catalogue."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesbot_core.domain import SalesMetadata, SaleStatus, Sender, Turn
from salesbot_core.grounding import format_price, is_rejected
from salesbot_core.offline import OfflineSalesAssistant, distil_by_rules, title_for
from salesbot_core.ports import DistillationRequest, ReplyRequest
from salesbot_core.testing import FakeClock, InMemoryCatalogue, InMemoryStore, SequentialIds
from salesbot_core.usecases import SendMessage
from salesbot_core.usecases.grounding import PickProducts
from tests.support.shop import SHOP

USER = UUID(int=7)
PRICE = re.compile(r"\(([\d,]+\.\d{2}) USD")


async def _request(
    message: str,
    turns: tuple[Turn, ...] = (),
    metadata: SalesMetadata | None = None,
) -> ReplyRequest:
    """The request the core sends: grounded by ``PickProducts`` on the test shop."""
    earlier = [t.content for t in turns if t.sender is Sender.USER]
    grounding = await PickProducts(InMemoryCatalogue(SHOP))(message, earlier, metadata)
    return ReplyRequest(
        customer_message=message,
        recent_turns=turns,
        metadata=metadata,
        products=grounding.products,
        catalogue_loaded=grounding.catalogue_loaded,
    )


async def _reply(
    message: str, turns: tuple[Turn, ...] = (), metadata: SalesMetadata | None = None
) -> str:
    request = await _request(message, turns, metadata)
    return (await OfflineSalesAssistant().reply(request)).text


def _named(text: str) -> list[str]:
    return [p.name for p in SHOP if p.name in text]


def _grounded_send() -> SendMessage:
    return SendMessage(
        InMemoryStore().uow_factory,
        OfflineSalesAssistant(),
        FakeClock(),
        SequentialIds(),
        pick_products=PickProducts(InMemoryCatalogue(SHOP)),
    )


async def test_with_nothing_to_go_on_it_asks_narrowing_questions() -> None:
    text = await _reply("Hello there")
    assert text.endswith("?")
    assert text.count("?") == 1
    assert "budget" in text
    assert _named(text) == []


async def test_without_a_catalogue_it_names_no_product() -> None:
    request = ReplyRequest(customer_message="I want a laptop, which one do you recommend?")
    text = (await OfflineSalesAssistant().reply(request)).text
    assert _named(text) == []
    assert text.endswith("?")


async def test_it_proposes_products_of_the_asked_category_with_exact_prices() -> None:
    text = await _reply("Hi, I am looking for a laptop for programming")
    named = [p for p in SHOP if p.name in text]
    assert 2 <= len(named) <= 3
    assert all(p.category == "laptop" for p in named)
    for product in named:
        assert f"{product.name} ({format_price(product)}" in text
    assert text.endswith("?")


async def test_it_answers_in_spanish_from_an_english_catalogue() -> None:
    text = await _reply("Hola, busco un portátil ligero")
    assert text.startswith("Para un portátil")
    assert "¿" in text
    assert text.endswith("?")
    assert {p.category for p in SHOP if p.name in text} == {"laptop"}


async def test_a_budget_is_respected() -> None:
    text = await _reply("I need headphones, my budget is $250")
    named = [p for p in SHOP if p.name in text]
    assert named
    assert all(p.price <= 250 for p in named)
    spanish = await _reply("Busco un portátil, menos de 1000 euros")
    prices = [Decimal(p.replace(",", "")) for p in PRICE.findall(spanish)]
    assert prices
    assert all(price <= 1000 for price in prices)


async def test_budget_1500_then_the_best_keyboard_gets_a_comparison_not_the_same_reply() -> None:
    send = _grounded_send()
    first = await send(user_id=USER, content="My budget is around 1500 dollars for a laptop")
    second = await send(
        user_id=USER,
        content="Which one has the best keyboard?",
        conversation_id=first.conversation.id,
    )
    assert second.bot_message.content != first.bot_message.content
    # The ThinkPad is the one whose description talks about its keyboard.
    assert "the ThinkPad T14 is the best" in second.bot_message.content
    assert "1,149.00 USD" in second.bot_message.content
    offered_first = set(_named(first.bot_message.content))
    assert set(_named(second.bot_message.content)) <= offered_first | {"ThinkPad T14"}


async def test_a_rejection_is_scoped_to_the_thing_rejected() -> None:
    text = await _reply("I do not like Chromebooks, show me the MacBook")
    assert text.startswith("Understood, I will leave the Chromebooks out.")
    rest = text.split("out.", 1)[1]
    assert "MacBook Air 13 (1,099.00 USD)" in rest
    assert "Chromebook" not in rest


async def test_a_rejected_brand_in_spanish_removes_all_its_products() -> None:
    turns = (
        Turn(sender=Sender.USER, content="Busco auriculares inalámbricos"),
        Turn(sender=Sender.BOT, content=await _reply("Busco auriculares inalámbricos")),
    )
    text = await _reply("No me gustan los Jabra", turns)
    assert text.startswith("Entendido, descarto los Jabra.")
    rest = text.split(".", 1)[1]
    assert not [p for p in SHOP if p.brand == "Jabra" and p.name in rest]
    assert _named(rest)


async def test_it_never_re_offers_a_rejected_product() -> None:
    metadata = SalesMetadata(
        interests=("laptop",),
        offered_products=("MacBook Air 13",),
        rejected_products=("XPS 15", "Acer"),
    )
    text = await _reply("What else do you have in laptops?", metadata=metadata)
    assert "XPS 15" not in text
    assert "Chromebook" not in text
    assert "MacBook Air 13" not in text  # offered already: something new
    assert _named(text)


async def test_price_questions_compare_the_options_on_the_table() -> None:
    turns = (
        Turn(sender=Sender.USER, content="I want headphones"),
        Turn(sender=Sender.BOT, content="Try the WH-1000XM5 or the AirPods Pro 2."),
    )
    text = await _reply("How much do they cost?", turns)
    assert "399.00 USD" in text
    assert "249.00 USD" in text
    assert "saves you $150" in text


async def test_buying_words_close_the_sale_with_next_steps() -> None:
    turns = (
        Turn(sender=Sender.USER, content="I want headphones"),
        Turn(sender=Sender.BOT, content="The WH-1000XM5 (399.00 USD) is great."),
    )
    text = await _reply("Great, I'll take it", turns)
    assert "WH-1000XM5 (399.00 USD)" in text
    assert "delivery" in text
    assert text.endswith("?")


async def test_it_does_not_repeat_its_previous_reply() -> None:
    first = await _reply("I want headphones")
    turns = (
        Turn(sender=Sender.USER, content="I want headphones"),
        Turn(sender=Sender.BOT, content=first),
    )
    again = await _reply("I want headphones", turns)
    assert again != first
    assert again.endswith("?")


async def test_giving_up_gets_one_last_alternative_or_a_polite_question() -> None:
    text = await _reply("no thanks, just looking")
    assert text.endswith("?")
    metadata = SalesMetadata(interests=("headphones",), rejected_products=("Sony",))
    text = await _reply("not interested anymore in headphones", metadata=metadata)
    assert "One last idea" in text
    assert "WH-1000XM5" not in text


def test_title_drops_greetings_and_filler() -> None:
    assert title_for("Hi, I am looking for a laptop for programming") == "Laptop for programming"
    assert title_for("Hola, busco unos auriculares para correr") == "Auriculares para correr"
    assert title_for("¿Tienes portátiles? Para programar") == "Tienes portátiles"


async def test_the_use_case_cleans_its_title_like_any_assistants() -> None:
    store = InMemoryStore()
    send = SendMessage(store.uow_factory, OfflineSalesAssistant(), FakeClock(), SequentialIds())

    result = await send(user_id=USER, content="one two three four five six seven eight")

    assert result.conversation.title == "One two three four five six"


def test_distillation_by_rules() -> None:
    turns = (
        Turn(sender=Sender.USER, content="I need a laptop for gaming, up to $1500"),
        Turn(
            sender=Sender.BOT,
            content="Try the XPS 15 (1,499.00 USD, powerful) or the Chromebook Plus 14 "
            "(449.00 USD, simple).",
        ),
        Turn(sender=Sender.USER, content="I do not like Chromebooks, show me the XPS"),
        Turn(sender=Sender.BOT, content="Here it is: the XPS 15 (1,499.00 USD): powerful."),
        Turn(sender=Sender.USER, content="How much is the XPS?"),
    )
    metadata = distil_by_rules(DistillationRequest(previous=None, turns=turns))
    assert metadata.interests == ("laptop", "gaming", "budget up to $1,500")
    assert metadata.rejected_products == ("Chromebook Plus 14",)
    assert metadata.offered_products == ("XPS 15",)
    assert metadata.sale_status is SaleStatus.NEGOTIATING
    assert metadata.last_intent == "compare prices"
    jabra = distil_by_rules(
        DistillationRequest(
            previous=metadata, turns=(Turn(sender=Sender.USER, content="No me gustan los Jabra"),)
        )
    )
    assert jabra.rejected_products == ("Jabra",)
    closing = distil_by_rules(
        DistillationRequest(
            previous=metadata,
            turns=(Turn(sender=Sender.USER, content="OK, I'll take the XPS"),),
        )
    )
    assert closing.sale_status is SaleStatus.CLOSED


_CUSTOMER_LINES = [
    "Hi",
    "I want a laptop",
    "busco unos auriculares",
    "for gaming",
    "my budget is $900",
    "how much is it?",
    "I don't like the MacBook Air 13",
    "no me gustan los Jabra",
    "I do not like Chromebooks, show me the ThinkPad",
    "which one has the best battery?",
    "too expensive",
    "I'll take it",
    "no thanks",
    "¿cuánto cuesta el WH-1000XM5?",
]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(_CUSTOMER_LINES), min_size=1, max_size=12))
async def test_a_whole_conversation_keeps_the_sales_rules(lines: list[str]) -> None:
    """Through the real use case on the test shop: every reply ends with one question, names
    prices exactly as the catalogue has them, never says the same twice in a row, and offers
    no product the customer rejected (per the stored metadata)."""
    send = _grounded_send()
    conversation_id = None
    rejected: set[str] = set()
    previous = None
    for line in lines:
        result = await send(user_id=USER, content=line, conversation_id=conversation_id)
        conversation_id = result.conversation.id
        reply = result.bot_message.content
        assert reply.endswith("?")
        assert reply != previous, (line, reply)
        previous = reply
        for product in SHOP:
            if f"{product.name} (" in reply:
                assert f"{product.name} ({format_price(product)}" in reply
        # An acknowledgement of a rejection names the product; the offer follows it.
        offer = reply.split(". ", 1)[-1] if reply.startswith(("Understood", "Entendido")) else reply
        offered_now = [p for p in SHOP if p.name in offer]
        assert not [p for p in offered_now if is_rejected(p, rejected)], (line, reply)
        metadata = result.conversation.metadata
        if metadata is not None:
            rejected |= set(metadata.rejected_products)
        assert len(result.conversation.title.split()) <= 6


async def test_it_is_deterministic() -> None:
    request = await _request("I want headphones for sport under $300")
    first = await OfflineSalesAssistant().reply(request)
    second = await OfflineSalesAssistant().reply(request)
    assert first == second
    assert first.usage.prompt_tokens == 0
