"""A scripted sales assistant that records what it was asked and the prompts an LLM would get."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import AsyncGenerator, Iterable

import msgspec

from salesbot_core.domain import ChatMessage, SalesMetadata, TokenUsage
from salesbot_core.ports import (
    DistillationRequest,
    Distilled,
    Generated,
    ReplyDelta,
    ReplyRequest,
    TitleRequest,
)
from salesbot_core.prompts import distillation_prompt, reply_prompt, title_prompt


class FailMidStream(msgspec.Struct, frozen=True, kw_only=True):
    """A scripted reply that streams ``text`` and then raises ``error`` (``reply`` just raises)."""

    text: str
    error: Exception


DistilOutcome = SalesMetadata | Exception
ReplyOutcome = str | Exception | FailMidStream
TitleOutcome = str | Exception


def pieces(text: str) -> list[str]:
    """Split a reply into word-sized pieces that join back to the same text."""
    return re.findall(r"\s*\S+\s*", text) or [text]


class ScriptedAssistant:
    """Answers from queues; when a queue is empty it answers by default.

    - ``replies``: texts, exceptions or ``FailMidStream``, one per ``reply`` or ``stream_reply``
      call (default: ``"Reply to: <msg>"``); ``stream_reply`` yields the text word by word;
    - ``titles``: likewise for ``title`` (default: ``"Title: <first three words>"``);
    - ``distillations``: metadata or exceptions, one per ``distil`` call (default: metadata with
      the customer's messages as interests).
    Every request lands in ``reply_requests`` / ``title_requests`` / ``distil_requests`` and the
    prompt a real LLM would have received in ``prompts`` (kind, messages).
    """

    def __init__(
        self,
        *,
        replies: Iterable[ReplyOutcome] = (),
        titles: Iterable[TitleOutcome] = (),
        distillations: Iterable[DistilOutcome] = (),
        usage: TokenUsage | None = None,
    ) -> None:
        self.replies: deque[ReplyOutcome] = deque(replies)
        self.titles: deque[TitleOutcome] = deque(titles)
        self.distillations: deque[DistilOutcome] = deque(distillations)
        self.usage = usage or TokenUsage(prompt_tokens=10, completion_tokens=5)
        self.reply_requests: list[ReplyRequest] = []
        self.title_requests: list[TitleRequest] = []
        self.distil_requests: list[DistillationRequest] = []
        self.prompts: list[tuple[str, tuple[ChatMessage, ...]]] = []

    def _next_reply(self, request: ReplyRequest) -> ReplyOutcome:
        self.reply_requests.append(request)
        self.prompts.append(("reply", reply_prompt(request)))
        return self.replies.popleft() if self.replies else f"Reply to: {request.customer_message}"

    async def reply(self, request: ReplyRequest) -> Generated:
        outcome = self._next_reply(request)
        if isinstance(outcome, FailMidStream):
            raise outcome.error
        if isinstance(outcome, Exception):
            raise outcome
        return Generated(text=outcome, usage=self.usage)

    async def stream_reply(self, request: ReplyRequest) -> AsyncGenerator[ReplyDelta | Generated]:
        outcome = self._next_reply(request)
        if isinstance(outcome, Exception):
            raise outcome
        text = outcome.text if isinstance(outcome, FailMidStream) else outcome
        for piece in pieces(text):
            yield ReplyDelta(text=piece)
        if isinstance(outcome, FailMidStream):
            raise outcome.error
        yield Generated(text=text, usage=self.usage)

    async def title(self, request: TitleRequest) -> Generated:
        self.title_requests.append(request)
        self.prompts.append(("title", title_prompt(request)))
        default = "Title: " + " ".join(request.first_message.split()[:3])
        outcome = self.titles.popleft() if self.titles else default
        if isinstance(outcome, Exception):
            raise outcome
        return Generated(text=outcome, usage=self.usage)

    async def distil(self, request: DistillationRequest) -> Distilled:
        self.distil_requests.append(request)
        self.prompts.append(("distil", distillation_prompt(request)))
        if self.distillations:
            outcome = self.distillations.popleft()
        else:
            outcome = SalesMetadata(
                interests=tuple(t.content[:40] for t in request.turns if t.sender == "user")
            )
        if isinstance(outcome, Exception):
            raise outcome
        return Distilled(metadata=outcome, usage=self.usage)
