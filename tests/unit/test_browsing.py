"""Paging, search and sessions through the in-memory adapters."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID, uuid4

import pytest

from salesbot_core.errors import InvalidInput, InvalidRefreshToken, SessionNotFound
from salesbot_core.usecases import ClientInfo, EndSession, ListSessions
from tests.unit.conftest import Core

USER = UUID(int=1000)


async def _conversation(core: Core, *messages: str) -> UUID:
    conversation_id: UUID | None = None
    for text in messages:
        core.clock.advance(timedelta(seconds=1))
        result = await core.send(user_id=USER, content=text, conversation_id=conversation_id)
        conversation_id = result.conversation.id
    assert conversation_id is not None
    return conversation_id


async def test_history_pages_walk_back_without_gaps_or_repeats_while_messages_arrive(
    core: Core,
) -> None:
    conversation_id = await _conversation(core, *(f"m{n}" for n in range(50)))
    seen: list[int] = []
    page = await core.history(USER, conversation_id, limit=7)
    while True:
        seen[:0] = [m.seq for m in page.messages]
        # New messages keep arriving while the client pages back.
        await core.send(user_id=USER, content="more", conversation_id=conversation_id)
        if page.next_before is None:
            break
        page = await core.history(USER, conversation_id, limit=7, before=page.next_before)
    assert seen == list(range(1, 101))


async def test_history_defaults_to_the_latest_page(core: Core) -> None:
    conversation_id = await _conversation(core, *(f"m{n}" for n in range(60)))
    page = await core.history(USER, conversation_id)
    assert [m.seq for m in page.messages] == list(range(21, 121))
    assert page.next_before == 21
    with pytest.raises(InvalidInput):
        await core.history(USER, conversation_id, limit=501)
    with pytest.raises(InvalidInput):
        await core.history(USER, conversation_id, limit=0)


async def test_conversation_pages_are_keyset_paged(core: Core) -> None:
    ids = [await _conversation(core, f"conversation {n}") for n in range(7)]
    collected: list[UUID] = []
    page = await core.list_conversations(USER, limit=3)
    while True:
        collected.extend(c.id for c in page.items)
        if page.next is None:
            break
        page = await core.list_conversations(USER, limit=3, after=page.next)
    assert collected == list(reversed(ids))
    assert (await core.list_conversations(USER, limit=7)).next is None
    with pytest.raises(InvalidInput):
        await core.list_conversations(USER, limit=101)


async def test_search_finds_by_title_and_message_text(core: Core) -> None:
    core.assistant.titles.extend(["Gaming laptop", "Running shoes"])
    laptop = await _conversation(core, "a laptop", "with an RTX graphics card please")
    shoes = await _conversation(core, "running shoes")
    other = UUID(int=2000)
    await core.send(user_id=other, content="graphics card for me too")

    async def found(query: str) -> list[UUID]:
        return [c.id for c in (await core.list_conversations(USER, query=query)).items]

    assert await found("graphics") == [laptop]
    assert await found("GRAPHICS card") == [laptop]
    assert await found("gaming") == [laptop]
    assert await found("shoes") == [shoes]
    assert await found("graphics shoes") == []
    assert await found("graph") == []
    assert set(await found("   ")) == {laptop, shoes}


async def test_sessions_list_and_end_one(core: Core) -> None:
    user = await core.register(email="jane@example.com", password="password123", name="Jane")
    phone = await core.login(
        email="jane@example.com", password="password123", client=ClientInfo(user_agent="phone")
    )
    core.clock.advance(timedelta(minutes=5))
    laptop = await core.login(
        email="jane@example.com",
        password="password123",
        client=ClientInfo(user_agent="laptop", ip="10.0.0.2"),
    )
    core.clock.advance(timedelta(minutes=5))
    rotated = await core.refresh(phone.tokens.refresh_token)
    sessions = await ListSessions(core.store.uow_factory, core.clock)(user.id)
    assert [s.user_agent for s in sessions] == ["phone", "laptop"]
    assert sessions[0].created_at == core.clock.now() - timedelta(minutes=10)
    assert sessions[0].last_used_at == core.clock.now()
    assert sessions[1].ip == "10.0.0.2"
    end = EndSession(core.store.uow_factory, core.clock)
    with pytest.raises(SessionNotFound):
        await end(UUID(int=999_999), sessions[0].id)  # not the owner
    with pytest.raises(SessionNotFound):
        await end(user.id, uuid4())
    await end(user.id, sessions[0].id)
    with pytest.raises(InvalidRefreshToken):
        await core.refresh(rotated.refresh_token)
    assert (await core.refresh(laptop.tokens.refresh_token)).refresh_token
    remaining = await ListSessions(core.store.uow_factory, core.clock)(user.id)
    assert [s.user_agent for s in remaining] == ["laptop"]
