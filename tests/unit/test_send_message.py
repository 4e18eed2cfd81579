"""Sending a message: the exchange, the title, the metadata threshold, atomicity, ownership."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesbot_core.domain import SalesMetadata, SaleStatus, Sender
from salesbot_core.errors import (
    AssistantTimeout,
    AssistantUnavailable,
    ConversationNotFound,
    DatabaseUnavailable,
    InvalidInput,
    InvalidMetadataAnswer,
)
from salesbot_core.ports import DistillationRequest, Distilled, Generated, ReplyRequest
from salesbot_core.testing import ScriptedAssistant
from salesbot_core.usecases import (
    DistillationPolicy,
    Distillations,
    DistilMetadata,
    ExchangeResult,
    SendMessage,
)
from tests.unit.conftest import Core

USER = UUID(int=1000)
OTHER = UUID(int=2000)


async def _converse(core: Core, *messages: str) -> UUID:
    conversation_id: UUID | None = None
    for text in messages:
        result = await core.send(user_id=USER, content=text, conversation_id=conversation_id)
        conversation_id = result.conversation.id
    assert conversation_id is not None
    await core.settle(conversation_id)
    return conversation_id


async def test_first_exchange_stores_both_messages_writes_a_title_and_counts_two(
    core: Core,
) -> None:
    core.assistant.titles.append("Programming Laptop Search")
    result = await core.send(user_id=USER, content="  I need a laptop for coding  ")
    assert result.conversation.title == "Programming Laptop Search"
    assert result.conversation.messages_since_context_update == 2
    assert result.user_message.content == "I need a laptop for coding"
    assert result.user_message.sender is Sender.USER
    assert result.bot_message.sender is Sender.BOT
    assert (result.user_message.seq, result.bot_message.seq) == (1, 2)
    assert len(core.assistant.title_requests) == 1
    assert core.assistant.reply_requests[0].recent_turns == ()
    history = await core.history(USER, result.conversation.id)
    assert [m.content for m in history.messages] == [
        "I need a laptop for coding",
        "Reply to: I need a laptop for coding",
    ]


async def test_title_is_written_only_on_the_first_exchange(core: Core) -> None:
    await _converse(core, "one", "two", "three", "four")
    assert len(core.assistant.title_requests) == 1


async def test_third_exchange_distils_once_and_resets_the_counter(core: Core) -> None:
    distilled = SalesMetadata(
        interests=("laptop",), offered_products=("MacBook Air M3",), sale_status="interested"
    )
    core.assistant.distillations.append(distilled)
    conversation_id = await _converse(core, "laptop please", "for coding", "under 1500")
    assert len(core.assistant.distil_requests) == 1
    request = core.assistant.distil_requests[0]
    assert request.previous is None
    assert [t.content for t in request.turns if t.sender is Sender.USER] == [
        "laptop please",
        "for coding",
        "under 1500",
    ]
    assert len(request.turns) == 6
    conversation = (await core.history(USER, conversation_id)).conversation
    assert conversation.metadata == distilled
    assert conversation.messages_since_context_update == 0


async def test_the_fourth_reply_carries_metadata_and_none_of_the_first_exchange(
    core: Core,
) -> None:
    core.assistant.distillations.append(SalesMetadata(interests=("gaming laptop",)))
    conversation_id = await _converse(core, "FIRST-MESSAGE", "second", "third")
    await core.send(user_id=USER, content="fourth", conversation_id=conversation_id)
    request = core.assistant.reply_requests[-1]
    assert request.metadata == SalesMetadata(interests=("gaming laptop",))
    assert request.recent_turns == ()
    _, prompt = core.assistant.prompts[-1]
    everything = " ".join(m.content for m in prompt)
    assert "gaming laptop" in everything
    assert "FIRST-MESSAGE" not in everything
    assert "Reply to: FIRST-MESSAGE" not in everything
    await core.send(user_id=USER, content="fifth", conversation_id=conversation_id)
    assert [t.content for t in core.assistant.reply_requests[-1].recent_turns] == [
        "fourth",
        "Reply to: fourth",
    ]


async def test_every_third_exchange_updates_the_metadata_from_the_previous_one(
    core: Core,
) -> None:
    first = SalesMetadata(interests=("phone",), sale_status=SaleStatus.INTERESTED)
    second = SalesMetadata(rejected_products=("iPhone 16",), sale_status=SaleStatus.NEGOTIATING)
    core.assistant.distillations.extend([first, second])
    conversation_id = await _converse(core, *(f"message {n}" for n in range(1, 7)))
    assert len(core.assistant.distil_requests) == 2
    assert core.assistant.distil_requests[1].previous == first
    assert len(core.assistant.distil_requests[1].turns) == 6
    conversation = (await core.history(USER, conversation_id)).conversation
    assert conversation.metadata == SalesMetadata(
        interests=("phone",),
        rejected_products=("iPhone 16",),
        sale_status=SaleStatus.NEGOTIATING,
    )


@pytest.mark.parametrize("error", [AssistantUnavailable("down"), AssistantTimeout("slow")])
async def test_a_failed_reply_stores_nothing(core: Core, error: AssistantUnavailable) -> None:
    conversation_id = await _converse(core, "hello")
    before = (await core.history(USER, conversation_id)).conversation
    commits = core.store.commits
    core.assistant.replies.append(error)
    with pytest.raises(type(error)):
        await core.send(user_id=USER, content="again", conversation_id=conversation_id)
    after = await core.history(USER, conversation_id)
    assert after.conversation == before
    assert len(after.messages) == 2
    assert core.store.commits == commits
    # The same request can be sent again.
    retried = await core.send(user_id=USER, content="again", conversation_id=conversation_id)
    assert retried.conversation.messages_since_context_update == 4


async def test_a_failed_first_reply_creates_no_conversation(core: Core) -> None:
    core.assistant.replies.append(AssistantUnavailable("down"))
    with pytest.raises(AssistantUnavailable):
        await core.send(user_id=USER, content="hello")
    assert (await core.list_conversations(USER)).items == ()
    assert core.store.commits == 0


async def test_a_failed_title_falls_back_to_the_message(core: Core) -> None:
    core.assistant.titles.append(AssistantUnavailable("down"))
    result = await core.send(user_id=USER, content="Looking for noise cancelling headphones today")
    assert result.conversation.title == "Looking for noise cancelling headphones today"


async def test_invalid_metadata_twice_keeps_the_old_metadata_and_retries_next_time(
    core: Core,
) -> None:
    kept = SalesMetadata(interests=("tablet",))
    core.assistant.distillations.extend(
        [kept, InvalidMetadataAnswer("bad"), InvalidMetadataAnswer("bad again")]
    )
    conversation_id = await _converse(core, *(f"m{n}" for n in range(1, 7)))
    conversation = (await core.history(USER, conversation_id)).conversation
    assert conversation.metadata == kept
    assert conversation.messages_since_context_update == 6
    assert len(core.assistant.distil_requests) == 3
    # The next exchange tries again, over the whole undistilled window.
    core.assistant.distillations.append(SalesMetadata(interests=("pen",)))
    result = await core.send(user_id=USER, content="m7", conversation_id=conversation_id)
    assert result.distillation_due
    distilled = await core.settle(conversation_id)
    assert len(core.assistant.distil_requests[-1].turns) == 8
    assert distilled is not None
    assert distilled.messages_since_context_update == 0
    assert distilled.metadata == SalesMetadata(interests=("tablet", "pen"))


async def test_one_invalid_answer_then_a_valid_one_is_used(core: Core) -> None:
    valid = SalesMetadata(interests=("monitor",))
    core.assistant.distillations.extend([InvalidMetadataAnswer("bad"), valid])
    conversation_id = await _converse(core, "a", "b", "c")
    assert len(core.assistant.distil_requests) == 2
    assert (await core.history(USER, conversation_id)).conversation.metadata == valid


async def test_a_failed_distillation_still_returns_the_exchange(core: Core) -> None:
    core.assistant.distillations.append(AssistantUnavailable("down"))
    conversation_id = await _converse(core, "a", "b")
    result = await core.send(user_id=USER, content="c", conversation_id=conversation_id)
    assert result.bot_message.content == "Reply to: c"
    assert await core.settle(conversation_id) is None
    conversation = (await core.history(USER, conversation_id)).conversation
    assert conversation.metadata is None
    assert conversation.messages_since_context_update == 6


async def test_another_users_conversation_is_not_found_and_untouched(core: Core) -> None:
    conversation_id = await _converse(core, "mine")
    with pytest.raises(ConversationNotFound):
        await core.send(user_id=OTHER, content="intrude", conversation_id=conversation_id)
    with pytest.raises(ConversationNotFound):
        await core.send(user_id=USER, content="lost", conversation_id=uuid4())
    for action in (
        core.history(OTHER, conversation_id),
        core.rename(OTHER, conversation_id, "mine now"),
        core.delete(OTHER, conversation_id),
    ):
        with pytest.raises(ConversationNotFound):
            await action
    history = await core.history(USER, conversation_id)
    assert len(history.messages) == 2
    assert history.conversation.title != "mine now"


@pytest.mark.parametrize("content", ["", "   \n\t ", "x" * 5001])
async def test_content_must_be_1_to_5000_characters_after_trimming(
    core: Core, content: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await core.send(user_id=USER, content=content)
    assert raised.value.field == "content"
    assert core.assistant.reply_requests == []


async def test_list_rename_and_delete(core: Core) -> None:
    first = await _converse(core, "first")
    core.clock.advance(timedelta(seconds=5))
    second = await _converse(core, "second")
    assert [c.id for c in (await core.list_conversations(USER)).items] == [second, first]
    core.clock.advance(timedelta(seconds=5))
    renamed = await core.rename(USER, first, "  Renamed   chat ")
    assert renamed.title == "Renamed chat"
    assert [c.id for c in (await core.list_conversations(USER)).items] == [first, second]
    with pytest.raises(InvalidInput):
        await core.rename(USER, first, "   ")
    await core.delete(USER, first)
    assert [c.id for c in (await core.list_conversations(USER)).items] == [second]
    with pytest.raises(ConversationNotFound):
        await core.history(USER, first)
    assert first not in core.store.state.messages


async def test_concurrent_sends_to_one_conversation_lose_nothing(core: Core) -> None:
    conversation_id = await _converse(core, "start")
    await asyncio.gather(
        *(
            core.send(user_id=USER, content=f"burst {n}", conversation_id=conversation_id)
            for n in range(20)
        )
    )
    await core.settle(conversation_id)
    history = await core.history(USER, conversation_id)
    assert [m.seq for m in history.messages] == list(range(1, 43))
    assert {m.content for m in history.messages if m.sender is Sender.USER} == {"start"} | {
        f"burst {n}" for n in range(20)
    }
    windows = [tuple(t.content for t in r.turns) for r in core.assistant.distil_requests]
    assert len(windows) == len(set(windows))
    conversation = history.conversation
    undistilled = [m for m in history.messages if m.seq > conversation.distilled_through]
    assert conversation.messages_since_context_update == len(undistilled)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.sampled_from(["ok", "invalid", "down"]),
        min_size=1,
        max_size=15,
    )
)
async def test_any_run_of_distillation_outcomes_keeps_the_prompt_bounded(
    outcomes: list[str],
) -> None:
    core = Core(assistant=ScriptedAssistant())
    for outcome in outcomes:
        core.assistant.distillations.append(
            SalesMetadata(interests=("x",))
            if outcome == "ok"
            else InvalidMetadataAnswer("bad")
            if outcome == "invalid"
            else AssistantUnavailable("down")
        )
    conversation_id: UUID | None = None
    for n in range(3 * len(outcomes)):
        result = await core.send(user_id=USER, content=f"m{n}", conversation_id=conversation_id)
        conversation_id = result.conversation.id
        conversation = result.conversation
        assert conversation.messages_since_context_update % 2 == 0
        assert conversation.messages_since_context_update == (
            conversation.message_count - conversation.distilled_through
        )
        assert len(core.assistant.reply_requests[-1].recent_turns) <= 12
    assert conversation_id is not None
    await core.settle(conversation_id)


async def test_a_store_failure_while_distilling_does_not_fail_the_stored_exchange(
    core: Core,
) -> None:
    conversation_id = await _converse(core, "a", "b")
    original = core.store.uow_factory
    calls = 0

    def failing_after_the_exchange() -> object:
        nonlocal calls
        calls += 1
        if calls > 2:  # read context, store the exchange; then the distillation's store fails
            raise DatabaseUnavailable("gone")
        return original()

    send = SendMessage(failing_after_the_exchange, core.assistant, core.clock, core.ids)  # type: ignore[arg-type]
    result = await send(user_id=USER, content="c", conversation_id=conversation_id)
    assert result.distillation_due
    assert await send.distillations.settled(conversation_id) is None
    assert calls == 3
    assert result.bot_message.content == "Reply to: c"
    assert result.conversation.messages_since_context_update == 6
    history = await core.history(USER, conversation_id)
    assert len(history.messages) == 6


async def test_a_distillation_after_an_undisturbed_exchange_reads_nothing_again(
    core: Core,
) -> None:
    """The window is what the exchange read plus its two messages: the distillation itself
    reads nothing: its units of work are the lease's claim and the apply, which ends the lease
    too (no unit of work of its own to give it back)."""
    conversation_id = await _converse(core, "laptop please", "for coding")
    opened = 0
    original = core.store.uow_factory

    def counting() -> object:
        nonlocal opened
        opened += 1
        return original()

    send = SendMessage(counting, core.assistant, core.clock, core.ids)  # type: ignore[arg-type]
    await send(user_id=USER, content="under 1500", conversation_id=conversation_id)
    distilled = await send.distillations.settled(conversation_id)

    # read the context, store the exchange; claim the lease, apply (ending the lease)
    assert opened == 4
    turns = core.assistant.distil_requests[-1].turns
    history = await core.history(USER, conversation_id)
    assert [(t.sender, t.content) for t in turns] == [
        (m.sender, m.content) for m in history.messages
    ]
    assert distilled is not None
    assert distilled.distilled_through == 6


async def test_a_distillation_reads_its_window_when_another_exchange_landed_meanwhile() -> None:
    """Exchange A reads its context, B is stored while A waits for its reply; A's distillation
    must see B's messages too, so it reads the window instead of reusing A's context."""

    class Gated(ScriptedAssistant):
        def __init__(self) -> None:
            super().__init__()
            self.waiting, self.go = asyncio.Event(), asyncio.Event()

        async def reply(self, request: ReplyRequest) -> Generated:
            if request.customer_message == "A":
                self.waiting.set()
                await self.go.wait()
            return await super().reply(request)

    assistant = Gated()
    core = Core(assistant=assistant)
    conversation_id = await _converse(core, "first")
    a = asyncio.create_task(core.send(user_id=USER, content="A", conversation_id=conversation_id))
    await assistant.waiting.wait()
    await core.send(user_id=USER, content="B", conversation_id=conversation_id)
    assert core.assistant.distil_requests == []
    assistant.go.set()
    result = await a
    assert result.distillation_due
    # A was planned again from the conversation B left, so its seq numbers follow B's.
    assert (result.user_message.seq, result.bot_message.seq) == (5, 6)
    distilled = await core.settle(conversation_id)

    turns = core.assistant.distil_requests[-1].turns
    assert [t.content for t in turns if t.sender is Sender.USER] == ["first", "B", "A"]
    assert len(turns) == 6
    assert distilled is not None
    assert distilled.messages_since_context_update == 0
    assert distilled.distilled_through == 6


async def _three_exchanges(send: SendMessage) -> ExchangeResult:
    """A new conversation's first three exchanges (the third reaches the threshold) and its
    distillation; the last exchange."""
    conversation_id: UUID | None = None
    for text in ("a", "b", "c"):
        result = await send(user_id=USER, content=text, conversation_id=conversation_id)
        conversation_id = result.conversation.id
    await send.distillations.settled(result.conversation.id)
    return result


def _send_with(core: Core, assistant: ScriptedAssistant, policy: DistillationPolicy) -> SendMessage:
    uow = core.store.uow_factory
    distil = DistilMetadata(uow, assistant, core.clock, policy)
    return SendMessage(uow, assistant, core.clock, core.ids, Distillations(distil))


async def test_a_window_of_no_messages_distils_nothing(core: Core) -> None:
    send = _send_with(core, core.assistant, DistillationPolicy(max_messages=0))
    result = await _three_exchanges(send)
    assert core.assistant.distil_requests == []
    conversation = (await core.history(USER, result.conversation.id)).conversation
    assert conversation.messages_since_context_update == 6


async def test_a_slow_distillation_is_cut_at_its_budget(core: Core) -> None:
    class SlowDistiller(ScriptedAssistant):
        async def distil(self, request: DistillationRequest) -> Distilled:
            await asyncio.sleep(5)
            return await super().distil(request)

    send = _send_with(core, SlowDistiller(), DistillationPolicy(budget_s=0.05))
    result = await _three_exchanges(send)
    conversation = (await core.history(USER, result.conversation.id)).conversation
    assert conversation.metadata is None
    assert conversation.messages_since_context_update == 6


async def test_reads_stay_bounded_when_distillation_keeps_failing(core: Core) -> None:
    core.assistant.distillations.extend([AssistantUnavailable("down")] * 20)
    conversation_id = await _converse(core, *(f"m{n}" for n in range(22)))
    assert len(core.assistant.reply_requests[-1].recent_turns) == 12
    assert all(len(r.turns) <= 24 for r in core.assistant.distil_requests)
    core.assistant.distillations.clear()
    await core.send(user_id=USER, content="finally", conversation_id=conversation_id)
    distilled = await core.settle(conversation_id)
    # The distillation saw the latest 24 messages and covers all 46 since the last one.
    assert len(core.assistant.distil_requests[-1].turns) == 24
    assert distilled is not None
    assert distilled.messages_since_context_update == 0
    assert distilled.distilled_through == 46
