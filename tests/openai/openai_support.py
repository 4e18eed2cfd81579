"""Helpers of the adapter tests: a customer's conversation over ``SendMessage`` and the store."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, Message
from salesbot_core.testing import FakeClock, InMemoryStore, SequentialIds
from salesbot_core.usecases import ExchangeResult, SendMessage
from salesbot_openai import OpenAISalesAssistant

TEST_MODEL = "gpt-test-model"
TEST_KEY = "sk-test-secret-key"
CUSTOMER = UUID(int=0xC0FFEE)

MakeAssistant = Callable[..., OpenAISalesAssistant]


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
