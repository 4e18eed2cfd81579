"""SendMessage grounds every reply, whole and streamed, in the products the core picked."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from salesbot_core.domain import SalesMetadata
from salesbot_core.prompts import PRODUCTS_HEADER, reply_prompt
from salesbot_core.testing import (
    FakeClock,
    InMemoryCatalogue,
    InMemoryStore,
    ScriptedAssistant,
    SequentialIds,
)
from salesbot_core.usecases import SendMessage
from salesbot_core.usecases.grounding import PickProducts
from tests.support.shop import SHOP

USER = UUID(int=11)


def _send(assistant: ScriptedAssistant, catalogue: InMemoryCatalogue) -> SendMessage:
    return SendMessage(
        InMemoryStore().uow_factory,
        assistant,
        FakeClock(),
        SequentialIds(),
        pick_products=PickProducts(catalogue),
    )


async def test_a_whole_reply_carries_the_picked_products() -> None:
    assistant = ScriptedAssistant()
    send = _send(assistant, InMemoryCatalogue(SHOP))
    first = await send(user_id=USER, content="I want headphones, under 300 dollars")
    request = assistant.reply_requests[-1]
    assert request.catalogue_loaded
    assert request.products
    assert all(p.category == "headphones" for p in request.products)
    assert all(p.price <= Decimal(450) for p in request.products)
    assert PRODUCTS_HEADER in reply_prompt(request)[0].content
    # The earlier customer turn still grounds the next one, and the last reply is handed on.
    await send(
        user_id=USER, content="which is the best one?", conversation_id=first.conversation.id
    )
    follow_up = assistant.reply_requests[-1]
    assert {p.category for p in follow_up.products} == {"headphones"}
    assert follow_up.last_reply == first.bot_message.content


async def test_a_streamed_reply_carries_the_same_products() -> None:
    whole, streamed = ScriptedAssistant(), ScriptedAssistant()
    await _send(whole, InMemoryCatalogue(SHOP))(user_id=USER, content="a light laptop")
    events = _send(streamed, InMemoryCatalogue(SHOP)).stream(user_id=USER, content="a light laptop")
    async for _ in events:
        pass
    assert streamed.reply_requests[-1].products == whole.reply_requests[-1].products
    assert streamed.reply_requests[-1].products


async def test_rejected_products_never_reach_the_assistant() -> None:
    """Once the record says the Jabra were rejected, no Jabra product is in a reply's request;
    and the fourth reply, its turns distilled away, still gets the previous reply."""
    assistant = ScriptedAssistant()
    assistant.distillations.append(SalesMetadata(rejected_products=("jabra",)))
    send = _send(assistant, InMemoryCatalogue(SHOP))
    conversation_id = None
    for _ in range(3):
        result = await send(
            user_id=USER, content="wireless earbuds", conversation_id=conversation_id
        )
        conversation_id = result.conversation.id
        assert any(p.brand == "Jabra" for p in assistant.reply_requests[-1].products)
    await send.distillations.settled(conversation_id)
    await send(user_id=USER, content="wireless earbuds", conversation_id=conversation_id)
    request = assistant.reply_requests[-1]
    assert request.recent_turns == ()
    assert request.last_reply == result.bot_message.content
    assert request.products
    assert not any(p.brand == "Jabra" for p in request.products)


async def test_without_a_catalogue_the_request_says_so() -> None:
    assistant = ScriptedAssistant()
    await _send(assistant, InMemoryCatalogue())(user_id=USER, content="a laptop")
    request = assistant.reply_requests[-1]
    assert request.products == ()
    assert not request.catalogue_loaded
