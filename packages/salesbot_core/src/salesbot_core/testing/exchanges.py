"""Recording exchanges directly in a store, for tests that seed conversations without an LLM.

``append_exchange`` does what ``SendMessage`` does when it stores an exchange on a conversation
that changed meanwhile: it locks the conversation, plans the exchange with the core's
``plan_exchange`` and writes it. It works on any store behind the persistence port.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from salesbot_core.domain import TokenUsage
from salesbot_core.errors import ConversationNotFound
from salesbot_core.exchange import ExchangeWrite, plan_exchange
from salesbot_core.ports import UnitOfWork


class Exchange(msgspec.Struct, frozen=True, kw_only=True):
    """An exchange to append: the customer's message and the bot's reply."""

    conversation_id: UUID
    user_message_id: UUID
    bot_message_id: UUID
    user_content: str
    bot_content: str
    usage: TokenUsage = TokenUsage()
    created_at: datetime
    # Characters the reply prompt carried as context (metadata, recent turns, the new message).
    context_chars: int = 0


async def append_exchange(work: UnitOfWork, exchange: Exchange) -> ExchangeWrite:
    """Append ``exchange`` to its stored conversation inside ``work`` (not committed); what was
    written. ``ConversationNotFound`` if the conversation is gone."""
    conversation = await work.conversations.for_update(exchange.conversation_id)
    if conversation is None:
        raise ConversationNotFound
    write = plan_exchange(
        conversation,
        is_new=False,
        user_message_id=exchange.user_message_id,
        bot_message_id=exchange.bot_message_id,
        user_content=exchange.user_content,
        bot_content=exchange.bot_content,
        usage=exchange.usage,
        context_chars=exchange.context_chars,
        created_at=exchange.created_at,
    )
    if not await work.conversations.record_exchange(write):  # the row is locked: cannot happen
        raise RuntimeError("a locked conversation refused its exchange")
    return write
