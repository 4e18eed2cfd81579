"""Streamed replies with the real SDK over real HTTP against the fake server: pieces in order and as
they come, the same request and text as a whole reply, usage, ``SendMessage.stream`` storing only
a complete exchange, every failure mapped like ``reply``'s (also midway), and a consumer that stops
early closing the HTTP stream."""

from __future__ import annotations

import asyncio
import time

import pytest
from openai_support import (
    CUSTOMER,
    FAILURE_TIMEOUT_S,
    FAILURES,
    SECRET_BODY,
    SLACK_S,
    SLOW_S,
    TEST_KEY,
    TEST_MODEL,
    Chat,
    MakeAssistant,
    within_budget,
)

from salesbot_core.errors import AssistantTimeout, AssistantUnavailable
from salesbot_core.ports import Generated, ReplyDelta, ReplyRequest, StreamingSalesAssistant
from salesbot_core.usecases import ExchangeResult
from salesbot_openai.testing import (
    Completion,
    DropMidStream,
    ErrorMidStream,
    FakeOpenAIServer,
    MalformedChunk,
    Outcome,
    RawBody,
    StallMidStream,
    StreamEnd,
    word_pieces,
)

REPLY = "Tengo dos modelos ideales. ¿Qué presupuesto tienes?"
REQUEST = ReplyRequest(customer_message="Busco un portátil ligero")


async def events_of(assistant: StreamingSalesAssistant) -> list[ReplyDelta | Generated]:
    return [event async for event in assistant.stream_reply(REQUEST)]


def split(events: list[ReplyDelta | Generated]) -> tuple[list[str], Generated]:
    """The deltas' texts and the final ``Generated``, checking that it comes once and last."""
    *deltas, last = events
    assert all(isinstance(delta, ReplyDelta) for delta in deltas)
    assert isinstance(last, Generated)
    return [delta.text for delta in deltas if isinstance(delta, ReplyDelta)], last


async def test_deltas_arrive_in_order_and_join_to_the_whole_reply_with_its_usage(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant()
    assert isinstance(assistant, StreamingSalesAssistant)
    server.enqueue("reply", Completion(REPLY, prompt_tokens=120, completion_tokens=30))

    deltas, generated = split(await events_of(assistant))

    assert len(word_pieces(REPLY)) == 7  # one chunk each
    # a trailing space is held back until text follows it: the pieces join to the stripped text
    assert deltas == [
        "Tengo",
        " dos",
        " modelos",
        " ideales.",
        " ¿Qué",
        " presupuesto",
        " tienes?",
    ]
    assert generated == Generated(text=REPLY, usage=generated.usage)
    assert (generated.usage.prompt_tokens, generated.usage.completion_tokens) == (120, 30)


async def test_a_streamed_reply_sends_the_request_of_a_whole_one_plus_streaming(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant(max_reply_tokens=321)

    whole = await assistant.reply(REQUEST)
    _, streamed = split(await events_of(assistant))

    plain, stream = server.requests
    assert streamed.text == whole.text == f"Reply to: {REQUEST.customer_message}"
    assert (stream.streamed, stream.include_usage, plain.streamed) == (True, True, False)
    assert stream.body.pop("stream") is True
    assert stream.body.pop("stream_options") == {"include_usage": True}
    assert stream.body == plain.body
    assert (stream.model, stream.body["max_completion_tokens"]) == (TEST_MODEL, 321)
    assert stream.headers["authorization"] == f"Bearer {TEST_KEY}"


async def test_pieces_are_handed_out_as_the_server_produces_them(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("reply", StallMidStream(after_chunks=2, seconds=0.4, content=REPLY))
    arrivals: list[tuple[str, float]] = []

    started = time.perf_counter()
    async for event in make_assistant(timeout_s=2.0).stream_reply(REQUEST):
        if isinstance(event, ReplyDelta):
            arrivals.append((event.text, time.perf_counter() - started))
        else:
            generated = event

    assert [text for text, _ in arrivals[:2]] == ["Tengo", " dos"]
    assert arrivals[1][1] < 0.3  # before the pause, not buffered until the end
    assert arrivals[2][1] >= 0.4
    assert generated.text == REPLY


@pytest.mark.parametrize(
    "content",
    ["\n  Hola,  ¿qué tal?  \n", "Hola,  ¿qué tal?", "   Hola,\n\n  ¿qué tal?\t"],
)
async def test_the_streamed_text_is_trimmed_exactly_as_a_whole_reply(
    server: FakeOpenAIServer, make_assistant: MakeAssistant, content: str
) -> None:
    assistant = make_assistant()
    server.enqueue("reply", Completion(content), Completion(content))

    whole = await assistant.reply(REQUEST)
    deltas, streamed = split(await events_of(assistant))

    assert "".join(deltas) == streamed.text == whole.text == content.strip()
    assert all(deltas)


async def test_a_refusal_is_streamed_as_the_reply_like_a_whole_reply(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant()
    refusal = "Lo siento, no puedo ayudar con eso."
    server.enqueue("reply", *[Completion(None, refusal=refusal)] * 2)

    whole = await assistant.reply(REQUEST)
    deltas, streamed = split(await events_of(assistant))

    assert deltas == [refusal]
    assert streamed.text == whole.text == refusal


async def test_usage_missing_from_the_stream_counts_as_zero(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("reply", Completion("Hola", include_usage=False))

    _, generated = split(await events_of(make_assistant()))

    assert generated.text == "Hola"
    assert (generated.usage.prompt_tokens, generated.usage.completion_tokens) == (0, 0)


async def test_send_message_stream_stores_the_exchange_only_once_it_is_complete(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    await chat.stream("Busco un portátil")
    before = chat.snapshot()
    server.enqueue("reply", Completion(REPLY, prompt_tokens=120, completion_tokens=30))

    deltas: list[str] = []
    result: ExchangeResult | None = None
    async for event in chat.send_message.stream(
        user_id=CUSTOMER,
        content="Para diseño gráfico",
        conversation_id=chat.conversation_id,
    ):
        if isinstance(event, ReplyDelta):
            assert chat.snapshot() == before, "stored before the reply was complete"
            deltas.append(event.text)
        else:
            result = event

    assert result is not None
    assert len(deltas) == 7
    assert result.bot_message.content == "".join(deltas) == REPLY
    assert (result.bot_message.prompt_tokens, result.bot_message.completion_tokens) == (120, 30)
    stored = chat.messages
    assert [m.content for m in stored[-2:]] == ["Para diseño gráfico", REPLY]
    assert stored[-1] == result.bot_message
    assert chat.conversation.message_count == 4
    assert chat.store.commits == 2
    assert [r.streamed for r in server.requests_of("reply")] == [True, True]


async def test_a_new_conversation_streams_with_its_title_and_the_threshold_still_distils(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue("title", Completion("Portátil para diseño"))

    first = await chat.stream("Busco un portátil para diseño gráfico")
    for content in ("Unos 1500 euros", "De 14 pulgadas"):
        await chat.stream(content)

    assert first.conversation.title == "Portátil para diseño"
    assert [r.streamed for r in server.requests_of("title")] == [False]
    assert len(server.requests_of("distil")) == 1
    assert chat.conversation.messages_since_context_update == 0
    assert [m.content for m in chat.messages if m.sender == "bot"] == [
        "Reply to: Busco un portátil para diseño gráfico",
        "Reply to: Unos 1500 euros",
        "Reply to: De 14 pulgadas",
    ]


WRONG_SHAPE = b'{"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": 42}}]}'
NO_FINISH = RawBody(
    b'data: {"choices": [{"index": 0, "delta": {"content": "Reply to: a half"}}]}\n\n',
    content_type="text/event-stream",
)

# (outcome of every request, expected error, requests made, deltas handed out before the error):
# every failure of a whole reply, plus the ones that can only happen midway.
STREAM_FAILURES: dict[str, tuple[Outcome, type[AssistantUnavailable], int, int]] = {
    **{name: (*failure, 0) for name, failure in FAILURES.items()},
    "dropped mid-stream": (DropMidStream(after_chunks=2), AssistantUnavailable, 1, 2),
    "malformed chunk mid-stream": (MalformedChunk(after_chunks=2), AssistantUnavailable, 1, 2),
    "chunk of the wrong shape": (
        MalformedChunk(after_chunks=2, data=WRONG_SHAPE),
        AssistantUnavailable,
        1,
        2,
    ),
    "error event mid-stream": (
        ErrorMidStream(after_chunks=2, message=SECRET_BODY),
        AssistantUnavailable,
        1,
        2,
    ),
    "body ends without a finish reason": (NO_FINISH, AssistantUnavailable, 1, 1),
    "stalled mid-stream": (StallMidStream(after_chunks=2, seconds=SLOW_S), AssistantTimeout, 1, 2),
}


@pytest.mark.parametrize("failure", STREAM_FAILURES, ids=list(STREAM_FAILURES))
async def test_a_failing_stream_raises_the_core_error_and_nothing_is_stored(
    server: FakeOpenAIServer, make_assistant: MakeAssistant, failure: str
) -> None:
    outcome, error, attempts, delivered = STREAM_FAILURES[failure]
    chat = Chat(make_assistant(timeout_s=FAILURE_TIMEOUT_S, max_retries=1))
    await chat.stream("Busco una cafetera")
    before = chat.snapshot()
    server.reset()
    server.set_default(outcome)

    deltas: list[str] = []
    started = time.perf_counter()
    with pytest.raises(error) as raised:
        await chat.stream("¿Tienes alguna con molinillo?", deltas)
    elapsed = time.perf_counter() - started

    assert type(raised.value) is error
    assert len(deltas) == delivered  # the error came after these
    assert len(server.requests) == attempts
    assert all(request.streamed for request in server.requests)
    assert elapsed < within_budget(attempts)
    assert chat.snapshot() == before
    message = raised.value.message
    assert SECRET_BODY not in message
    assert TEST_KEY not in message
    assert server.base_url not in message

    server.set_default(None)
    retried = await chat.stream("¿Tienes alguna con molinillo?")
    assert retried.bot_message.content == "Reply to: ¿Tienes alguna con molinillo?"
    assert len(chat.messages) == 4


async def test_the_deadline_bounds_a_stream_that_never_stalls_long_enough_to_time_out(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    # Each wait (3 s) is within timeout_s; the whole stream is not within deadline_s.
    server.set_default(StallMidStream(after_chunks=1, seconds=3.0), kind="reply")
    chat = Chat(make_assistant(timeout_s=SLOW_S, deadline_s=0.3))
    deltas: list[str] = []

    started = time.perf_counter()
    with pytest.raises(AssistantTimeout, match=r"0\.3 seconds"):
        await chat.stream("Busco una cafetera", deltas)
    elapsed = time.perf_counter() - started

    assert 0.3 <= elapsed < 0.3 + SLACK_S  # cut at the deadline, before the stall's 3 s
    assert deltas == ["Reply"]
    assert chat.store.state.conversations == {}
    assert chat.store.commits == 0


async def test_closing_the_stream_early_closes_the_http_stream(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("reply", StallMidStream(after_chunks=1, seconds=SLOW_S, content=REPLY))
    stream = make_assistant(timeout_s=SLOW_S * 2, deadline_s=SLOW_S * 2).stream_reply(REQUEST)

    assert await anext(stream) == ReplyDelta(text="Tengo")
    started = time.perf_counter()
    await stream.aclose()
    ends = await asyncio.to_thread(server.wait_for_stream_ends, 1, SLOW_S / 2)

    assert ends == [StreamEnd.CLIENT_CLOSED]
    assert time.perf_counter() - started < SLOW_S / 2  # not at the stall's end


async def test_a_consumer_that_stops_early_stores_nothing_and_the_server_sees_it_leave(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("reply", StallMidStream(after_chunks=2, seconds=SLOW_S, content=REPLY))
    chat = Chat(make_assistant(timeout_s=SLOW_S * 2, deadline_s=SLOW_S * 2))
    events = chat.send_message.stream(user_id=CUSTOMER, content="Busco un portátil")

    assert await anext(events) == ReplyDelta(text="Tengo")
    started = time.perf_counter()
    await events.aclose()  # what a disconnecting HTTP client does
    ends = await asyncio.to_thread(server.wait_for_stream_ends, 1, SLOW_S / 2)

    assert ends == [StreamEnd.CLIENT_CLOSED]
    assert time.perf_counter() - started < SLOW_S / 2  # not at the stall's end
    assert chat.store.state.conversations == {}
    assert chat.store.commits == 0
    result = await chat.stream("Busco un portátil")  # the adapter and its pool still work
    assert result.bot_message.content == "Reply to: Busco un portátil"
    assert chat.conversation.message_count == 2
