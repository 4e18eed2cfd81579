"""What the fake server can answer to one request: a completion, an HTTP error, a raw body, a
delay, a dropped connection, or (to a streamed request) a stream that goes wrong midway."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class RequestKind(StrEnum):
    """Which of the adapter's three calls a request is, told from the request itself."""

    REPLY = "reply"
    TITLE = "title"
    DISTIL = "distil"


class Completion(msgspec.Struct, frozen=True):
    """A 200 Chat Completions answer with one choice. To a streamed request (``stream: true``) it
    is sent as Server-Sent Events, ``content`` split into word pieces (see ``word_pieces``).

    Token counts default to an estimate (characters / 4) of the prompt and of ``content``;
    ``include_usage=False`` leaves ``usage`` out, as some local servers do.
    """

    content: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    include_usage: bool = True
    finish_reason: str = "stop"
    refusal: str | None = None


class HttpError(msgspec.Struct, frozen=True):
    """An OpenAI-style error body with this status (429, 500, 401...).

    ``retry_after_ms`` is sent as ``retry-after-ms``, which the SDK obeys: the small default
    keeps its retries fast in tests. None sends no header (the SDK then backs off 0.5 s, 1 s...).
    """

    status: int
    message: str = "fake upstream error"
    retry_after_ms: int | None = 1


class RawBody(msgspec.Struct, frozen=True):
    """Exactly these bytes, e.g. a malformed JSON body or a completion without choices."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"


class Delay(msgspec.Struct, frozen=True):
    """Wait ``seconds`` (longer than the client's timeout, to provoke one), then answer ``then``
    (None: the default answer for the request's kind)."""

    seconds: float
    then: Completion | HttpError | RawBody | None = None


class Disconnect(msgspec.Struct, frozen=True):
    """Close the connection without answering (the SDK sees a connection error)."""


class NotHttp(msgspec.Struct, frozen=True):
    """An answer whose head is not valid HTTP (a header line with no valid name): the client's
    parser refuses it."""


class StreamEnd(StrEnum):
    """How a streamed (SSE) answer ended, as the server saw it."""

    COMPLETE = "complete"  # the body was sent to its end, whatever it contained
    DROPPED = "dropped"  # the script dropped the connection midway (``DropMidStream``)
    CLIENT_CLOSED = "client_closed"  # the client closed the connection before the end


# The mid-stream outcomes stream the first ``after_chunks`` word pieces of ``content`` (None: the
# default answer for the request's kind), then go wrong. A request that does not stream gets the
# nearest plain failure instead, as each says.


class DropMidStream(msgspec.Struct, frozen=True, kw_only=True):
    """Then close the connection without ending the body (the SDK sees a connection error).
    Not streamed: like ``Disconnect``."""

    after_chunks: int = 1
    content: str | None = None


class MalformedChunk(msgspec.Struct, frozen=True, kw_only=True):
    """Then one ``data:`` event that is not a chunk (bad JSON by default), then the rest of the
    answer and ``[DONE]`` as if nothing happened. Not streamed: ``data`` as a 200 JSON body."""

    after_chunks: int = 1
    content: str | None = None
    data: bytes = b'{"id": "chatcmpl-fake", "object": "chat.completion.chunk", "choices": ['


class StallMidStream(msgspec.Struct, frozen=True, kw_only=True):
    """Then wait ``seconds`` before the rest: longer than the client's timeout to provoke one,
    shorter to show that pieces arrive as they are produced. Not streamed: like ``Delay``."""

    seconds: float
    after_chunks: int = 1
    content: str | None = None


class ErrorMidStream(msgspec.Struct, frozen=True, kw_only=True):
    """Then an error event (``data: {"error": {...}}``, as OpenAI sends when it fails midway) and
    the end of the body. Not streamed: an HTTP 500 with this message."""

    after_chunks: int = 1
    content: str | None = None
    message: str = "fake upstream error mid-stream"


MidStream = DropMidStream | MalformedChunk | StallMidStream | ErrorMidStream

Outcome = Completion | HttpError | RawBody | Delay | Disconnect | NotHttp | MidStream

MALFORMED_JSON = RawBody(b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [')
NO_CHOICES = RawBody(
    b'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, '
    b'"model": "fake", "choices": []}'
)
