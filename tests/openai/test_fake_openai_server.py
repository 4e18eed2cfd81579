"""The fake OpenAI-compatible server other suites reuse: classification, scripting order,
keep-alive under concurrent load, slow answers not blocking others, stop and restart."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
from openai_support import MakeAssistant

from salesbot_core.domain import Sender, Turn
from salesbot_core.ports import DistillationRequest, ReplyRequest, TitleRequest
from salesbot_core.prompts import distillation_prompt
from salesbot_openai.testing import (
    Completion,
    Delay,
    FakeOpenAIServer,
    HttpError,
    RequestKind,
    classify,
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
    assistant = make_assistant(timeout_s=5.0)
    server.enqueue("reply", Delay(0.8, then=Completion("slow")))

    slow = asyncio.create_task(assistant.reply(ReplyRequest(customer_message="slow")))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    fast = await assistant.reply(ReplyRequest(customer_message="fast"))

    assert time.perf_counter() - started < 0.4
    assert fast.text == "Reply to: fast"
    assert (await slow).text == "slow"


async def test_streaming_requests_are_refused_until_supported(server: FakeOpenAIServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        response = await client.post(
            "/chat/completions", json={"model": "m", "messages": [], "stream": True}
        )
        models = await client.get("/models")
        unknown = await client.post("/embeddings", json={})
        broken = await client.post("/chat/completions", content=b"[1, 2")

    assert response.status_code == 400
    assert "stream" in response.json()["error"]["message"]
    assert models.json()["data"][0]["id"] == "fake-model"
    assert unknown.status_code == 404
    assert broken.status_code == 400
    assert server.requests == []


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
