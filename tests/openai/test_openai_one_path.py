"""One request path for every call: the same body (a streamed reply adds only ``stream`` and its
usage option), the same headers, and every failure classified the same way, logged the same way,
whether the reply is streamed or not. Titles come back as the model wrote them: the core cleans
them."""

from __future__ import annotations

import logging

import pytest
from openai_support import FAILURE_TIMEOUT_S, FAILURES, MakeAssistant

from salesbot_core.errors import AssistantUnavailable
from salesbot_core.ports import DistillationRequest, ReplyRequest, TitleRequest
from salesbot_openai import OpenAISalesAssistant
from salesbot_openai.testing import Completion, FakeOpenAIServer

REQUEST = ReplyRequest(customer_message="Busco un portátil ligero")
LOGGER = "salesbot_openai.assistant"
VOLATILE_HEADERS = {"content-length", "x-stainless-read-timeout"}


async def stream_to_the_end(assistant: OpenAISalesAssistant) -> None:
    async for _ in assistant.stream_reply(REQUEST):
        pass


async def failure_of_reply(
    make_assistant: MakeAssistant, caplog: pytest.LogCaptureFixture, *, streamed: bool
) -> tuple[type[AssistantUnavailable], str, list[str]]:
    """The error a reply fails with, its message, and the logged lines' templates (which say
    how the failure was classified)."""
    assistant = make_assistant(timeout_s=FAILURE_TIMEOUT_S, max_retries=1)
    call = stream_to_the_end(assistant) if streamed else assistant.reply(REQUEST)
    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger=LOGGER),
        pytest.raises(AssistantUnavailable) as raised,
    ):
        await call
    logged = [str(record.msg) for record in caplog.records if record.name == LOGGER]
    return type(raised.value), raised.value.message, logged


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
async def test_a_failure_is_the_same_error_with_the_same_log_streamed_or_not(
    server: FakeOpenAIServer,
    make_assistant: MakeAssistant,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    outcome, error, attempts = FAILURES[failure]
    server.set_default(outcome)

    whole = await failure_of_reply(make_assistant, caplog, streamed=False)
    streamed = await failure_of_reply(make_assistant, caplog, streamed=True)

    assert whole[0] is error
    assert streamed == whole
    assert len(whole[2]) == 1
    plain, stream = server.requests[0], server.requests[attempts]
    assert (plain.streamed, stream.streamed) == (False, True)
    assert len(server.requests) == 2 * attempts


async def test_every_call_sends_the_same_request_but_for_what_it_asks(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant(max_reply_tokens=300, max_title_tokens=20, max_metadata_tokens=400)

    await assistant.reply(REQUEST)
    await stream_to_the_end(assistant)
    await assistant.title(TitleRequest(first_message="Busco un portátil ligero"))
    await assistant.distil(DistillationRequest(previous=None, turns=()))

    reply, streamed, title, distil = server.requests
    assert set(reply.body) == set(title.body) == {"model", "messages", "max_completion_tokens"}
    assert set(streamed.body) == set(reply.body) | {"stream", "stream_options"}
    assert set(distil.body) == set(reply.body) | {"response_format"}
    tokens = [r.body["max_completion_tokens"] for r in (reply, streamed, title, distil)]
    assert tokens == [300, 300, 20, 400]
    headers = [
        {name: value for name, value in r.headers.items() if name not in VOLATILE_HEADERS}
        for r in server.requests
    ]
    assert headers[1:] == headers[:1] * 3


async def test_a_title_is_the_models_answer_as_it_came(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    answer = '"Portátil ligero para diseño gráfico profesional hoy."'
    server.enqueue("title", Completion(answer, prompt_tokens=12, completion_tokens=9))

    title = await make_assistant().title(TitleRequest(first_message="Hola"))

    assert title.text == answer
    assert (title.usage.prompt_tokens, title.usage.completion_tokens) == (12, 9)
