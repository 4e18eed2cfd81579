"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` on 127.0.0.1, scriptable.

It is an asyncio server (HTTP/1.1 with keep-alive, standard library only) on its own event loop
in a background thread, so sync and async tests, a Litestar test client on another loop and a
load benchmark can all use it. Every request is recorded and classified as a reply, title or
distillation call; answers come from per-kind queues, then per-kind or global defaults, then a
deterministic built-in answer.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
import time
from collections import deque
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import msgspec

from salesbot_core.prompts import DISTIL_RULES, TITLE_RULES
from salesbot_openai.testing.outcomes import (
    Completion,
    Delay,
    Disconnect,
    HttpError,
    Outcome,
    RawBody,
    RequestKind,
)

CHAT_COMPLETIONS_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"


class RecordedRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One request as the server received it (headers lower-cased, JSON body decoded)."""

    kind: RequestKind
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def model(self) -> str | None:
        model = self.body.get("model")
        return model if isinstance(model, str) else None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def response_format(self) -> dict[str, Any] | None:
        response_format = self.body.get("response_format")
        return response_format if isinstance(response_format, dict) else None

    @property
    def prompt_text(self) -> str:
        """Every message's text, joined: what a test searches for leaked or expected content."""
        return "\n".join(_text(message.get("content")) for message in self.messages)


class _HttpResponse(msgspec.Struct, frozen=True, kw_only=True):
    # A streamed (SSE) answer would add a chunk iterator here, written with
    # ``Transfer-Encoding: chunked``; ``_write`` is the only place that would change.
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def classify(body: dict[str, Any]) -> RequestKind:
    """Distillation asks for a ``response_format`` (or carries the distillation rules); a title
    request carries the title rules as its system prompt; anything else is a reply."""
    if body.get("response_format") is not None:
        return RequestKind.DISTIL
    messages = body.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else {}
    system = _text(first.get("content")) if isinstance(first, dict) else ""
    if system == DISTIL_RULES:
        return RequestKind.DISTIL
    if system == TITLE_RULES:
        return RequestKind.TITLE
    return RequestKind.REPLY


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def _last_user_text(body: dict[str, Any]) -> str:
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _text(message.get("content"))
    return ""


def default_answer(kind: RequestKind, body: dict[str, Any]) -> str:
    """The deterministic answer when nothing was scripted.

    A reply echoes the customer (``Reply to: <message>``); a title is ``Title: <first three
    words>``; metadata lists each customer line of the transcript (first 40 characters) as an
    interest, status ``interested``, the last line as the intent."""
    last = _last_user_text(body)
    if kind is RequestKind.REPLY:
        return f"Reply to: {last}"
    if kind is RequestKind.TITLE:
        return "Title: " + " ".join(last.split()[:3])
    customer_lines = [
        line.removeprefix("Customer: ").strip()
        for line in last.splitlines()
        if line.startswith("Customer: ")
    ]
    metadata = {
        "interests": [line[:40] for line in customer_lines],
        "offeredProducts": [],
        "rejectedProducts": [],
        "saleStatus": "interested",
        "lastIntent": customer_lines[-1][:60] if customer_lines else None,
    }
    return msgspec.json.encode(metadata).decode()


def _error(status: int, message: str, extra: tuple[tuple[str, str], ...] = ()) -> _HttpResponse:
    error_type = "rate_limit_exceeded" if status == 429 else "fake_error"
    body = {"error": {"message": message, "type": error_type, "param": None, "code": error_type}}
    return _HttpResponse(status=status, body=msgspec.json.encode(body), headers=extra)


class FakeOpenAIServer:
    """An OpenAI-compatible server for tests and benchmarks.

    Use as ``with FakeOpenAIServer() as server:`` (or ``async with``), point the SDK at
    ``server.base_url``, script answers with ``enqueue(kind, *outcomes)`` (one per request of
    that kind, in order) or ``set_default(outcome, kind=None)`` (every request without a queued
    outcome), read ``requests`` afterwards. ``stop()`` makes the port refuse connections;
    ``start()`` again reopens it on the same port.
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queues: dict[RequestKind, deque[Outcome]] = {kind: deque() for kind in RequestKind}
        self._defaults: dict[RequestKind | None, Outcome] = {}
        self._ids = itertools.count(1)
        self._connections_opened = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ scripting and records
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what ``OPENAI_BASE_URL`` would be."""
        if not self._port:
            raise RuntimeError("the fake server has not been started")
        return f"http://{self._host}:{self._port}/v1"

    @property
    def port(self) -> int:
        return self._port

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since start (or ``reset()``), oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_of(self, kind: RequestKind | str) -> list[RecordedRequest]:
        wanted = RequestKind(kind)
        return [request for request in self.requests if request.kind is wanted]

    @property
    def connections_opened(self) -> int:
        """TCP connections accepted so far: with keep-alive far fewer than requests."""
        with self._lock:
            return self._connections_opened

    def enqueue(self, kind: RequestKind | str, *outcomes: Outcome) -> None:
        """Answer the next requests of ``kind`` with these outcomes, in order (a retried request
        takes the next one)."""
        with self._lock:
            self._queues[RequestKind(kind)].extend(outcomes)

    def set_default(self, outcome: Outcome | None, kind: RequestKind | str | None = None) -> None:
        """Answer every request of ``kind`` (None: of any kind) that has nothing queued with
        ``outcome``; None restores the built-in deterministic answer."""
        key = None if kind is None else RequestKind(kind)
        with self._lock:
            if outcome is None:
                self._defaults.pop(key, None)
            else:
                self._defaults[key] = outcome

    def pending(self, kind: RequestKind | str) -> int:
        """Queued outcomes of ``kind`` not used yet."""
        with self._lock:
            return len(self._queues[RequestKind(kind)])

    def reset(self) -> None:
        """Forget requests, queues and defaults (between tests sharing one server)."""
        with self._lock:
            self._requests.clear()
            for queue in self._queues.values():
                queue.clear()
            self._defaults.clear()

    def _take(self, request: RecordedRequest) -> Outcome | None:
        with self._lock:
            self._requests.append(request)
            queue = self._queues[request.kind]
            if queue:
                return queue.popleft()
            return self._defaults.get(request.kind, self._defaults.get(None))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("the fake server is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._open(), loop).result(timeout=10)
        except BaseException:
            self._halt_loop()
            raise
        return self

    def stop(self) -> None:
        """Close the listening socket and every connection; the port then refuses connections."""
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        finally:
            self._halt_loop()

    def _halt_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, reuse_address=True, backlog=1024
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # ------------------------------------------------------------------ HTTP
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        with self._lock:
            self._connections_opened += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # Only ``stop()`` cancels a handler. Ending normally keeps Python 3.11's stream
            # protocol from logging the cancellation as an unhandled error.
            pass
        finally:
            writer.close()
            if task is not None:
                self._handlers.discard(task)

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection should close."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, path, version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._write(writer, _error(411, "send a Content-Length"), keep_alive=False)
            return False
        body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        response = await self._answer(method, path.split("?", 1)[0], headers, body)
        if response is None:
            return False
        await self._write(writer, response, keep_alive=keep_alive)
        return keep_alive

    async def _write(
        self, writer: asyncio.StreamWriter, response: _HttpResponse, *, keep_alive: bool
    ) -> None:
        phrase = HTTPStatus(response.status).phrase
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in response.headers),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + response.body)
        await writer.drain()

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes
    ) -> _HttpResponse | None:
        if path == MODELS_PATH and method == "GET":
            models = {"object": "list", "data": [{"id": "fake-model", "object": "model"}]}
            return _HttpResponse(status=200, body=msgspec.json.encode(models))
        if path != CHAT_COMPLETIONS_PATH:
            return _error(404, f"unknown path {path}")
        if method != "POST":
            return _error(405, "use POST")
        try:
            body = msgspec.json.decode(raw_body)
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            return _error(400, "the request body is not a JSON object")
        if body.get("stream"):
            return _error(400, "the fake server does not stream yet (stream: true)")
        kind = classify(body)
        request = RecordedRequest(kind=kind, method=method, path=path, headers=headers, body=body)
        outcome = self._take(request)
        if isinstance(outcome, Delay):
            await asyncio.sleep(outcome.seconds)
            outcome = outcome.then
        return self._render(outcome, kind, body)

    def _render(
        self, outcome: Outcome | None, kind: RequestKind, body: dict[str, Any]
    ) -> _HttpResponse | None:
        match outcome:
            case Disconnect():
                return None
            case HttpError(status=status, message=message, retry_after_ms=retry_after_ms):
                extra = () if retry_after_ms is None else (("retry-after-ms", str(retry_after_ms)),)
                return _error(status, message, extra)
            case RawBody(body=raw, status=status, content_type=content_type):
                return _HttpResponse(status=status, body=raw, content_type=content_type)
            case Completion():
                return self._completion(outcome, body)
            case _:
                return self._completion(Completion(default_answer(kind, body)), body)

    def _completion(self, completion: Completion, body: dict[str, Any]) -> _HttpResponse:
        content = completion.content
        prompt_text = "".join(_text(m.get("content")) for m in body.get("messages", ()))
        payload: dict[str, Any] = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake-model"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": completion.refusal,
                    },
                    "logprobs": None,
                    "finish_reason": completion.finish_reason,
                }
            ],
        }
        if completion.include_usage:
            prompt_tokens = (
                completion.prompt_tokens
                if completion.prompt_tokens is not None
                else _estimate_tokens(prompt_text)
            )
            completion_tokens = (
                completion.completion_tokens
                if completion.completion_tokens is not None
                else _estimate_tokens(content or "")
            )
            payload["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return _HttpResponse(status=200, body=msgspec.json.encode(payload))
