"""What an exchange and a distillation do to a conversation, decided by pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from salesbot_core.domain import Conversation, SalesMetadata, Sender, TokenUsage
from salesbot_core.exchange import (
    distillation_due,
    plan_distillation,
    plan_exchange,
    writes_title,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _new() -> Conversation:
    return Conversation(
        id=UUID(int=1), user_id=UUID(int=2), title="t", created_at=T0, updated_at=T0
    )


def _exchange(before: Conversation, user: str, bot: str, *, is_new: bool = False, n: int = 0):  # type: ignore[no-untyped-def]
    return plan_exchange(
        before,
        is_new=is_new,
        user_message_id=UUID(int=100 + 2 * n),
        bot_message_id=UUID(int=101 + 2 * n),
        user_content=user,
        bot_content=bot,
        usage=TokenUsage(prompt_tokens=10, completion_tokens=3),
        context_chars=len(user) + 7,
        created_at=T0 + timedelta(seconds=n),
    )


def test_the_first_exchange_of_a_new_conversation() -> None:
    write = _exchange(_new(), "hello", "hi there", is_new=True)
    assert write.expected_version is None
    assert write.writes_title
    assert not write.distillation_due
    assert (write.user_message.seq, write.bot_message.seq) == (1, 2)
    assert (write.user_message.sender, write.bot_message.sender) == (Sender.USER, Sender.BOT)
    assert write.bot_message.prompt_tokens == 10
    assert write.user_message.prompt_tokens == 0
    after = write.conversation
    assert (after.message_count, after.messages_since_context_update, after.version) == (2, 2, 1)
    assert (after.history_chars, after.context_chars, after.full_history_chars) == (13, 12, 5)
    assert (after.prompt_tokens, after.completion_tokens) == (10, 3)


def test_every_third_exchange_makes_the_metadata_due_and_counts_savings() -> None:
    conversation, is_new = _new(), True
    dues = []
    for n in range(6):
        write = _exchange(conversation, "u" * 10, "b" * 20, is_new=is_new, n=n)
        assert write.expected_version == (None if is_new else conversation.version)
        dues.append(write.distillation_due)
        conversation, is_new = write.conversation, False
        if write.distillation_due:
            conversation = plan_distillation(
                conversation,
                metadata=SalesMetadata(interests=("x",)),
                through=conversation.message_count,
                usage=TokenUsage(),
                now=T0,
            ).conversation
    assert dues == [False, False, True] * 2
    assert conversation.message_count == 12
    # The whole history before each exchange plus its customer message: 10, 40, 70, ... chars.
    assert conversation.full_history_chars == sum(30 * k + 10 for k in range(6))
    assert conversation.history_chars == 180
    assert conversation.context_chars == 6 * 17


def test_only_an_exchange_on_no_conversation_writes_the_title() -> None:
    assert writes_title(None)
    first = _exchange(_new(), "a", "b", is_new=True).conversation
    assert not writes_title(first)


def test_a_distillation_covers_up_to_its_last_message_and_lowers_the_counter() -> None:
    conversation = _new()
    for n in range(4):  # 8 messages, none distilled: a failed distillation left it due
        conversation = _exchange(conversation, "u", "b", is_new=n == 0, n=n).conversation
    assert distillation_due(conversation)
    write = plan_distillation(
        conversation,
        metadata=SalesMetadata(interests=("tablet",)),
        through=6,
        usage=TokenUsage(prompt_tokens=5, completion_tokens=1),
        now=T0 - timedelta(days=1),
    )
    after = write.conversation
    assert write.expected_version == conversation.version
    assert write.covered_messages == 6
    assert (after.distilled_through, after.messages_since_context_update) == (6, 2)
    assert after.version == conversation.version + 1
    assert after.metadata == SalesMetadata(interests=("tablet",))
    assert after.prompt_tokens == conversation.prompt_tokens + 5
    assert after.updated_at == conversation.updated_at  # never moves back
    assert not distillation_due(after)


@given(st.lists(st.booleans(), min_size=1, max_size=40))
def test_the_counter_is_always_the_messages_since_the_last_distillation(
    distil_when_due: list[bool],
) -> None:
    conversation, is_new = _new(), True
    for n, distils in enumerate(distil_when_due):
        write = _exchange(conversation, "u", "b", is_new=is_new, n=n)
        conversation, is_new = write.conversation, False
        assert write.distillation_due == distillation_due(conversation)
        if write.distillation_due and distils:
            conversation = plan_distillation(
                conversation,
                metadata=SalesMetadata(),
                through=conversation.message_count,
                usage=TokenUsage(),
                now=T0,
            ).conversation
        assert conversation.messages_since_context_update == (
            conversation.message_count - conversation.distilled_through
        )
        assert conversation.message_count == 2 * (n + 1)
