"""The part of a Chat Completions response salesbot reads, validated with msgspec.

The SDK builds its response models leniently (a body of the wrong shape becomes an object with
missing attributes, a non-JSON body becomes a string), so the adapter reads the raw body itself
and decodes only what it needs; anything else is a malformed answer.
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


_decoder = msgspec.json.Decoder(WireCompletion)


def read_answer(body: bytes) -> Answer:
    """Decode a Chat Completions body; raise ``MalformedCompletion`` when it is not one."""
    try:
        completion = _decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise MalformedCompletion("the body is not a Chat Completions response") from exc
    if not completion.choices:
        raise MalformedCompletion("the response has no choices")
    choice = completion.choices[0]
    usage = completion.usage or WireUsage()
    return Answer(
        content=choice.message.content or "",
        refusal=choice.message.refusal,
        finish_reason=choice.finish_reason,
        usage=TokenUsage(
            prompt_tokens=max(0, usage.prompt_tokens or 0),
            completion_tokens=max(0, usage.completion_tokens or 0),
        ),
    )
