"""Concurrent sends to one conversation: every message kept, the counter consistent, and no
metadata window applied twice (the core's SendMessage over the real store)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any
from uuid import uuid4

import pytest

from salesbot_core.domain import Conversation, Sender
from salesbot_core.exchange import DistillationWrite
from salesbot_core.ports import (
    DistillationRequest,
    Distilled,
    Generated,
    ReplyRequest,
    UnitOfWork,
    UnitOfWorkFactory,
)
from salesbot_core.testing import FastPasswordHasher, InMemoryStore, ScriptedAssistant
from salesbot_core.usecases import RegisterUser, SendMessage
from salesbot_postgres import Database
from tests.support.clocks import RandomIds, UtcClock

SENDS = 20


class JitteryAssistant(ScriptedAssistant):
    """Answers after a random few milliseconds, so exchanges and distillations interleave."""

    async def reply(self, request: ReplyRequest) -> Generated:
        await asyncio.sleep(random.uniform(0, 0.02))
        return await super().reply(request)

    async def distil(self, request: DistillationRequest) -> Distilled:
        await asyncio.sleep(random.uniform(0, 0.02))
        return await super().distil(request)


class DistillationLog:
    """Wraps a unit-of-work factory and notes every apply_distillation and its outcome."""

    def __init__(self, inner: UnitOfWorkFactory) -> None:
        self._inner = inner
        self.applied: list[tuple[int, int]] = []
        self.refused: list[tuple[int, int]] = []

    def __call__(self) -> Any:
        return _LoggedUnitOfWork(self._inner(), self)


class _LoggedUnitOfWork:
    # Repositories are looked up on each access: the in-memory unit of work rebinds them.
    def __init__(self, inner: UnitOfWork, log: DistillationLog) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def conversations(self) -> _LoggedConversations:
        return _LoggedConversations(self._inner.conversations, self._log)

    async def __aenter__(self) -> _LoggedUnitOfWork:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._inner.__aexit__(*exc_info)


class _LoggedConversations:
    def __init__(self, inner: Any, log: DistillationLog) -> None:
        self._inner = inner
        self._log = log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def apply_distillation(
        self, write: DistillationWrite, *, lease_until: datetime | None = None
    ) -> bool:
        applied: bool = await self._inner.apply_distillation(write, lease_until=lease_until)
        through = write.conversation.distilled_through
        (self._log.applied if applied else self._log.refused).append(
            (through - write.covered_messages, through)
        )
        return applied


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryStore().uow_factory
    database: Database = request.getfixturevalue("database")
    return database.unit_of_work


async def test_twenty_concurrent_sends_to_one_conversation_lose_nothing(
    store: UnitOfWorkFactory,
) -> None:
    clock, ids = UtcClock(), RandomIds()
    log = DistillationLog(store)
    assistant = JitteryAssistant()
    send = SendMessage(log, assistant, clock, ids)
    user = await RegisterUser(store, FastPasswordHasher(), clock, ids)(
        email="ann@example.com", password="correct horse", name="Ann Buyer"
    )
    conversation = Conversation(
        id=uuid4(), user_id=user.id, title="Laptops", created_at=clock.now(), updated_at=clock.now()
    )
    async with store() as work:
        await work.conversations.add(conversation)
        await work.commit()

    contents = [f"message number {n}" for n in range(SENDS)]
    results = await asyncio.gather(
        *(send(user_id=user.id, content=c, conversation_id=conversation.id) for c in contents)
    )
    assert await send.distillations.drain(30) == 0

    async with store() as work:
        final = await work.conversations.get_for_user(conversation.id, user.id)
        messages: Sequence[Any] = await work.messages.list_for_conversation(conversation.id)
    assert final is not None

    # Every message kept, numbered 1..40, each exchange's two messages adjacent.
    assert [m.seq for m in messages] == list(range(1, 2 * SENDS + 1))
    assert sorted(m.content for m in messages[::2]) == sorted(contents)
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert (question.sender, answer.sender) == (Sender.USER, Sender.BOT)
        assert answer.content == f"Reply to: {question.content}"
    assert {r.user_message.id for r in results} == {m.id for m in messages[::2]}

    # The counter is consistent: it counts exactly the messages the metadata does not cover.
    assert final.message_count == 2 * SENDS
    assert final.messages_since_context_update == final.message_count - final.distilled_through

    # Distillation happened, each window once: applied windows chain without overlap.
    assert log.applied, "twenty exchanges must reach the threshold at least once"
    chain = sorted(log.applied)
    assert chain[0][0] == 0
    for (_, previous_end), (start, _) in pairwise(chain):
        assert start == previous_end
    assert final.distilled_through == chain[-1][1]
    assert final.metadata is not None
    assert all(start < end for start, end in chain)

    # Token totals: every reply plus every applied (never a refused) distillation.
    per_call = assistant.usage
    assert final.prompt_tokens == per_call.prompt_tokens * (SENDS + len(log.applied))
    assert final.completion_tokens == per_call.completion_tokens * (SENDS + len(log.applied))
