"""What the fake server can answer to one request: a completion, an HTTP error, a raw body, a
delay, or a dropped connection."""

from __future__ import annotations

from enum import StrEnum

import msgspec


class RequestKind(StrEnum):
    """Which of the adapter's three calls a request is, told from the request itself."""

    REPLY = "reply"
    TITLE = "title"
    DISTIL = "distil"


class Completion(msgspec.Struct, frozen=True):
    """A 200 Chat Completions answer with one choice.

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


Outcome = Completion | HttpError | RawBody | Delay | Disconnect

MALFORMED_JSON = RawBody(b'{"id": "chatcmpl-fake", "object": "chat.completion", "choices": [')
NO_CHOICES = RawBody(
    b'{"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, '
    b'"model": "fake", "choices": []}'
)
