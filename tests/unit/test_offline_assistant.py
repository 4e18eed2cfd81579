"""The offline assistant: a credible, deterministic seller in English and Spanish."""

from __future__ import annotations

from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesbot_core.domain import SalesMetadata, SaleStatus, Sender, Turn
from salesbot_core.offline import PRODUCTS, OfflineSalesAssistant, distil_by_rules, title_for
from salesbot_core.ports import DistillationRequest, ReplyRequest
from salesbot_core.testing import FakeClock, InMemoryStore, SequentialIds
from salesbot_core.usecases import SendMessage

USER = UUID(int=7)


async def _reply(message: str, **kwargs: object) -> str:
    request = ReplyRequest(customer_message=message, **kwargs)  # type: ignore[arg-type]
    return (await OfflineSalesAssistant().reply(request)).text


async def test_with_nothing_to_go_on_it_asks_narrowing_questions() -> None:
    text = await _reply("Hello there")
    assert text.endswith("?")
    assert text.count("?") == 1
    assert "budget" in text
    assert not any(p.name in text for p in PRODUCTS)


async def test_it_proposes_products_of_the_asked_category() -> None:
    text = await _reply("Hi, I am looking for a laptop for programming")
    named = [p for p in PRODUCTS if p.name in text]
    assert 2 <= len(named) <= 3
    assert all(p.category == "laptop" for p in named)
    assert text.endswith("?")


async def test_it_answers_in_spanish_to_spanish() -> None:
    text = await _reply("Hola, busco un teléfono para fotos")
    assert text.startswith("Para un teléfono")
    assert text.endswith("?")
    assert "¿" in text


async def test_a_budget_filters_the_options() -> None:
    text = await _reply("I need headphones, my budget is $250")
    named = [p for p in PRODUCTS if p.name in text]
    assert named
    assert all(p.price <= 250 for p in named)


async def test_it_never_re_offers_a_rejected_product() -> None:
    metadata = SalesMetadata(
        interests=("laptop",),
        offered_products=("MacBook Air M3",),
        rejected_products=("Dell XPS 15",),
    )
    text = await _reply("What else do you have in laptops?", metadata=metadata)
    assert "Dell XPS 15" not in text
    assert "MacBook Air M3" not in text
    text = await _reply("I don't like the Lenovo ThinkPad T14", metadata=metadata)
    assert text.startswith("Understood, I will leave the Lenovo ThinkPad T14 out.")
    assert "Dell XPS 15" not in text.split("out.")[1]


async def test_price_questions_compare_the_options_on_the_table() -> None:
    turns = (
        Turn(sender=Sender.USER, content="I want a phone"),
        Turn(sender=Sender.BOT, content="Try the iPhone 16 or the Google Pixel 9."),
    )
    text = await _reply("How much do they cost?", recent_turns=turns)
    assert "$799" in text
    assert "$699" in text
    assert "saves you $100" in text


async def test_buying_words_close_the_sale_with_next_steps() -> None:
    turns = (Turn(sender=Sender.BOT, content="The Sony WH-1000XM5 is great."),)
    text = await _reply("Great, I'll take it", recent_turns=turns)
    assert "Sony WH-1000XM5" in text
    assert "delivery" in text
    assert text.endswith("?")


async def test_giving_up_gets_one_last_alternative_or_a_polite_question() -> None:
    text = await _reply("no thanks, just looking")
    assert text.endswith("?")
    metadata = SalesMetadata(interests=("tablet",), rejected_products=("iPad Air",))
    text = await _reply("not interested anymore", metadata=metadata)
    assert "One last idea" in text
    assert "iPad Air" not in text


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
        Turn(sender=Sender.BOT, content="Try the Dell XPS 15 or the ASUS Zenbook 14."),
        Turn(sender=Sender.USER, content="I don't like the Dell XPS 15"),
        Turn(sender=Sender.BOT, content="Then the Lenovo ThinkPad T14."),
        Turn(sender=Sender.USER, content="How much is the ThinkPad?"),
    )
    metadata = distil_by_rules(DistillationRequest(previous=None, turns=turns))
    assert metadata.interests == ("laptop", "gaming", "budget up to $1,500")
    assert "Dell XPS 15" in metadata.rejected_products
    assert "Dell XPS 15" not in metadata.offered_products
    assert "Lenovo ThinkPad T14" in metadata.offered_products
    assert metadata.sale_status is SaleStatus.NEGOTIATING
    assert metadata.last_intent == "compare prices"
    closing = distil_by_rules(
        DistillationRequest(
            previous=metadata,
            turns=(Turn(sender=Sender.USER, content="OK, I'll take the ThinkPad"),),
        )
    )
    assert closing.sale_status is SaleStatus.CLOSED


_CUSTOMER_LINES = [
    "Hi",
    "I want a laptop",
    "busco un móvil",
    "for gaming",
    "my budget is $900",
    "how much is it?",
    "I don't like the MacBook Air M3",
    "no me gusta el iPhone 16",
    "too expensive",
    "I'll take it",
    "no thanks",
    "What about tablets?",
    "¿cuánto cuesta el Pixel?",
]


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_CUSTOMER_LINES), min_size=1, max_size=12))
async def test_a_whole_conversation_keeps_the_sales_rules(lines: list[str]) -> None:
    """Through the real use case: every reply ends with one question, and no product the
    customer rejected (per the stored metadata) is offered again."""
    store = InMemoryStore()
    send = SendMessage(store.uow_factory, OfflineSalesAssistant(), FakeClock(), SequentialIds())
    conversation_id = None
    rejected: set[str] = set()
    for line in lines:
        result = await send(user_id=USER, content=line, conversation_id=conversation_id)
        conversation_id = result.conversation.id
        reply = result.bot_message.content
        assert reply.endswith("?")
        # An acknowledgement of a rejection names the product; the offer follows it.
        offer = reply.split(". ", 1)[-1] if reply.startswith(("Understood", "Entendido")) else reply
        offered_now = {p.name for p in PRODUCTS if p.name in offer}
        assert not offered_now & rejected, (line, reply)
        metadata = result.conversation.metadata
        if metadata is not None:
            rejected |= set(metadata.rejected_products)
        assert len(result.conversation.title.split()) <= 6


async def test_it_is_deterministic() -> None:
    request = ReplyRequest(customer_message="I want a monitor for gaming under $400")
    first = await OfflineSalesAssistant().reply(request)
    second = await OfflineSalesAssistant().reply(request)
    assert first == second
    assert first.usage.prompt_tokens == 0
