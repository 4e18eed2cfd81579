"""Managing conversations: renaming and deleting them."""

from __future__ import annotations

from uuid import UUID

from salesbot_core.domain import Conversation
from salesbot_core.errors import ConversationNotFound
from salesbot_core.ports import Clock, UnitOfWorkFactory
from salesbot_core.validation import clean_title


class RenameConversation:
    """Set a conversation's title (1-255 characters after trimming)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, user_id: UUID, conversation_id: UUID, title: str) -> Conversation:
        cleaned = clean_title(title)
        async with self._uow() as uow:
            renamed = await uow.conversations.rename(
                conversation_id, user_id, cleaned, self._clock.now()
            )
            if renamed is None:
                raise ConversationNotFound
            await uow.commit()
        return renamed


class DeleteConversation:
    """Delete a conversation and its messages."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: UUID, conversation_id: UUID) -> None:
        async with self._uow() as uow:
            if not await uow.conversations.delete(conversation_id, user_id):
                raise ConversationNotFound
            await uow.commit()
