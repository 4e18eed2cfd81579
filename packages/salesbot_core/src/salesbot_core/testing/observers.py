"""What tests may ask of a store beyond the persistence port: observers no use case calls.

The port (``salesbot_core.ports.UnitOfWork``) has only what the use cases call. Both stores,
the in-memory one here and ``salesbot_postgres``, also offer these, so the one contract suite
(tests/contract) can set up and look at what was stored on either. Production code never calls
them; ``TestObservers`` names them so a test can say what it relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from salesbot_core.domain import Conversation, Message, RefreshToken


class ObservedConversations(Protocol):
    async def add(self, conversation: Conversation) -> None:
        """Insert a conversation as it is (no messages): seeding."""
        ...

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None: ...

    async def list_for_user(self, user_id: UUID) -> Sequence[Conversation]: ...


class ObservedMessages(Protocol):
    async def list_for_conversation(self, conversation_id: UUID) -> Sequence[Message]: ...

    async def list_after(self, conversation_id: UUID, after_seq: int) -> Sequence[Message]: ...

    async def page_before(
        self, conversation_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> Sequence[Message]: ...


class ObservedRefreshTokens(Protocol):
    async def list_active_for_user(
        self, user_id: UUID, now: datetime
    ) -> Sequence[RefreshToken]: ...


class TestObservers(Protocol):
    @property
    def conversations(self) -> ObservedConversations: ...

    @property
    def messages(self) -> ObservedMessages: ...

    @property
    def refresh_tokens(self) -> ObservedRefreshTokens: ...
