"""Paging and search at size, through the API on PostgreSQL: walking back through a 1,000-message
history while new messages arrive, and finding conversations by what was said in them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from salesbot_core.domain import TokenUsage
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import Exchange, FakeClock, append_exchange
from tests.api.api_helpers import Customer, ok_data
from tests.api.conftest import Client, SignUp
from tests.api.test_chat_api import send, start

HISTORY_MESSAGES = 1_000
PAGE = 37  # deliberately not a divisor of the history


async def _append_exchanges(
    uow_factory: UnitOfWorkFactory,
    conversation_id: str,
    first_seq: int,
    exchanges: int,
    at: FakeClock,
) -> None:
    """``exchanges`` exchanges straight through the repository (fast), contents named by seq."""
    async with uow_factory() as uow:
        for n in range(exchanges):
            seq = first_seq + 2 * n
            await append_exchange(
                uow,
                Exchange(
                    conversation_id=uuid.UUID(conversation_id),
                    user_message_id=uuid.uuid4(),
                    bot_message_id=uuid.uuid4(),
                    user_content=f"message {seq:04d}",
                    bot_content=f"message {seq + 1:04d}",
                    usage=TokenUsage(),
                    created_at=at.now(),
                ),
            )
        await uow.commit()


async def test_walking_back_a_long_history_while_messages_arrive_has_no_gaps_or_repeats(
    client: Client, customer: Customer, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> None:
    conversation_id = await start(client, customer, "message 0001")  # seq 1 and 2
    await _append_exchanges(uow_factory, conversation_id, 3, (HISTORY_MESSAGES - 2) // 2, clock)
    path = f"/chat/conversations/{conversation_id}/history"

    pages: list[list[str]] = []
    before: int | None = None
    arrived = 0
    while True:
        params = {"limit": PAGE} | ({"before": before} if before is not None else {})
        page = ok_data(await client.get(path, params=params, headers=customer.headers))
        pages.append([m["content"] for m in page["messages"]])
        # A new exchange lands between every two pages.
        clock.advance(timedelta(seconds=1))
        ok_data(await send(client, customer, f"new {arrived}", conversation_id), 201)
        arrived += 1
        before = page["nextBefore"]
        if before is None:
            break

    walked = [content for page in reversed(pages) for content in page]
    assert walked[0] == "message 0001"
    assert walked[1] == "Reply to: message 0001"
    assert walked[2:] == [f"message {seq:04d}" for seq in range(3, HISTORY_MESSAGES + 1)]
    assert len(pages) == -(-HISTORY_MESSAGES // PAGE)
    assert all(len(page) == PAGE for page in pages[:-1])
    latest = ok_data(await client.get(path, params={"limit": 2}, headers=customer.headers))
    assert latest["totalMessages"] == HISTORY_MESSAGES + 2 * arrived
    assert [m["content"] for m in latest["messages"]] == [
        f"new {arrived - 1}",
        f"Reply to: new {arrived - 1}",
    ]


async def test_search_finds_a_conversation_by_what_was_said_later_in_it(
    client: Client, customer: Customer
) -> None:
    monitor = await start(client, customer, "Hello there")
    await send(client, customer, "Actually I want an ultrawide monitor", monitor)
    await start(client, customer, "I need a keyboard")

    found = ok_data(
        await client.get("/chat/conversations", params={"q": "ultrawide"}, headers=customer.headers)
    )
    by_reply = ok_data(
        await client.get(
            "/chat/conversations", params={"q": "reply keyboard"}, headers=customer.headers
        )
    )

    assert [c["id"] for c in found] == [monitor]
    assert "ultrawide" not in found[0]["title"].lower()
    assert len(by_reply) == 1  # the bot's "Reply to: I need a keyboard" counts too
    assert by_reply[0]["id"] != monitor


async def test_search_never_finds_another_users_conversation(
    client: Client, customer: Customer, sign_up: SignUp
) -> None:
    other = await sign_up()
    await start(client, other, "I want an ultrawide monitor")

    found = ok_data(
        await client.get("/chat/conversations", params={"q": "ultrawide"}, headers=customer.headers)
    )

    assert found == []
