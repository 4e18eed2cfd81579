"""Each way the LLM can fail ends in the core's error within the configured budget, and the
exchange leaves nothing stored: the same request can be sent again."""

from __future__ import annotations

import time

import msgspec
import pytest
from openai_support import (
    FAILURE_TIMEOUT_S,
    FAILURES,
    SECRET_BODY,
    SLACK_S,
    TEST_KEY,
    Chat,
    MakeAssistant,
    within_budget,
)

from salesbot_core.errors import AssistantTimeout, AssistantUnavailable, InvalidMetadataAnswer
from salesbot_core.ports import DistillationRequest, ReplyRequest
from salesbot_openai import HttpClient, OpenAIConfig, OpenAISalesAssistant
from salesbot_openai.testing import Completion, FakeOpenAIServer, HttpError, NotHttp, RawBody


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
async def test_a_failing_llm_raises_the_core_error_and_nothing_is_stored(
    server: FakeOpenAIServer, make_assistant: MakeAssistant, failure: str
) -> None:
    outcome, error, attempts = FAILURES[failure]
    chat = Chat(make_assistant(timeout_s=FAILURE_TIMEOUT_S, max_retries=1))
    await chat.send("Busco una cafetera")
    before = chat.snapshot()
    server.reset()
    server.set_default(outcome)

    started = time.perf_counter()
    with pytest.raises(error) as raised:
        await chat.send("¿Tienes alguna con molinillo?")
    elapsed = time.perf_counter() - started

    assert type(raised.value) is error
    assert len(server.requests) == attempts
    assert elapsed < within_budget(attempts)
    assert chat.snapshot() == before
    message = raised.value.message
    assert SECRET_BODY not in message
    assert TEST_KEY not in message
    assert server.base_url not in message

    server.set_default(None)
    retried = await chat.send("¿Tienes alguna con molinillo?")
    assert retried.bot_message.content == "Reply to: ¿Tienes alguna con molinillo?"
    assert len(chat.messages) == 4


async def test_a_failure_on_a_new_conversation_stores_no_conversation(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.set_default(HttpError(500), kind="reply")

    with pytest.raises(AssistantUnavailable, match="HTTP 500"):
        await chat.send("Busco una cafetera")

    assert chat.store.state.conversations == {}
    assert chat.store.commits == 0


async def test_connection_refused_is_unavailable_within_the_budget(
    http_client: HttpClient,
) -> None:
    with FakeOpenAIServer() as stopped:
        base_url = stopped.base_url
    assistant = OpenAISalesAssistant.from_config(
        OpenAIConfig(
            api_key=TEST_KEY,
            base_url=base_url,
            timeout_s=FAILURE_TIMEOUT_S,
            max_retries=1,
            http_client=http_client,
        )
    )
    chat = Chat(assistant)
    try:
        started = time.perf_counter()
        with pytest.raises(AssistantUnavailable, match="cannot be reached") as raised:
            await chat.send("Busco una cafetera")
        assert time.perf_counter() - started < within_budget(2)
    finally:
        await assistant.aclose()
    assert type(raised.value) is AssistantUnavailable
    assert chat.store.state.conversations == {}


async def test_the_deadline_caps_retries_the_server_asks_to_delay(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    # The SDK would obey a Retry-After of up to two minutes; the deadline cuts the call short.
    server.set_default(HttpError(429, retry_after_ms=60_000))
    chat = Chat(make_assistant(max_retries=2, deadline_s=0.3))

    started = time.perf_counter()
    with pytest.raises(AssistantTimeout, match=r"0\.3 seconds"):
        await chat.send("Busco una cafetera")

    assert time.perf_counter() - started < 0.3 + SLACK_S  # not the minute the server asked
    assert len(server.requests_of("reply")) == 1  # the SDK was sleeping before its retry
    assert chat.store.state.conversations == {}


async def test_a_failed_distillation_call_keeps_the_metadata_and_the_exchange(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.set_default(HttpError(500), kind="distil")

    for content in ("Busco una cafetera", "De cápsulas no", "Menos de 200 euros"):
        result = await chat.send(content)

    assert result.bot_message.content == "Reply to: Menos de 200 euros"
    assert chat.conversation.metadata is None
    assert chat.conversation.messages_since_context_update == 6
    assert len(server.requests_of("distil")) == 2  # one call and the SDK's retry, no core retry


async def test_a_refused_metadata_answer_is_an_invalid_answer(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("distil", Completion(None, refusal="I can't help with that."))

    with pytest.raises(InvalidMetadataAnswer):
        await make_assistant().distil(DistillationRequest(previous=None, turns=()))


async def test_a_title_without_usable_text_falls_back_to_the_message(
    server: FakeOpenAIServer, chat: Chat
) -> None:
    server.enqueue("title", Completion("  \n "))

    result = await chat.send("Quiero una bici eléctrica")

    assert result.conversation.title == "Quiero una bici eléctrica"


async def test_usage_missing_from_the_answer_counts_as_zero(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    server.enqueue("reply", Completion("Hola", include_usage=False))
    server.enqueue("reply", RawBody(msgspec.json.encode(_completion_with_null_usage())))

    first = await make_assistant().reply(ReplyRequest(customer_message="Hola"))
    second = await make_assistant().reply(ReplyRequest(customer_message="Hola"))

    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (0, 0)
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (0, 0)
    assert second.text == "Hola de nuevo"


def _completion_with_null_usage() -> dict[str, object]:
    return {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hola de nuevo"}}],
        "usage": {"prompt_tokens": None, "completion_tokens": None},
    }


def test_the_config_repr_hides_the_key_and_bad_values_are_refused() -> None:
    config = OpenAIConfig(api_key=TEST_KEY)
    assert TEST_KEY not in repr(config)
    assert TEST_KEY not in str(config)
    assert config.effective_base_url == "https://api.openai.com/v1"
    assert (config.model, config.timeout_s, config.max_retries) == ("gpt-4o-mini", 10.0, 2)
    for bad in ({"api_key": ""}, {"timeout_s": 0}, {"max_retries": -1}, {"max_reply_tokens": 0}):
        with pytest.raises(ValueError):  # noqa: PT011 - each names its own field
            OpenAIConfig(**{"api_key": TEST_KEY, **bad})


async def test_an_answer_that_is_not_http_is_unavailable(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    """The transport's own parse error (aiohttp's is not one the SDK wraps) still leaves as the
    core's error, and nothing is stored."""
    chat = Chat(make_assistant(timeout_s=FAILURE_TIMEOUT_S, max_retries=1))
    await chat.send("Busco una cafetera")
    before = chat.snapshot()
    server.set_default(NotHttp())

    with pytest.raises(AssistantUnavailable) as raised:
        await chat.send("¿Tienes alguna con molinillo?")
    with pytest.raises(AssistantUnavailable):
        await chat.stream("¿Y una tetera?")

    assert type(raised.value) is AssistantUnavailable
    assert chat.snapshot() == before
    server.set_default(None)
    assert (await chat.send("¿Y una tetera?")).bot_message.content == "Reply to: ¿Y una tetera?"
