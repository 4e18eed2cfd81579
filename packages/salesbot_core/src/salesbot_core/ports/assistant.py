"""The sales assistant: the LLM (or the offline rule-based seller) behind each reply.

Requests carry structured context; an LLM adapter turns it into a prompt with
``salesbot_core.prompts``, a rule-based assistant reads it directly.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

import msgspec

from salesbot_core.domain import Product, SalesMetadata, TokenUsage, Turn


class ReplyRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a reply may use: the metadata so far, only the turns since it was distilled,
    and the shop's products the core picked for it (``products``, most relevant first; the
    only ones a reply may name). ``catalogue_loaded``: the shop has a catalogue at all (False:
    no product may be named; True with no products: nothing in it fits). ``last_reply``: the
    assistant's previous message even when distilled away, so a reply need not repeat it."""

    customer_message: str
    recent_turns: tuple[Turn, ...] = ()
    metadata: SalesMetadata | None = None
    products: tuple[Product, ...] = ()
    catalogue_loaded: bool = False
    last_reply: str | None = None


class TitleRequest(msgspec.Struct, frozen=True, kw_only=True):
    first_message: str


class DistillationRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The previous metadata plus the turns since it, to be distilled into new metadata."""

    previous: SalesMetadata | None
    turns: tuple[Turn, ...]


class Generated(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    usage: TokenUsage = TokenUsage()


class Distilled(msgspec.Struct, frozen=True, kw_only=True):
    """The LLM's metadata answer, already validated into the domain type (not yet merged)."""

    metadata: SalesMetadata
    usage: TokenUsage = TokenUsage()


class SalesAssistant(Protocol):
    async def reply(self, request: ReplyRequest) -> Generated:
        """The bot's answer. Raises ``AssistantUnavailable`` / ``AssistantTimeout``."""
        ...

    async def title(self, request: TitleRequest) -> Generated:
        """A title in the customer's language, as the assistant wrote it: the use case cleans
        it (``salesbot_core.prompts.clean_title``: at most six words, no quotes, the message when
        nothing is usable), so an assistant does not. May raise like ``reply``; the use case then
        falls back to a title made from the message."""
        ...

    async def distil(self, request: DistillationRequest) -> Distilled:
        """Distil the metadata. Raises ``InvalidMetadataAnswer`` when the answer does not
        validate, ``AssistantUnavailable`` when the LLM fails."""
        ...


class ReplyDelta(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of the bot's reply, as the LLM produces it."""

    text: str


@runtime_checkable
class StreamingSalesAssistant(SalesAssistant, Protocol):
    """An assistant that can also hand out its reply piece by piece.

    Optional: the core streams an assistant without it as one piece once the reply is done."""

    def stream_reply(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        """Yield ``ReplyDelta``s as they come, then exactly one ``Generated`` with the whole text
        and the usage. Raises like ``reply``, possibly after some deltas."""
        ...
