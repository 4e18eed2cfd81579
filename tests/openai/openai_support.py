"""Helpers of the adapter tests: a customer's conversation over ``SendMessage`` and the store, and
the ways an LLM call can fail."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, Message
from salesbot_core.errors import AssistantTimeout, AssistantUnavailable
from salesbot_core.ports import ReplyDelta
from salesbot_core.testing import FakeClock, InMemoryStore, SequentialIds
from salesbot_core.usecases import ExchangeResult, SendMessage
from salesbot_openai import OpenAISalesAssistant
from salesbot_openai.testing import (
    MALFORMED_JSON,
    NO_CHOICES,
    Completion,
    Delay,
    Disconnect,
    HttpError,
    Outcome,
    RawBody,
)

TEST_MODEL = "gpt-test-model"
TEST_KEY = "sk-test-secret-key"
CUSTOMER = UUID(int=0xC0FFEE)

MakeAssistant = Callable[..., OpenAISalesAssistant]

SECRET_BODY = "upstream-internal-detail-7f3a"

# The failure tests' timeout: short enough to keep them quick, long enough that a busy machine's
# fake server records every request before the client gives up on it. What is meant to time out
# waits far longer (SLOW_S), so an upper bound on the elapsed time (attempts x timeout, the SDK's
# back-off, and SLACK_S for a busy machine) still shows the client did not wait for it.
FAILURE_TIMEOUT_S = 1.0
SLOW_S = 15.0
SLACK_S = 2.0


def within_budget(attempts: int) -> float:
    """The most a failing call may take: each attempt's timeout, the SDK's back-off (at most
    0.5 s) between attempts, and room for a busy machine; well under ``SLOW_S``."""
    return FAILURE_TIMEOUT_S * attempts + 0.5 * (attempts - 1) + SLACK_S


# (outcome of every request, expected error, requests the SDK makes with max_retries=1), for a
# whole reply and a streamed one alike
FAILURES: dict[str, tuple[Outcome, type[AssistantUnavailable], int]] = {
    "429 after the retry": (HttpError(429, SECRET_BODY), AssistantUnavailable, 2),
    "500 after the retry": (HttpError(500, SECRET_BODY), AssistantUnavailable, 2),
    "503 after the retry": (HttpError(503, SECRET_BODY), AssistantUnavailable, 2),
    "400, not retried": (HttpError(400, SECRET_BODY), AssistantUnavailable, 1),
    "401, not retried": (HttpError(401, SECRET_BODY), AssistantUnavailable, 1),
    "malformed JSON body": (MALFORMED_JSON, AssistantUnavailable, 1),
    "no choices": (NO_CHOICES, AssistantUnavailable, 1),
    "not a completion": (RawBody(b'{"object": "error"}'), AssistantUnavailable, 1),
    "HTML body": (
        RawBody(b"<html>Bad gateway</html>", content_type="text/html"),
        AssistantUnavailable,
        1,
    ),
    "empty reply": (Completion(""), AssistantUnavailable, 1),
    "dropped connection": (Disconnect(), AssistantUnavailable, 2),
    "slower than the timeout": (Delay(SLOW_S), AssistantTimeout, 2),
}


class Chat:
    """One customer's conversation: sends through ``SendMessage``, reads the store directly."""

    def __init__(self, assistant: OpenAISalesAssistant) -> None:
        self.store = InMemoryStore()
        self.send_message = SendMessage(
            self.store.uow_factory, assistant, FakeClock(), SequentialIds()
        )
        self.conversation_id: UUID | None = None

    async def send(self, content: str) -> ExchangeResult:
        result = await self.send_message(
            user_id=CUSTOMER, content=content, conversation_id=self.conversation_id
        )
        self.conversation_id = result.conversation.id
        await self.settled()
        return result

    async def settled(self) -> None:
        """Wait for the distillation the last exchange may have started in the background."""
        assert self.conversation_id is not None
        await self.send_message.distillations.settled(self.conversation_id)

    async def stream(self, content: str, deltas: list[str] | None = None) -> ExchangeResult:
        """Send through ``SendMessage.stream``, appending each delta's text to ``deltas`` as it
        arrives (so a caller still has them when the stream fails)."""
        received = [] if deltas is None else deltas
        result: ExchangeResult | None = None
        async for event in self.send_message.stream(
            user_id=CUSTOMER, content=content, conversation_id=self.conversation_id
        ):
            if isinstance(event, ReplyDelta):
                assert result is None, "a delta after the result"
                received.append(event.text)
            else:
                result = event
        assert result is not None, "the stream ended without a result"
        self.conversation_id = result.conversation.id
        await self.settled()
        return result

    @property
    def conversation(self) -> Conversation:
        assert self.conversation_id is not None
        return self.store.state.conversations[self.conversation_id]

    @property
    def messages(self) -> list[Message]:
        assert self.conversation_id is not None
        return list(self.store.state.messages.get(self.conversation_id, []))

    def snapshot(self) -> bytes:
        """Everything stored, as bytes: equal snapshots mean nothing was written."""
        state = self.store.state
        return msgspec.json.encode(
            {
                "conversations": sorted(state.conversations.values(), key=lambda c: c.id.int),
                "messages": {str(key): value for key, value in sorted(state.messages.items())},
                "commits": self.store.commits,
            }
        )
