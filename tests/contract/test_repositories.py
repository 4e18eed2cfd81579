"""The repository contract: what every implementation of the core's persistence port does.

Each test runs against the in-memory fake and against PostgreSQL (see ``conftest.uow``), so the
fake the use-case tests rely on behaves as the real store does.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import msgspec
import pytest

from salesbot_core.domain import (
    Conversation,
    RefreshToken,
    Role,
    SalesMetadata,
    SaleStatus,
    Sender,
    TokenUsage,
    User,
)
from salesbot_core.errors import ConversationNotFound, EmailAlreadyRegistered
from salesbot_core.exchange import DistillationWrite, ExchangeWrite, plan_distillation
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import Exchange, append_exchange

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
replace = msgspec.structs.replace


def make_user(email: str = "ann@example.com", **changes: object) -> User:
    user = User(
        id=uuid4(),
        email=email,
        name="Ann Buyer",
        phone="+14155552671",
        password_hash="hash$of$password",
        created_at=T0,
        updated_at=T0,
    )
    return replace(user, **changes)


def make_token(user: User, **changes: object) -> RefreshToken:
    token = RefreshToken(
        id=uuid4(),
        user_id=user.id,
        family_id=uuid4(),
        token_hash=uuid4().hex + uuid4().hex,
        created_at=T0,
        expires_at=T0 + timedelta(days=7),
        user_agent="Mozilla/5.0",
        ip="203.0.113.7",
    )
    return replace(token, **changes)


def make_conversation(user: User, **changes: object) -> Conversation:
    conversation = Conversation(
        id=uuid4(), user_id=user.id, title="Laptop search", created_at=T0, updated_at=T0
    )
    return replace(conversation, **changes)


def exchange(
    conversation_id: UUID, n: int = 1, at: datetime = T0, usage: TokenUsage | None = None
) -> Exchange:
    return Exchange(
        conversation_id=conversation_id,
        user_message_id=uuid4(),
        bot_message_id=uuid4(),
        user_content=f"question {n}",
        bot_content=f"answer {n}",
        usage=usage or TokenUsage(prompt_tokens=10, completion_tokens=5),
        created_at=at + timedelta(seconds=1),
    )


async def stored_user(uow: UnitOfWorkFactory, user: User | None = None) -> User:
    user = user or make_user(email=f"{uuid4().hex[:12]}@example.com")
    async with uow() as work:
        await work.users.add(user)
        await work.commit()
    return user


async def stored_conversation(
    uow: UnitOfWorkFactory, user: User, **changes: object
) -> Conversation:
    conversation = make_conversation(user, **changes)
    async with uow() as work:
        await work.conversations.add(conversation)
        await work.commit()
    return conversation


async def stored_exchanges(
    uow: UnitOfWorkFactory, conversation_id: UUID, count: int
) -> ExchangeWrite:
    """``count`` exchanges recorded in the conversation and committed; the last one."""
    async with uow() as work:
        for n in range(count):
            stored = await append_exchange(work, exchange(conversation_id, n))
        await work.commit()
    return stored


# ---------------------------------------------------------------- unit of work


async def test_nothing_is_stored_without_commit(uow: UnitOfWorkFactory) -> None:
    user = make_user()
    async with uow() as work:
        await work.users.add(user)
        assert await work.users.get(user.id) == user  # a unit of work reads its own writes
    async with uow() as work:
        assert await work.users.get(user.id) is None


async def test_an_error_inside_the_block_stores_nothing(uow: UnitOfWorkFactory) -> None:
    user = make_user()

    async def fail_midway() -> None:
        async with uow() as work:
            await work.users.add(user)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    async with uow() as work:
        assert await work.users.get(user.id) is None


async def test_rollback_discards_only_what_was_not_committed(uow: UnitOfWorkFactory) -> None:
    kept, discarded, later = make_user("a@example.com"), make_user("b@example.com"), None
    async with uow() as work:
        await work.users.add(kept)
        await work.commit()
        await work.users.add(discarded)
        await work.rollback()
        assert await work.users.get(discarded.id) is None
        later = make_user("c@example.com")
        await work.users.add(later)
        await work.commit()
    async with uow() as work:
        assert await work.users.get(kept.id) == kept
        assert await work.users.get(discarded.id) is None
        assert await work.users.get(later.id) == later


async def test_work_after_the_last_commit_is_rolled_back(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    conversation = make_conversation(user)
    async with uow() as work:
        await work.conversations.add(conversation)
    async with uow() as work:
        assert await work.conversations.get_for_user(conversation.id, user.id) is None
        assert await work.users.get(user.id) == user


async def test_uncommitted_work_is_invisible_to_other_units(uow: UnitOfWorkFactory) -> None:
    user = make_user()
    async with uow() as work:
        await work.users.add(user)
        await work.commit()
        await work.users.set_role(user.id, Role.ADMIN.value, T0 + timedelta(hours=1))
    async with uow() as work:
        seen = await work.users.get(user.id)
    assert seen is not None
    assert seen.role == Role.CUSTOMER


# ---------------------------------------------------------------- users


async def test_a_user_round_trips_with_every_field(uow: UnitOfWorkFactory) -> None:
    with_phone = make_user("ann@example.com")
    without_phone = make_user("bob@example.com", phone=None, role=Role.ADMIN)
    async with uow() as work:
        await work.users.add(with_phone)
        await work.users.add(without_phone)
        await work.commit()
    async with uow() as work:
        assert await work.users.get(with_phone.id) == with_phone
        assert await work.users.get(without_phone.id) == without_phone
        assert await work.users.get(uuid4()) is None


async def test_email_lookup_ignores_case(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow, make_user("ann.buyer@example.com"))
    async with uow() as work:
        assert await work.users.get_by_email("Ann.Buyer@EXAMPLE.com") == user
        assert await work.users.get_by_email("ann.buyer@example.com") == user
        assert await work.users.get_by_email("ann.buyer@example.org") is None


async def test_an_email_is_registered_once_whatever_its_case(uow: UnitOfWorkFactory) -> None:
    first = await stored_user(uow, make_user("ann@example.com"))
    again = make_user("ANN@Example.COM")
    other = make_user("other@example.com")
    async with uow() as work:
        with pytest.raises(EmailAlreadyRegistered):
            await work.users.add(again)
        # The refusal leaves the unit of work usable.
        await work.users.add(other)
        await work.commit()
    async with uow() as work:
        assert await work.users.get(again.id) is None
        assert await work.users.get(other.id) == other
        assert await work.users.get_by_email("ann@example.com") == first


async def test_set_role_changes_role_and_updated_at(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    later = T0 + timedelta(days=1)
    async with uow() as work:
        assert await work.users.set_role(user.id, "admin", later) is True
        assert await work.users.set_role(uuid4(), "admin", later) is False
        await work.commit()
    async with uow() as work:
        assert await work.users.get(user.id) == replace(user, role=Role.ADMIN, updated_at=later)


async def test_set_role_refuses_an_unknown_role(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    async with uow() as work:
        with pytest.raises(ValueError, match="superuser"):
            await work.users.set_role(user.id, "superuser", T0)


# ---------------------------------------------------------------- refresh tokens


async def test_a_refresh_token_round_trips_by_hash(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    token = make_token(user)
    bare = make_token(user, user_agent=None, ip=None)
    async with uow() as work:
        await work.refresh_tokens.add(token)
        await work.refresh_tokens.add(bare)
        await work.commit()
    async with uow() as work:
        assert await work.refresh_tokens.get_by_hash(token.token_hash) == token
        assert await work.refresh_tokens.get_by_hash(bare.token_hash) == bare
        assert await work.refresh_tokens.get_by_hash("0" * 64) is None


async def test_rotate_marks_the_token_once(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    token = make_token(user)
    successor, now = uuid4(), T0 + timedelta(hours=2)
    async with uow() as work:
        await work.refresh_tokens.add(token)
        assert await work.refresh_tokens.rotate(token.id, successor, now) is True
        assert await work.refresh_tokens.rotate(token.id, uuid4(), now) is False
        assert await work.refresh_tokens.rotate(uuid4(), uuid4(), now) is False
        await work.commit()
    async with uow() as work:
        stored = await work.refresh_tokens.get_by_hash(token.token_hash)
    assert stored == replace(
        token, revoked_at=now, revoked_reason="rotated", replaced_by=successor, last_used_at=now
    )


async def test_a_revoked_token_cannot_be_rotated(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    token = make_token(user)
    async with uow() as work:
        await work.refresh_tokens.add(token)
        assert await work.refresh_tokens.revoke(token.id, "logout", T0) is True
        assert await work.refresh_tokens.rotate(token.id, uuid4(), T0) is False
        await work.commit()
    async with uow() as work:
        stored = await work.refresh_tokens.get_by_hash(token.token_hash)
    assert stored is not None
    assert (stored.revoked_reason, stored.replaced_by) == ("logout", None)


async def test_of_concurrent_rotations_exactly_one_wins(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    token = make_token(user)
    async with uow() as work:
        await work.refresh_tokens.add(token)
        await work.commit()

    async def rotate() -> bool:
        async with uow() as work:
            won = await work.refresh_tokens.rotate(token.id, uuid4(), T0 + timedelta(hours=1))
            await asyncio.sleep(0.01)  # hold the transaction open while the others queue
            await work.commit()
        return won

    results = await asyncio.gather(*(rotate() for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]


async def test_revoke_keeps_the_first_reason(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    token = make_token(user)
    first, second = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    async with uow() as work:
        await work.refresh_tokens.add(token)
        assert await work.refresh_tokens.revoke(token.id, "logout", first) is True
        assert await work.refresh_tokens.revoke(token.id, "logout_all", second) is False
        assert await work.refresh_tokens.revoke(uuid4(), "logout", second) is False
        await work.commit()
    async with uow() as work:
        stored = await work.refresh_tokens.get_by_hash(token.token_hash)
    assert stored == replace(token, revoked_at=first, revoked_reason="logout")


async def test_revoke_family_touches_only_the_live_tokens_of_that_family(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    family = uuid4()
    live = [make_token(user, family_id=family) for _ in range(2)]
    already = make_token(user, family_id=family, revoked_at=T0, revoked_reason="rotated")
    stranger = make_token(user)
    now = T0 + timedelta(hours=3)
    async with uow() as work:
        for token in [*live, already, stranger]:
            await work.refresh_tokens.add(token)
        assert await work.refresh_tokens.revoke_family(family, "reuse_detected", now) == 2
        assert await work.refresh_tokens.revoke_family(uuid4(), "reuse_detected", now) == 0
        await work.commit()
    async with uow() as work:
        for token in live:
            assert await work.refresh_tokens.get_by_hash(token.token_hash) == replace(
                token, revoked_at=now, revoked_reason="reuse_detected"
            )
        assert await work.refresh_tokens.get_by_hash(already.token_hash) == already
        assert await work.refresh_tokens.get_by_hash(stranger.token_hash) == stranger


async def test_revoke_all_for_user_spares_other_users(uow: UnitOfWorkFactory) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    anns = [make_token(ann), make_token(ann), make_token(ann, revoked_at=T0, revoked_reason="x")]
    bobs = make_token(bob)
    now = T0 + timedelta(hours=1)
    async with uow() as work:
        for token in [*anns, bobs]:
            await work.refresh_tokens.add(token)
        assert await work.refresh_tokens.revoke_all_for_user(ann.id, "logout_all", now) == 2
        await work.commit()
    async with uow() as work:
        assert await work.refresh_tokens.list_active_for_user(ann.id, now) == []
        assert await work.refresh_tokens.list_active_for_user(bob.id, now) == [bobs]
        kept = await work.refresh_tokens.get_by_hash(anns[2].token_hash)
    assert kept == anns[2]


async def test_active_tokens_are_unrevoked_unexpired_and_newest_first(
    uow: UnitOfWorkFactory,
) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    now = T0 + timedelta(days=1)
    older = make_token(ann, created_at=T0)
    newer = make_token(ann, created_at=T0 + timedelta(hours=1))
    expiring_now = make_token(ann, created_at=T0 + timedelta(hours=2), expires_at=now)
    revoked = make_token(ann, created_at=T0 + timedelta(hours=3), revoked_at=T0, revoked_reason="x")
    others = make_token(bob, created_at=T0 + timedelta(hours=4))
    async with uow() as work:
        for token in (older, newer, expiring_now, revoked, others):
            await work.refresh_tokens.add(token)
        await work.commit()
    async with uow() as work:
        assert await work.refresh_tokens.list_active_for_user(ann.id, now) == [newer, older]
        assert await work.refresh_tokens.list_active_for_user(uuid4(), now) == []


async def test_delete_stale_removes_expired_and_long_revoked_tokens(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    now = T0 + timedelta(days=60)
    cutoff = now - timedelta(days=30)
    expired = make_token(user, expires_at=now - timedelta(seconds=1))
    expiring_now = make_token(user, expires_at=now)
    old_revoked = make_token(
        user,
        expires_at=now + timedelta(days=1),
        revoked_at=cutoff - timedelta(seconds=1),
        revoked_reason="logout",
    )
    recent_revoked = make_token(
        user, expires_at=now + timedelta(days=1), revoked_at=cutoff, revoked_reason="logout"
    )
    active = make_token(user, expires_at=now + timedelta(days=1))
    async with uow() as work:
        for token in (expired, expiring_now, old_revoked, recent_revoked, active):
            await work.refresh_tokens.add(token)
        await work.commit()
    async with uow() as work:
        assert await work.refresh_tokens.delete_stale(now, cutoff) == 3
        await work.commit()
    async with uow() as work:
        for gone in (expired, expiring_now, old_revoked):
            assert await work.refresh_tokens.get_by_hash(gone.token_hash) is None
        assert await work.refresh_tokens.get_by_hash(recent_revoked.token_hash) == recent_revoked
        assert await work.refresh_tokens.get_by_hash(active.token_hash) == active
        assert await work.refresh_tokens.delete_stale(now, cutoff) == 0


# ---------------------------------------------------------------- conversations


async def test_a_conversation_is_found_only_by_its_owner(uow: UnitOfWorkFactory) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    conversation = await stored_conversation(uow, ann)
    async with uow() as work:
        assert await work.conversations.get_for_user(conversation.id, ann.id) == conversation
        assert await work.conversations.get_for_user(conversation.id, bob.id) is None
        assert await work.conversations.get_for_user(uuid4(), ann.id) is None


async def test_a_conversation_round_trips_with_counters_and_metadata(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    metadata = SalesMetadata(
        interests=("laptop", "web programming"),
        offered_products=("MacBook Pro M3",),
        rejected_products=("Chromebook",),
        sale_status=SaleStatus.NEGOTIATING,
        last_intent="compare specifications",
    )
    conversation = await stored_conversation(
        uow,
        user,
        metadata=metadata,
        messages_since_context_update=4,
        message_count=10,
        distilled_through=6,
        prompt_tokens=1234,
        completion_tokens=567,
    )
    async with uow() as work:
        assert await work.conversations.get_for_user(conversation.id, user.id) == conversation
        assert await work.conversations.list_for_user(user.id) == [conversation]


async def test_conversations_are_listed_most_recently_updated_first(
    uow: UnitOfWorkFactory,
) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    oldest = await stored_conversation(uow, ann, updated_at=T0)
    newest = await stored_conversation(uow, ann, updated_at=T0 + timedelta(hours=2))
    middle = await stored_conversation(uow, ann, updated_at=T0 + timedelta(hours=1))
    # Equal times are ordered by id, descending, so the order is stable.
    tie_low = await stored_conversation(
        uow, ann, id=UUID(int=1), updated_at=T0 - timedelta(hours=1)
    )
    tie_high = await stored_conversation(
        uow, ann, id=UUID(int=2), updated_at=T0 - timedelta(hours=1)
    )
    await stored_conversation(uow, bob, updated_at=T0 + timedelta(hours=5))
    async with uow() as work:
        listed = await work.conversations.list_for_user(ann.id)
        assert await work.conversations.list_for_user(uuid4()) == []
    assert listed == [newest, middle, oldest, tie_high, tie_low]


async def test_rename_changes_the_title_for_the_owner_only(uow: UnitOfWorkFactory) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    conversation = await stored_conversation(uow, ann)
    later = T0 + timedelta(hours=1)
    async with uow() as work:
        assert await work.conversations.rename(conversation.id, bob.id, "Mine now", later) is None
        renamed = await work.conversations.rename(conversation.id, ann.id, "Gaming laptop", later)
        await work.commit()
    assert renamed == replace(
        conversation, title="Gaming laptop", updated_at=later, version=conversation.version + 1
    )
    async with uow() as work:
        assert await work.conversations.get_for_user(conversation.id, ann.id) == renamed


async def test_delete_takes_the_messages_along_and_spares_others(uow: UnitOfWorkFactory) -> None:
    ann, bob = await stored_user(uow), await stored_user(uow)
    doomed = await stored_conversation(uow, ann)
    kept = await stored_conversation(uow, ann)
    async with uow() as work:
        await append_exchange(work, exchange(doomed.id))
        kept_exchange = await append_exchange(work, exchange(kept.id))
        await work.commit()
    async with uow() as work:
        assert await work.conversations.delete(doomed.id, bob.id) is False
        assert await work.conversations.delete(doomed.id, ann.id) is True
        assert await work.conversations.delete(doomed.id, ann.id) is False
        await work.commit()
    async with uow() as work:
        assert await work.conversations.get_for_user(doomed.id, ann.id) is None
        assert await work.messages.list_for_conversation(doomed.id) == []
        assert await work.messages.list_for_conversation(kept.id) == [
            kept_exchange.user_message,
            kept_exchange.bot_message,
        ]


async def test_record_exchange_appends_two_messages_and_steps_the_counter(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    first = exchange(conversation.id, 1, T0 + timedelta(minutes=1))
    second = replace(
        exchange(
            conversation.id,
            2,
            T0 + timedelta(minutes=2),
            TokenUsage(prompt_tokens=7, completion_tokens=3),
        ),
        context_chars=25,
    )
    async with uow() as work:
        stored_first = await append_exchange(work, first)
        stored_second = await append_exchange(work, second)
        await work.commit()

    assert stored_first.user_message.seq == 1
    assert stored_first.user_message.sender == Sender.USER
    assert stored_first.user_message.content == "question 1"
    assert stored_first.user_message.id == first.user_message_id
    assert stored_first.user_message.created_at == first.created_at
    assert (
        stored_first.user_message.prompt_tokens,
        stored_first.user_message.completion_tokens,
    ) == (0, 0)
    assert stored_first.bot_message.seq == 2
    assert stored_first.bot_message.sender == Sender.BOT
    assert stored_first.bot_message.content == "answer 1"
    assert stored_first.bot_message.id == first.bot_message_id
    assert (stored_first.bot_message.prompt_tokens, stored_first.bot_message.completion_tokens) == (
        10,
        5,
    )
    assert (
        stored_first.conversation.messages_since_context_update,
        stored_first.conversation.message_count,
    ) == (2, 2)

    assert [stored_second.user_message.seq, stored_second.bot_message.seq] == [3, 4]
    assert stored_second.conversation == replace(
        conversation,
        messages_since_context_update=4,
        message_count=4,
        prompt_tokens=17,
        completion_tokens=8,
        # "question N" and "answer N": 10 + 8 characters an exchange.
        history_chars=36,
        context_chars=25,
        full_history_chars=10 + (18 + 10),
        updated_at=second.created_at,
        version=2,
    )
    async with uow() as work:
        assert await work.conversations.get_for_user(conversation.id, user.id) == (
            stored_second.conversation
        )
        assert await work.messages.list_for_conversation(conversation.id) == [
            stored_first.user_message,
            stored_first.bot_message,
            stored_second.user_message,
            stored_second.bot_message,
        ]


async def test_an_exchange_is_stored_only_when_committed(uow: UnitOfWorkFactory) -> None:
    """An exchange as the unit of work's first write (one statement on PostgreSQL) follows the
    unit of work like any other write: left uncommitted or rolled back, it is gone."""
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    async with uow() as work:
        await append_exchange(work, exchange(conversation.id, 1))
    async with uow() as work:
        await append_exchange(work, exchange(conversation.id, 2))
        await work.rollback()
        kept = await append_exchange(work, exchange(conversation.id, 3))
        await work.commit()
        await append_exchange(work, exchange(conversation.id, 4))
    async with uow() as work:
        stored = await work.conversations.get_for_user(conversation.id, user.id)
        messages = await work.messages.list_for_conversation(conversation.id)
    assert stored == kept.conversation
    assert (stored.message_count, stored.messages_since_context_update) == (2, 2)
    assert messages == [kept.user_message, kept.bot_message]
    assert [m.content for m in messages] == ["question 3", "answer 3"]


async def test_record_exchange_never_moves_updated_at_back(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user, updated_at=T0 + timedelta(days=1))
    async with uow() as work:
        stored = await append_exchange(work, exchange(conversation.id, at=T0))
        await work.commit()
    assert stored.conversation.updated_at == T0 + timedelta(days=1)


async def test_record_exchange_on_a_missing_conversation_stores_nothing(
    uow: UnitOfWorkFactory,
) -> None:
    missing = uuid4()
    async with uow() as work:
        with pytest.raises(ConversationNotFound):
            await append_exchange(work, exchange(missing))
    async with uow() as work:
        assert await work.messages.list_for_conversation(missing) == []


async def test_concurrent_exchanges_each_get_their_own_seqs(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)

    async def send(n: int) -> None:
        async with uow() as work:
            await append_exchange(work, exchange(conversation.id, n))
            await work.commit()

    await asyncio.gather(*(send(n) for n in range(10)))
    async with uow() as work:
        stored = await work.conversations.get_for_user(conversation.id, user.id)
        messages = await work.messages.list_for_conversation(conversation.id)
    assert stored is not None
    assert (stored.message_count, stored.messages_since_context_update) == (20, 20)
    assert [m.seq for m in messages] == list(range(1, 21))
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert (question.sender, answer.sender) == (Sender.USER, Sender.BOT)
        assert answer.content == question.content.replace("question", "answer")


def distillation(before: Conversation, through: int, **changes: object) -> DistillationWrite:
    return plan_distillation(
        before,
        metadata=SalesMetadata(interests=("laptop",), sale_status=SaleStatus.INTERESTED),
        through=through,
        usage=TokenUsage(prompt_tokens=100, completion_tokens=20),
        now=T0 + timedelta(hours=1),
        **changes,  # type: ignore[arg-type]
    )


async def test_apply_distillation_is_a_compare_and_set_on_the_version(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    stored = await stored_exchanges(uow, conversation.id, 3)
    write = distillation(stored.conversation, through=6)
    gone = distillation(replace(stored.conversation, id=uuid4()), through=6)
    async with uow() as work:
        applied = await work.conversations.apply_distillation(write)
        again = await work.conversations.apply_distillation(write)
        missing = await work.conversations.apply_distillation(gone)
        await work.commit()
    assert (applied, again, missing) == (True, False, False)
    async with uow() as work:
        after = await work.conversations.get_for_user(conversation.id, user.id)
    assert after == write.conversation
    assert (after.distilled_through, after.messages_since_context_update) == (6, 0)


async def test_an_exchange_planned_from_a_stale_conversation_writes_nothing(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    first = await stored_exchanges(uow, conversation.id, 1)
    async with uow() as work:
        # Planned from the conversation as it was before its first exchange: refused.
        await append_exchange(work, exchange(conversation.id, 2))
        stale = replace(first, expected_version=conversation.version)
        assert await work.conversations.record_exchange(stale) is False
        await work.commit()
    async with uow() as work:
        found = await work.conversations.get_with_messages(conversation.id, user.id, limit=10)
    assert found is not None
    stored, messages = found
    assert (stored.message_count, stored.version) == (4, 2)
    assert [m.content for m in messages] == ["question 0", "answer 0", "question 2", "answer 2"]


async def test_an_exchange_on_a_new_conversation_inserts_it_once(uow: UnitOfWorkFactory) -> None:
    from salesbot_core.exchange import plan_exchange

    user = await stored_user(uow)
    fresh = make_conversation(user)
    write = plan_exchange(
        fresh,
        is_new=True,
        user_message_id=uuid4(),
        bot_message_id=uuid4(),
        user_content="hello",
        bot_content="hi",
        usage=TokenUsage(prompt_tokens=3, completion_tokens=1),
        context_chars=5,
        created_at=T0,
    )
    async with uow() as work:
        assert await work.conversations.record_exchange(write) is True
        assert await work.conversations.record_exchange(write) is False  # the id is taken
        await work.commit()
    async with uow() as work:
        found = await work.conversations.get_with_messages(fresh.id, user.id, limit=10)
        locked = await work.conversations.for_update(fresh.id)
        nothing = await work.conversations.for_update(uuid4())
    assert found is not None
    assert found[0] == write.conversation == locked
    assert nothing is None
    assert list(found[1]) == [write.user_message, write.bot_message]


async def test_the_window_and_the_conversations_due(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    due = await stored_conversation(uow, user, updated_at=T0 - timedelta(days=2))
    also_due = await stored_conversation(uow, user, updated_at=T0 - timedelta(days=1))
    not_due = await stored_conversation(uow, user)
    last = await stored_exchanges(uow, due.id, 4)
    await stored_exchanges(uow, also_due.id, 3)
    await stored_exchanges(uow, not_due.id, 2)
    async with uow() as work:
        assert await work.conversations.apply_distillation(
            distillation(last.conversation, through=2)
        )
        await work.commit()
    async with uow() as work:
        listed = await work.conversations.due_for_distillation(at_least=6, limit=10)
        first_only = await work.conversations.due_for_distillation(at_least=6, limit=1)
        window = await work.conversations.window(due.id, limit=4)
        whole = await work.conversations.window(due.id, limit=100)
        missing = await work.conversations.window(uuid4(), limit=4)
    assert set(listed) == {due.id, also_due.id}
    assert len(first_only) == 1
    assert window is not None
    assert whole is not None
    assert window[0].distilled_through == 2
    assert [m.seq for m in window[1]] == [5, 6, 7, 8]
    assert [m.seq for m in whole[1]] == [3, 4, 5, 6, 7, 8]
    assert missing is None


# ---------------------------------------------------------------- messages


async def test_messages_are_listed_oldest_first_and_windowed_by_seq(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    await stored_exchanges(uow, conversation.id, 3)
    async with uow() as work:
        everything = await work.messages.list_for_conversation(conversation.id)
        window = await work.messages.list_after(conversation.id, 4)
        nothing = await work.messages.list_after(conversation.id, 6)
        unknown = await work.messages.list_for_conversation(uuid4())
    assert [m.seq for m in everything] == [1, 2, 3, 4, 5, 6]
    assert [m.content for m in everything[:2]] == ["question 0", "answer 0"]
    assert window == everything[4:]
    assert (nothing, unknown) == ([], [])
