"""A fake OpenAI-compatible server: ``POST /v1/chat/completions`` on 127.0.0.1, scriptable.

It is an asyncio server (HTTP/1.1 with keep-alive, standard library only) on its own event loop
in a background thread, so sync and async tests, a Litestar test client on another loop and a
load benchmark can all use it. Every request is recorded and classified as a reply, title or
distillation call; answers come from per-kind queues, then per-kind or global defaults, then a
deterministic built-in answer. A request with ``stream: true`` gets its answer as Server-Sent
Events in the Chat Completions chunk format (``Transfer-Encoding: chunked``).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self

import msgspec

from salesbot_core.prompts import DISTIL_RULES, TITLE_RULES
from salesbot_openai.testing.outcomes import (
    Completion,
    Delay,
    Disconnect,
    DropMidStream,
    ErrorMidStream,
    HttpError,
    MalformedChunk,
    MidStream,
    NotHttp,
    Outcome,
    RawBody,
    RequestKind,
    StallMidStream,
    StreamEnd,
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
    def streamed(self) -> bool:
        """Whether the request asked for a streamed answer (``stream: true``)."""
        return self.body.get("stream") is True

    @property
    def include_usage(self) -> bool:
        """Whether a streamed request asked for a final usage chunk (``stream_options``)."""
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    @property
    def prompt_text(self) -> str:
        """Every message's text, joined: what a test searches for leaked or expected content."""
        return "\n".join(_text(message.get("content")) for message in self.messages)


class _HttpResponse(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Pause:
    seconds: float


@dataclass(frozen=True)
class _Drop:
    pass


# One step of a streamed answer: an SSE event to send, a pause, or dropping the connection.
_Step = bytes | _Pause | _Drop


@dataclass(frozen=True)
class _StreamedResponse:
    """A 200 ``text/event-stream`` answer, written step by step with chunked encoding."""

    steps: tuple[_Step, ...]


_WORD_START = re.compile(r"(?<=\s)(?=\S)")


def word_pieces(text: str) -> list[str]:
    """``text`` split before each word, whitespace kept: the pieces join back to ``text``."""
    return [piece for piece in _WORD_START.split(text) if piece]


def _event(payload: object) -> bytes:
    return b"data: " + msgspec.json.encode(payload) + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


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


def _plain(outcome: MidStream) -> Outcome:
    """What a mid-stream outcome answers to a request that does not stream."""
    match outcome:
        case DropMidStream():
            return Disconnect()
        case MalformedChunk(data=data):
            return RawBody(data)
        case StallMidStream(seconds=seconds, content=content):
            return Delay(seconds, then=None if content is None else Completion(content))
        case ErrorMidStream(message=message):
            return HttpError(500, message)


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

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, record: bool = True) -> None:
        """``record=False`` keeps no request (``requests`` stays empty), for long load runs."""
        self._host = host
        self._port = port
        self._record = record
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
        self._stream_ends: list[StreamEnd] = []
        self._stream_ended = threading.Condition(self._lock)
        self._request_seen = threading.Condition(self._lock)
        self._generation = 0  # bumped by ``reset()``

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

    @property
    def stream_ends(self) -> list[StreamEnd]:
        """How each streamed answer ended, in the order they ended."""
        with self._lock:
            return list(self._stream_ends)

    def wait_for_stream_ends(self, count: int = 1, timeout: float = 5.0) -> list[StreamEnd]:
        """Block until ``count`` streamed answers have ended (``TimeoutError`` after ``timeout``
        seconds) and return how each ended. From async code: ``await asyncio.to_thread(...)``."""
        with self._stream_ended:
            if not self._stream_ended.wait_for(lambda: len(self._stream_ends) >= count, timeout):
                raise TimeoutError(f"{len(self._stream_ends)} of {count} streams ended in time")
            return list(self._stream_ends)

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until ``count`` requests have been recorded (``TimeoutError`` after ``timeout``
        seconds) and return them. From async code: ``await asyncio.to_thread(...)``."""
        with self._request_seen:
            if not self._request_seen.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests came in time")
            return list(self._requests)

    def _stream_ended_as(self, end: StreamEnd, generation: int) -> None:
        with self._stream_ended:
            if generation == self._generation:  # not a stream from before ``reset()``
                self._stream_ends.append(end)
                self._stream_ended.notify_all()

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
        """Forget requests, queues, defaults and stream ends (between tests sharing one
        server); a stream still running then is not recorded when it ends."""
        with self._lock:
            self._requests.clear()
            self._stream_ends.clear()
            self._generation += 1
            for queue in self._queues.values():
                queue.clear()
            self._defaults.clear()

    def _take(self, request: RecordedRequest) -> Outcome | None:
        with self._lock:
            if self._record:
                self._requests.append(request)
                self._request_seen.notify_all()
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
        if isinstance(response, _StreamedResponse):
            return await self._write_stream(reader, writer, response, keep_alive=keep_alive)
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

    async def _write_stream(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        response: _StreamedResponse,
        *,
        keep_alive: bool,
    ) -> bool:
        """Send the steps, watching for the client closing the connection meanwhile (even during
        a pause); record how the stream ended. True when the connection can take a next request."""
        lines = [
            "HTTP/1.1 200 OK",
            "Content-Type: text/event-stream; charset=utf-8",
            "Cache-Control: no-cache",
            "Transfer-Encoding: chunked",
            f"Connection: {'keep-alive' if keep_alive else 'close'}",
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        generation = self._generation
        sending = asyncio.create_task(self._send_steps(writer, response.steps))
        # A client does not send while an answer is coming (no pipelining), so anything read
        # now is the end of the connection: EOF, or data we then refuse by closing.
        watching = asyncio.create_task(reader.read(1))
        try:
            await asyncio.wait((sending, watching), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sending, watching):
                task.cancel()
            await asyncio.gather(sending, watching, return_exceptions=True)
        end = StreamEnd.CLIENT_CLOSED
        if sending.done() and not sending.cancelled():
            error = sending.exception()
            if error is None:
                end = sending.result()
            elif not isinstance(error, ConnectionError):
                raise error
        self._stream_ended_as(end, generation)
        client_spoke = not watching.cancelled()  # EOF, or data a client may not send yet
        return keep_alive and end is StreamEnd.COMPLETE and not client_spoke

    @staticmethod
    async def _send_steps(writer: asyncio.StreamWriter, steps: tuple[_Step, ...]) -> StreamEnd:
        for step in steps:
            match step:
                case bytes():
                    writer.write(f"{len(step):X}\r\n".encode("latin-1") + step + b"\r\n")
                    await writer.drain()
                case _Pause(seconds=seconds):
                    await asyncio.sleep(seconds)
                case _Drop():
                    writer.close()  # mid-body: the client sees an incomplete chunked body
                    return StreamEnd.DROPPED
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return StreamEnd.COMPLETE

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], raw_body: bytes
    ) -> _HttpResponse | _StreamedResponse | None:
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
        kind = classify(body)
        request = RecordedRequest(kind=kind, method=method, path=path, headers=headers, body=body)
        outcome = self._take(request)
        if isinstance(outcome, DropMidStream | MalformedChunk | StallMidStream | ErrorMidStream):
            if request.streamed:
                return self._stream(outcome, request)
            outcome = _plain(outcome)
        if isinstance(outcome, Delay):
            await asyncio.sleep(outcome.seconds)
            outcome = outcome.then
        if request.streamed and (outcome is None or isinstance(outcome, Completion)):
            completion = outcome or Completion(default_answer(kind, body))
            return _StreamedResponse(steps=self._chunks(completion, request).complete())
        return self._render(outcome, kind, body)

    def _stream(self, outcome: MidStream, request: RecordedRequest) -> _StreamedResponse:
        content = outcome.content
        if content is None:
            content = default_answer(request.kind, request.body)
        chunks = self._chunks(Completion(content), request)
        head, tail = chunks.split(outcome.after_chunks)
        middle: tuple[_Step, ...]
        match outcome:
            case DropMidStream():
                middle, tail = (_Drop(),), ()
            case MalformedChunk(data=data):
                middle = (b"data: " + data + b"\n\n",)
            case StallMidStream(seconds=seconds):
                middle = (_Pause(seconds),)
            case ErrorMidStream(message=message):
                error = {"message": message, "type": "server_error", "param": None, "code": None}
                middle, tail = (_event({"error": error}),), ()
        return _StreamedResponse(steps=(*head, *middle, *tail))

    def _chunks(self, completion: Completion, request: RecordedRequest) -> _Chunks:
        return _Chunks(
            completion=completion,
            request=request,
            id=f"chatcmpl-fake-{next(self._ids)}",
            usage=self._usage(completion, request.body) if request.include_usage else None,
        )

    def _render(
        self, outcome: Outcome | None, kind: RequestKind, body: dict[str, Any]
    ) -> _HttpResponse | None:
        match outcome:
            case Disconnect():
                return None
            case NotHttp():
                return _HttpResponse(status=200, body=b"{}", headers=(("not a header", "x"),))
            case HttpError(status=status, message=message, retry_after_ms=retry_after_ms):
                extra = () if retry_after_ms is None else (("retry-after-ms", str(retry_after_ms)),)
                return _error(status, message, extra)
            case RawBody(body=raw, status=status, content_type=content_type):
                return _HttpResponse(status=status, body=raw, content_type=content_type)
            case Completion():
                return self._completion(outcome, body)
            case _:
                return self._completion(Completion(default_answer(kind, body)), body)

    @staticmethod
    def _usage(completion: Completion, body: dict[str, Any]) -> dict[str, int] | None:
        if not completion.include_usage:
            return None
        prompt_text = "".join(_text(m.get("content")) for m in body.get("messages", ()))
        prompt_tokens = (
            completion.prompt_tokens
            if completion.prompt_tokens is not None
            else _estimate_tokens(prompt_text)
        )
        completion_tokens = (
            completion.completion_tokens
            if completion.completion_tokens is not None
            else _estimate_tokens(completion.content or "")
        )
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }

    def _completion(self, completion: Completion, body: dict[str, Any]) -> _HttpResponse:
        content = completion.content
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
        usage = self._usage(completion, body)
        if usage is not None:
            payload["usage"] = usage
        return _HttpResponse(status=200, body=msgspec.json.encode(payload))


@dataclass(frozen=True)
class _Chunks:
    """A completion as Chat Completions chunks: a role chunk, one chunk per word piece of the
    content (then of a refusal), a chunk with the finish reason, the usage chunk when the request
    asked for it (``usage: null`` on the others then, as OpenAI does), and ``[DONE]``."""

    completion: Completion
    request: RecordedRequest
    id: str
    usage: dict[str, int] | None

    def complete(self) -> tuple[bytes, ...]:
        head, tail = self.split(len(self.pieces))
        return (*head, *tail)

    def split(self, after_pieces: int) -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        """The events up to and including the first ``after_pieces`` content pieces, and the
        rest."""
        pieces = self.pieces
        cut = max(0, min(after_pieces, len(pieces)))
        refusal = word_pieces(self.completion.refusal or "")
        head = (
            self._chunk({"role": "assistant", "content": ""}),
            *(self._chunk({"content": piece}) for piece in pieces[:cut]),
        )
        tail = (
            *(self._chunk({"content": piece}) for piece in pieces[cut:]),
            *(self._chunk({"refusal": piece}) for piece in refusal),
            self._chunk({}, finish_reason=self.completion.finish_reason),
            *(() if self.usage is None else (self._payload([], usage=self.usage),)),
            DONE_EVENT,
        )
        return head, tail

    @property
    def pieces(self) -> list[str]:
        return word_pieces(self.completion.content or "")

    def _chunk(self, delta: dict[str, str], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return self._payload([choice], usage=None)

    def _payload(self, choices: list[dict[str, Any]], usage: dict[str, int] | None) -> bytes:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.request.model or "fake-model",
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.request.include_usage:
            payload["usage"] = usage
        return _event(payload)
