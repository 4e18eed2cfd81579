"""What an exchange and a distillation do to a conversation: the one owner of their bookkeeping.

An exchange (a customer message and its reply) takes the next two sequence numbers, steps the
threshold counter (``threshold.advance``), adds its token usage and the character counts that
measure what the metadata design saves, and says whether the conversation's title is written
and whether a distillation is now due. A distillation moves ``distilled_through`` and lowers the
counter by the messages it covered. Both are pure functions of the conversation as it was; the
stores write the result as it is, compare-and-set on ``Conversation.version``, so a plan made
from a conversation that changed meanwhile is refused and made again from the fresh one.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from salesbot_core.domain import (
    Conversation,
    Distillation,
    Message,
    SalesMetadata,
    Sender,
    TokenUsage,
)
from salesbot_core.threshold import (
    Action,
    ContextState,
    ExchangeCompleted,
    MetadataDistilled,
    advance,
    is_due,
)


class ExchangeWrite(msgspec.Struct, frozen=True, kw_only=True):
    """One exchange as the stores write it.

    ``expected_version`` is the version of the conversation the plan was made from (None: the
    conversation is new and is inserted with the exchange); ``conversation`` is how it stands
    afterwards, ``user_message`` and ``bot_message`` the two rows to append.
    """

    expected_version: int | None
    conversation: Conversation
    user_message: Message
    bot_message: Message
    writes_title: bool = False
    distillation_due: bool = False


class DistillationWrite(msgspec.Struct, frozen=True, kw_only=True):
    """Distilled metadata as the stores write it: ``conversation`` is how it stands afterwards,
    valid only while the stored version is still ``expected_version``."""

    expected_version: int
    conversation: Conversation
    covered_messages: int
    # The history entry written in the same unit of work as the conversation.
    record: Distillation


def state_of(conversation: Conversation | None) -> ContextState:
    """The threshold state machine's view of a conversation (none yet: a fresh state)."""
    if conversation is None:
        return ContextState()
    return ContextState(
        counter=conversation.messages_since_context_update,
        exchanges=conversation.message_count // 2,
    )


def writes_title(conversation: Conversation | None) -> bool:
    """Whether an exchange on ``conversation`` writes its title: only the first exchange of a
    new conversation (None), which creates it."""
    return (
        conversation is None
        and Action.WRITE_TITLE in advance(state_of(None), ExchangeCompleted()).actions
    )


def distillation_due(conversation: Conversation) -> bool:
    """Whether the conversation's metadata is due to be distilled (also when an earlier
    distillation failed or never ran: the counter stays until one lands)."""
    return is_due(state_of(conversation))


def plan_exchange(
    before: Conversation,
    *,
    is_new: bool,
    user_message_id: UUID,
    bot_message_id: UUID,
    user_content: str,
    bot_content: str,
    usage: TokenUsage,
    context_chars: int,
    created_at: datetime,
) -> ExchangeWrite:
    """The exchange on ``before`` (for a new conversation: the conversation as it is created,
    with no messages yet)."""
    transition = advance(state_of(None if is_new else before), ExchangeCompleted())
    user_seq = before.message_count + 1
    bot_seq = user_seq + 1
    after = msgspec.structs.replace(
        before,
        messages_since_context_update=transition.state.counter,
        message_count=bot_seq,
        prompt_tokens=before.prompt_tokens + usage.prompt_tokens,
        completion_tokens=before.completion_tokens + usage.completion_tokens,
        # What the prompt carried, against what sending the whole history would have carried:
        # every message before this exchange plus the new one.
        history_chars=before.history_chars + len(user_content) + len(bot_content),
        context_chars=before.context_chars + context_chars,
        full_history_chars=before.full_history_chars + before.history_chars + len(user_content),
        updated_at=max(before.updated_at, created_at),
        version=before.version + 1,
    )
    return ExchangeWrite(
        expected_version=None if is_new else before.version,
        conversation=after,
        user_message=Message(
            id=user_message_id,
            conversation_id=before.id,
            seq=user_seq,
            sender=Sender.USER,
            content=user_content,
            created_at=created_at,
        ),
        bot_message=Message(
            id=bot_message_id,
            conversation_id=before.id,
            seq=bot_seq,
            sender=Sender.BOT,
            content=bot_content,
            created_at=created_at,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        ),
        writes_title=is_new and Action.WRITE_TITLE in transition.actions,
        distillation_due=Action.DISTIL_METADATA in transition.actions,
    )


def plan_distillation(
    before: Conversation,
    *,
    metadata: SalesMetadata,
    through: int,
    usage: TokenUsage,
    now: datetime,
) -> DistillationWrite:
    """Metadata that covers every message up to ``through`` (also the older ones a bounded
    window left out of the prompt), on ``before``."""
    covered = through - before.distilled_through
    transition = advance(state_of(before), MetadataDistilled(covered_messages=covered))
    after = msgspec.structs.replace(
        before,
        metadata=metadata,
        distilled_through=through,
        messages_since_context_update=transition.state.counter,
        prompt_tokens=before.prompt_tokens + usage.prompt_tokens,
        completion_tokens=before.completion_tokens + usage.completion_tokens,
        updated_at=max(before.updated_at, now),
        version=before.version + 1,
    )
    record = Distillation(
        conversation_id=before.id,
        distilled_at=now,
        through_seq=through,
        covered_messages=covered,
        metadata=metadata,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
    )
    return DistillationWrite(
        expected_version=before.version,
        conversation=after,
        covered_messages=covered,
        record=record,
    )
