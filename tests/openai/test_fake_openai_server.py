"""The fake OpenAI-compatible server other suites reuse: classification, scripting order,
keep-alive under concurrent load, slow answers not blocking others, streamed answers and their
scripted failures, stop and restart."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import httpx
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai import AsyncOpenAI
from openai_support import MakeAssistant

from salesbot_core.domain import Sender, Turn
from salesbot_core.ports import DistillationRequest, ReplyRequest, TitleRequest
from salesbot_core.prompts import distillation_prompt
from salesbot_openai.testing import (
    Completion,
    Delay,
    DropMidStream,
    ErrorMidStream,
    FakeOpenAIServer,
    HttpError,
    MalformedChunk,
    Outcome,
    RequestKind,
    StallMidStream,
    StreamEnd,
    classify,
    word_pieces,
)


def test_requests_are_classified_by_what_they_ask_for() -> None:
    distil = distillation_prompt(
        DistillationRequest(previous=None, turns=(Turn(sender=Sender.USER, content="x"),))
    )
    distil_messages = [{"role": m.role, "content": m.content} for m in distil]
    assert classify({"messages": distil_messages}) is RequestKind.DISTIL
    assert classify({"messages": [], "response_format": {"type": "json_object"}}) is (
        RequestKind.DISTIL
    )
    assert classify({"messages": [{"role": "user", "content": "hi"}]}) is RequestKind.REPLY
    assert classify({}) is RequestKind.REPLY


async def test_queued_outcomes_come_first_then_the_kind_default_then_the_builtin(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant()
    server.enqueue("reply", Completion("first"), Completion("second"))
    server.set_default(Completion("kind default"), kind="reply")
    server.set_default(HttpError(400))  # any kind: titles now fail

    texts = [(await assistant.reply(ReplyRequest(customer_message="q"))).text for _ in range(3)]

    assert texts == ["first", "second", "kind default"]
    assert server.pending("reply") == 0
    server.set_default(None, kind="reply")
    server.set_default(None)
    assert (await assistant.reply(ReplyRequest(customer_message="q"))).text == "Reply to: q"
    title = await assistant.title(TitleRequest(first_message="una bici eléctrica plegable"))
    assert title.text == "Title: una bici eléctrica"


async def test_it_serves_concurrent_load_over_kept_alive_connections(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant()
    connections_before = server.connections_opened
    concurrency, total = 25, 400
    gate = asyncio.Semaphore(concurrency)

    async def one(n: int) -> str:
        async with gate:
            return (await assistant.reply(ReplyRequest(customer_message=f"m{n}"))).text

    started = time.perf_counter()
    answers = await asyncio.gather(*(one(n) for n in range(total)))
    elapsed = time.perf_counter() - started

    assert answers == [f"Reply to: m{n}" for n in range(total)]
    assert len(server.requests) == total
    assert server.connections_opened - connections_before <= concurrency
    assert elapsed < 10, f"{total / elapsed:.0f} requests/s"


async def test_a_slow_answer_does_not_hold_up_other_requests(
    server: FakeOpenAIServer, make_assistant: MakeAssistant
) -> None:
    assistant = make_assistant(timeout_s=30.0, deadline_s=30.0)
    server.enqueue("reply", Delay(5.0, then=Completion("slow")))

    slow = asyncio.create_task(assistant.reply(ReplyRequest(customer_message="slow")))
    await asyncio.to_thread(server.wait_for_requests, 1, 10.0)  # the slow one is being answered
    fast = await assistant.reply(ReplyRequest(customer_message="fast"))

    assert not slow.done()  # the fast answer came while the slow one was still awaited
    assert fast.text == "Reply to: fast"
    assert (await slow).text == "slow"


async def test_without_recording_it_answers_the_same_and_keeps_nothing() -> None:
    """``record=False`` is for long load runs: answers as usual, memory stays flat."""
    with FakeOpenAIServer(record=False) as quiet:
        client = AsyncOpenAI(api_key="test", base_url=quiet.base_url)
        try:
            for n in range(3):
                completion = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": f"hi {n}"}]
                )
                assert completion.choices[0].message.content == f"Reply to: hi {n}"
        finally:
            await client.close()
        assert quiet.requests == []


async def test_other_paths_and_bodies_are_refused(server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        models = await client.get("/models")
        unknown = await client.post("/embeddings", json={})
        broken = await client.post("/chat/completions", content=b"[1, 2")

    assert models.json()["data"][0]["id"] == "fake-model"
    assert unknown.status_code == 404
    assert broken.status_code == 400
    assert server.requests == []


async def stream_events(server: FakeOpenAIServer, **body: Any) -> tuple[httpx.Response, list[str]]:
    """POST a streamed request; the response and the data of each event."""
    request = {"model": "m", "messages": [{"role": "user", "content": "hola que tal"}], **body}
    async with (
        httpx.AsyncClient(base_url=server.base_url) as client,
        client.stream("POST", "/chat/completions", json={"stream": True, **request}) as response,
    ):
        text = "".join([part async for part in response.aiter_text()])
    assert text.endswith("\n\n")
    events = text.removesuffix("\n\n").split("\n\n")
    assert all(event.startswith("data: ") for event in events), events
    return response, [event.removeprefix("data: ") for event in events]


async def test_a_streamed_request_gets_chunks_as_server_sent_events(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue("reply", Completion("Hola,  ¿qué\ntal? ", prompt_tokens=7, completion_tokens=4))

    response, events = await stream_events(server, stream_options={"include_usage": True})

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["transfer-encoding"] == "chunked"
    assert events[-1] == "[DONE]"
    chunks = [msgspec.json.decode(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    pieces = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-2]]
    assert pieces == ["Hola,  ", "¿qué\n", "tal? "]
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    (request,) = server.requests
    assert (request.kind, request.streamed, request.include_usage) == ("reply", True, True)
    assert server.wait_for_stream_ends(1) == [StreamEnd.COMPLETE]


async def test_a_stream_sends_usage_only_when_asked_for(server: FakeOpenAIServer) -> None:
    _, events = await stream_events(server)

    chunks = [msgspec.json.decode(event) for event in events[:-1]]
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    pieces = [chunk["choices"][0]["delta"].get("content", "") for chunk in chunks]
    assert "".join(pieces) == "Reply to: hola que tal"
    assert server.requests[0].include_usage is False


async def test_mid_stream_outcomes_break_a_stream_after_the_pieces_asked_for(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue(
        "reply",
        MalformedChunk(after_chunks=2, content="uno dos tres"),
        ErrorMidStream(after_chunks=1, message="boom"),
    )

    _, malformed = await stream_events(server)
    _, errored = await stream_events(server)

    contents = [msgspec.json.decode(event)["choices"][0]["delta"] for event in malformed[1:3]]
    assert contents == [{"content": "uno "}, {"content": "dos "}]
    assert malformed[3] == MalformedChunk().data.decode()
    assert malformed[-1] == "[DONE]"  # the rest follows as if nothing happened
    assert len(errored) == 3
    assert msgspec.json.decode(errored[-1])["error"]["message"] == "boom"


async def test_a_dropped_stream_ends_the_body_midway(server: FakeOpenAIServer) -> None:
    server.enqueue("reply", DropMidStream(after_chunks=1))

    with pytest.raises(httpx.RemoteProtocolError):
        await stream_events(server)

    assert server.wait_for_stream_ends(1) == [StreamEnd.DROPPED]


@pytest.mark.parametrize(
    ("outcome", "status", "body"),
    [
        (MalformedChunk(), 200, MalformedChunk().data),
        (ErrorMidStream(message="boom"), 500, b"boom"),
        (StallMidStream(seconds=0.2, content="late"), 200, b'"content":"late"'),
    ],
    ids=["malformed", "error", "stall"],
)
async def test_mid_stream_outcomes_answer_a_plain_request_with_the_nearest_failure(
    server: FakeOpenAIServer, outcome: Outcome, status: int, body: bytes
) -> None:
    server.enqueue("reply", outcome)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post("/chat/completions", json={"model": "m", "messages": []})

    assert response.status_code == status
    assert body in response.content
    if isinstance(outcome, StallMidStream):
        assert time.perf_counter() - started >= outcome.seconds
    assert server.stream_ends == []


async def test_a_plain_request_scripted_to_drop_mid_stream_is_disconnected(
    server: FakeOpenAIServer,
) -> None:
    server.enqueue("reply", DropMidStream())
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/chat/completions", json={"model": "m", "messages": []})


async def test_streams_reuse_kept_alive_connections(server: FakeOpenAIServer) -> None:
    connections_before = server.connections_opened

    async with AsyncOpenAI(api_key="k", base_url=server.base_url, max_retries=0) as client:
        for n in range(20):
            stream = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"m{n}"}], stream=True
            )
            pieces = [chunk.choices[0].delta.content or "" async for chunk in stream]
            assert "".join(pieces) == f"Reply to: m{n}"

    assert server.connections_opened - connections_before == 1
    assert server.wait_for_stream_ends(20) == [StreamEnd.COMPLETE] * 20


@given(st.text(alphabet=" \n\tab¿é,", max_size=30))
def test_word_pieces_join_back_and_hold_one_word_each(text: str) -> None:
    pieces = word_pieces(text)

    assert "".join(pieces) == text
    assert all(piece for piece in pieces)
    assert all(len(piece.split()) <= 1 for piece in pieces)
    assert all(not piece[:1].isspace() for piece in pieces[1:])


def test_a_stopped_server_refuses_connections_and_restarts_on_its_port() -> None:
    server = FakeOpenAIServer().start()
    port = server.port
    server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass
    with server:
        assert server.port == port
        response = httpx.post(
            f"{server.base_url}/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "again"}]},
        )
        assert response.json()["choices"][0]["message"]["content"] == "Reply to: again"
