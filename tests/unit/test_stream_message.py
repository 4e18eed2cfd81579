"""Streaming an exchange: pieces first, then the stored result; nothing half-written."""

from __future__ import annotations

from uuid import UUID

import pytest

from salesbot_core.domain import TokenUsage
from salesbot_core.errors import AssistantUnavailable
from salesbot_core.offline import OfflineSalesAssistant
from salesbot_core.ports import Distilled, Generated, ReplyDelta, ReplyRequest, TitleRequest
from salesbot_core.testing import FailMidStream
from salesbot_core.usecases import ExchangeResult, SendMessage
from tests.unit.conftest import Core

USER = UUID(int=1000)


async def _collect(core: Core, content: str, conversation_id: UUID | None = None) -> list[object]:
    return [
        event
        async for event in core.send.stream(
            user_id=USER, content=content, conversation_id=conversation_id
        )
    ]


async def test_pieces_come_first_then_exactly_one_stored_result(core: Core) -> None:
    core.assistant.replies.append("Two great laptops for you. Which one?")
    events = await _collect(core, "laptop please")
    *deltas, last = events
    assert all(isinstance(d, ReplyDelta) for d in deltas)
    assert len(deltas) == 7  # one per word
    assert isinstance(last, ExchangeResult)
    assert "".join(d.text for d in deltas if isinstance(d, ReplyDelta)) == last.bot_message.content
    assert last.bot_message.content == "Two great laptops for you. Which one?"
    history = await core.history(USER, last.conversation.id)
    assert [m.seq for m in history.messages] == [1, 2]


async def test_streamed_exchanges_follow_the_same_threshold(core: Core) -> None:
    conversation_id = None
    for n in range(3):
        events = await _collect(core, f"m{n}", conversation_id)
        result = events[-1]
        assert isinstance(result, ExchangeResult)
        conversation_id = result.conversation.id
    assert isinstance(result, ExchangeResult)
    assert result.distillation_due
    assert result.conversation.messages_since_context_update == 6
    distilled = await core.settle(result.conversation.id)
    assert len(core.assistant.distil_requests) == 1
    assert distilled is not None
    assert distilled.messages_since_context_update == 0


async def test_a_failure_mid_stream_stores_nothing(core: Core) -> None:
    core.assistant.replies.append(
        FailMidStream(text="This reply will be cut", error=AssistantUnavailable("gone"))
    )
    received: list[object] = []

    async def consume() -> None:
        async for event in core.send.stream(user_id=USER, content="hello"):
            received.append(event)  # noqa: PERF401 - what arrived before the failure counts

    with pytest.raises(AssistantUnavailable):
        await consume()
    assert received
    assert all(isinstance(e, ReplyDelta) for e in received)
    assert (await core.list_conversations(USER)).items == ()
    assert core.store.commits == 0


async def test_a_consumer_that_stops_early_stores_nothing(core: Core) -> None:
    first = await _collect(core, "first")
    conversation = first[-1]
    assert isinstance(conversation, ExchangeResult)
    stream = core.send.stream(
        user_id=USER, content="second", conversation_id=conversation.conversation.id
    )
    assert isinstance(await anext(stream), ReplyDelta)
    await stream.aclose()  # what a disconnecting client does
    history = await core.history(USER, conversation.conversation.id)
    assert len(history.messages) == 2
    assert history.conversation.messages_since_context_update == 2


class _WholeRepliesOnly:
    """An assistant that cannot stream: the core hands its reply out as one piece."""

    async def reply(self, request: ReplyRequest) -> Generated:
        return Generated(text=f"whole: {request.customer_message}", usage=TokenUsage())

    async def title(self, request: TitleRequest) -> Generated:
        return Generated(text="A title")

    async def distil(self, request: object) -> Distilled:
        raise AssistantUnavailable("not needed here")


async def test_an_assistant_without_streaming_streams_one_piece(core: Core) -> None:
    send = SendMessage(core.store.uow_factory, _WholeRepliesOnly(), core.clock, core.ids)
    events = [e async for e in send.stream(user_id=USER, content="hi")]
    assert events[0] == ReplyDelta(text="whole: hi")
    assert isinstance(events[1], ExchangeResult)
    assert len(events) == 2


async def test_the_offline_assistant_streams_the_same_reply(core: Core) -> None:
    send = SendMessage(core.store.uow_factory, OfflineSalesAssistant(), core.clock, core.ids)
    events = [e async for e in send.stream(user_id=USER, content="I want a tablet for study")]
    result = events[-1]
    assert isinstance(result, ExchangeResult)
    text = "".join(e.text for e in events if isinstance(e, ReplyDelta))
    assert text == result.bot_message.content
    assert len(events) > 5
    whole = await OfflineSalesAssistant().reply(
        ReplyRequest(customer_message="I want a tablet for study")
    )
    assert whole.text == text
