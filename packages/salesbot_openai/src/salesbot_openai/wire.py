"""The part of a Chat Completions response (or of a streamed chunk) salesbot reads, validated with
msgspec.

The SDK builds its response models leniently (a body of the wrong shape becomes an object with
missing attributes, a non-JSON body becomes a string), so the adapter reads the raw body itself
and decodes only what it needs; anything else is a malformed answer. A streamed chunk comes from
the SDK as the JSON value the server sent (no model built), and is validated from it.
"""

from __future__ import annotations

import msgspec

from salesbot_core.domain import TokenUsage


class MalformedCompletion(ValueError):
    """The body is not a Chat Completions response (bad JSON, wrong shape, no choices)."""


class WireMessage(msgspec.Struct, frozen=True, kw_only=True):
    content: str | None = None
    refusal: str | None = None


class WireChoice(msgspec.Struct, frozen=True, kw_only=True):
    message: WireMessage
    finish_reason: str | None = None


class WireUsage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class WireCompletion(msgspec.Struct, frozen=True, kw_only=True):
    choices: tuple[WireChoice, ...]
    usage: WireUsage | None = None


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """The first choice of a completion and the tokens the call used."""

    content: str
    refusal: str | None
    finish_reason: str | None
    usage: TokenUsage


class WireDelta(msgspec.Struct, frozen=True, kw_only=True):
    content: str | None = None
    refusal: str | None = None


class WireChunkChoice(msgspec.Struct, frozen=True, kw_only=True):
    index: int = 0
    delta: WireDelta = WireDelta()
    finish_reason: str | None = None


class WireChunk(msgspec.Struct, frozen=True, kw_only=True):
    choices: tuple[WireChunkChoice, ...]
    usage: WireUsage | None = None


class ChunkPiece(msgspec.Struct, frozen=True, kw_only=True):
    """What one streamed chunk adds to the first choice, and the usage when it carries it."""

    content: str = ""
    refusal: str = ""
    finish_reason: str | None = None
    usage: TokenUsage | None = None


_decoder = msgspec.json.Decoder(WireCompletion)


def _token_usage(usage: WireUsage) -> TokenUsage:
    return TokenUsage(
        prompt_tokens=max(0, usage.prompt_tokens or 0),
        completion_tokens=max(0, usage.completion_tokens or 0),
    )


def _text(value: str | None) -> str:
    """The model's text without NUL characters, which no store keeps (PostgreSQL refuses them in
    text and JSON) and which mean nothing to a customer."""
    return (value or "").replace("\x00", "")


def read_answer(body: bytes) -> Answer:
    """Decode a Chat Completions body; raise ``MalformedCompletion`` when it is not one."""
    try:
        completion = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedCompletion("the body is not a Chat Completions response") from exc
    if not completion.choices:
        raise MalformedCompletion("the response has no choices")
    choice = completion.choices[0]
    return Answer(
        content=_text(choice.message.content),
        refusal=_text(choice.message.refusal) if choice.message.refusal is not None else None,
        finish_reason=choice.finish_reason,
        usage=_token_usage(completion.usage or WireUsage()),
    )


def read_chunk(data: object) -> ChunkPiece:
    """Validate one streamed chunk, given the JSON value of its event; raise
    ``MalformedCompletion`` when it is not a Chat Completions chunk. Only the first choice
    counts; the final usage chunk has no choices."""
    try:
        chunk = msgspec.convert(data, WireChunk)
    except msgspec.ValidationError as exc:
        raise MalformedCompletion("a streamed chunk is not a Chat Completions chunk") from exc
    usage = _token_usage(chunk.usage) if chunk.usage else None
    first = next((choice for choice in chunk.choices if choice.index == 0), None)
    if first is None:
        return ChunkPiece(usage=usage)
    return ChunkPiece(
        content=_text(first.delta.content),
        refusal=_text(first.delta.refusal),
        finish_reason=first.finish_reason,
        usage=usage,
    )
