"""Reading conversations: a customer's list of them, and one conversation's history."""

from __future__ import annotations

from uuid import UUID

import msgspec

from salesbot_core.domain import Conversation, ConversationCursor, Message
from salesbot_core.errors import ConversationNotFound
from salesbot_core.paging import PagingPolicy
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.validation import clean_query


class History(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a conversation's messages, oldest first. ``next_before`` is the ``seq`` to
    ask the previous page with (None on the first page of the conversation)."""

    conversation: Conversation
    messages: tuple[Message, ...]
    next_before: int | None = None


class ConversationPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a user's conversations; ``next`` continues after the last one (None: done)."""

    items: tuple[Conversation, ...]
    next: ConversationCursor | None = None


class ListConversations:
    """The user's conversations, most recently updated first, a page at a time.

    Rules: the page size defaults to 50 and may not exceed 100; pages are keyset-paged on
    (updated_at, id), so a page never repeats a conversation that has not changed since; with a
    query, only conversations whose title or one message contains all its words.
    """

    def __init__(self, uow: UnitOfWorkFactory, paging: PagingPolicy | None = None) -> None:
        self._uow = uow
        self._limits = (paging or PagingPolicy()).conversations

    async def __call__(
        self,
        user_id: UUID,
        *,
        limit: int | None = None,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> ConversationPage:
        size = self._limits.size(limit)
        words = clean_query(query)
        async with self._uow() as uow:
            found = await uow.conversations.page_for_user(
                user_id, limit=size + 1, after=after, query=words
            )
        items = tuple(found[:size])
        more = len(found) > size
        last = items[-1] if items else None
        cursor = ConversationCursor(updated_at=last.updated_at, id=last.id) if last else None
        return ConversationPage(items=items, next=cursor if more else None)


class GetHistory:
    """A conversation's messages, oldest first, a page at a time (the latest page by default).

    Rules: someone else's conversation is not found; the page size defaults to 100 and may not
    exceed 500; ``before`` walks back through older pages without gaps or repeats, whatever is
    appended meanwhile.
    """

    def __init__(self, uow: UnitOfWorkFactory, paging: PagingPolicy | None = None) -> None:
        self._uow = uow
        self._limits = (paging or PagingPolicy()).messages

    async def __call__(
        self,
        user_id: UUID,
        conversation_id: UUID,
        *,
        limit: int | None = None,
        before: int | None = None,
    ) -> History:
        size = self._limits.size(limit)
        async with self._uow() as uow:
            found = await uow.conversations.get_with_messages(
                conversation_id, user_id, limit=size, before_seq=before
            )
        if found is None:
            raise ConversationNotFound
        conversation, page = found
        messages = tuple(page)
        more = bool(messages) and messages[0].seq > 1
        return History(
            conversation=conversation,
            messages=messages,
            next_before=messages[0].seq if more else None,
        )
