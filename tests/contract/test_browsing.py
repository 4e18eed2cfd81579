"""The contract of paging, search, sessions and sales insight, on every backend."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    SalesMetadata,
    SaleStatus,
    User,
)
from salesbot_core.exchange import DistillationWrite, plan_distillation
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import append_exchange
from tests.contract.conftest import Backend
from tests.contract.test_repositories import (
    T0,
    exchange,
    make_token,
    make_user,
    replace,
    stored_conversation,
    stored_exchanges,
    stored_user,
)


async def test_conversation_pages_newest_first_with_a_keyset_cursor(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    other = await stored_user(uow)
    same_time = T0 + timedelta(hours=1)
    made = [
        await stored_conversation(uow, user, updated_at=T0 + timedelta(minutes=n)) for n in range(5)
    ]
    made += [await stored_conversation(uow, user, updated_at=same_time) for _ in range(2)]
    await stored_conversation(uow, other)
    expected = sorted(made, key=lambda c: (c.updated_at, c.id), reverse=True)
    async with uow() as work:
        first = await work.conversations.page_for_user(user.id, limit=3)
        cursor = ConversationCursor(updated_at=first[-1].updated_at, id=first[-1].id)
        rest = await work.conversations.page_for_user(user.id, limit=10, after=cursor)
    assert [c.id for c in first] == [c.id for c in expected[:3]]
    assert [c.id for c in rest] == [c.id for c in expected[3:]]


async def test_search_matches_whole_words_of_the_title_or_one_message(
    uow: UnitOfWorkFactory,
) -> None:
    user = await stored_user(uow)
    titled = await stored_conversation(uow, user, title="Gaming laptop")
    talked = await stored_conversation(uow, user, title="Hello")
    split = await stored_conversation(uow, user, title="Other")
    async with uow() as work:
        await append_exchange(
            work, replace(exchange(talked.id), user_content="I want an RTX graphics card")
        )
        await append_exchange(
            work, replace(exchange(split.id), user_content="graphics", bot_content="card")
        )
        await work.commit()

    async def found(query: str) -> set[UUID]:
        async with uow() as work:
            page = await work.conversations.page_for_user(user.id, limit=10, query=query)
        return {c.id for c in page}

    assert await found("laptop") == {titled.id}
    assert await found("Graphics CARD") == {talked.id}
    assert await found("graphics") == {talked.id, split.id}
    assert await found("graph") == set()
    assert await found("gaming card") == set()


async def test_message_pages_walk_back_by_seq(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    async with uow() as work:
        for n in range(5):
            await append_exchange(work, exchange(conversation.id, n))
        await work.commit()
        latest = await work.messages.page_before(conversation.id, limit=4)
        older = await work.messages.page_before(conversation.id, limit=4, before_seq=7)
        oldest = await work.messages.page_before(conversation.id, limit=4, before_seq=3)
    assert [m.seq for m in latest] == [7, 8, 9, 10]
    assert [m.seq for m in older] == [3, 4, 5, 6]
    assert [m.seq for m in oldest] == [1, 2]


async def test_a_conversation_reads_with_its_page_of_messages(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    other = await stored_user(uow)
    conversation = await stored_conversation(uow, user)
    empty = await stored_conversation(uow, user)
    await stored_exchanges(uow, conversation.id, 5)
    async with uow() as work:
        latest = await work.conversations.get_with_messages(conversation.id, user.id, limit=4)
        older = await work.conversations.get_with_messages(
            conversation.id, user.id, limit=4, before_seq=3
        )
        nothing = await work.conversations.get_with_messages(empty.id, user.id, limit=4)
        foreign = await work.conversations.get_with_messages(conversation.id, other.id, limit=4)
        missing = await work.conversations.get_with_messages(uuid4(), user.id, limit=4)
        alone = await work.conversations.get_for_user(conversation.id, user.id)
        page = await work.messages.page_before(conversation.id, limit=4)
    assert latest is not None
    assert older is not None
    assert nothing is not None
    # The same conversation and the same messages (every field) as the two separate reads.
    assert latest[0] == alone
    assert list(latest[1]) == list(page)
    assert [m.seq for m in latest[1]] == [7, 8, 9, 10]
    assert [m.seq for m in older[1]] == [1, 2]
    assert nothing == (empty, [])
    assert foreign is None
    assert missing is None


async def test_sessions_are_live_families(uow: UnitOfWorkFactory) -> None:
    user = await stored_user(uow)
    other = await stored_user(uow)
    now = T0 + timedelta(hours=2)
    family = uuid4()
    first = make_token(user, family_id=family, created_at=T0, revoked_at=T0 + timedelta(hours=1))
    live = make_token(user, family_id=family, created_at=T0 + timedelta(hours=1), ip="10.0.0.9")
    older_session = make_token(user, created_at=T0 + timedelta(minutes=30))
    expired = make_token(user, expires_at=now - timedelta(seconds=1))
    async with uow() as work:
        for token in (first, live, older_session, expired, make_token(other)):
            await work.refresh_tokens.add(token)
        await work.commit()
        sessions = await work.refresh_tokens.sessions_for_user(user.id, now)
    assert [s.id for s in sessions] == [family, older_session.family_id]
    assert sessions[0].created_at == T0
    assert sessions[0].last_used_at == live.created_at
    assert sessions[0].expires_at == live.expires_at
    assert sessions[0].ip == "10.0.0.9"
    async with uow() as work:
        assert not await work.refresh_tokens.revoke_session(other.id, family, "ended", now)
        assert not await work.refresh_tokens.revoke_session(user.id, expired.family_id, "x", now)
        assert await work.refresh_tokens.revoke_session(user.id, family, "ended", now)
        await work.commit()
        remaining = await work.refresh_tokens.sessions_for_user(user.id, now)
        revoked = await work.refresh_tokens.get_by_hash(live.token_hash)
    assert [s.id for s in remaining] == [older_session.family_id]
    assert revoked is not None
    assert revoked.revoked_reason == "ended"


async def _distilled(
    backend: Backend, user: User, metadata: SalesMetadata | None, created: int
) -> UUID:
    """A conversation created ``created`` days after T0 with one exchange and ``metadata``."""
    at = T0 + timedelta(days=created)
    conversation = await stored_conversation(backend.uow, user, created_at=at, updated_at=at)
    async with backend.uow() as work:
        written = await append_exchange(work, exchange(conversation.id, created, at))
        if metadata is not None:
            await work.conversations.apply_distillation(
                plan_distillation(
                    written.conversation,
                    metadata=metadata,
                    through=2,
                    usage=replace(exchange(conversation.id).usage, prompt_tokens=100),
                    now=at,
                )
            )
        await work.commit()
    return conversation.id


async def test_insight_figures_and_leads(backend: Backend) -> None:
    anna = await stored_user(backend.uow)
    bruno = await stored_user(backend.uow)
    closed = await _distilled(
        backend,
        anna,
        SalesMetadata(
            interests=("laptop", "Gaming"), offered_products=("XPS",), sale_status="closed"
        ),
        0,
    )
    hot = await _distilled(
        backend,
        bruno,
        SalesMetadata(
            interests=("laptop",),
            offered_products=("XPS", "MacBook"),
            rejected_products=("Chromebook",),
            sale_status=SaleStatus.NEGOTIATING,
        ),
        1,
    )
    hotter = await _distilled(
        backend,
        anna,
        SalesMetadata(interests=("gaming", "phone"), sale_status=SaleStatus.NEGOTIATING),
        2,
    )
    fresh = await _distilled(backend, bruno, None, 3)

    figures = await backend.insight.figures(since=T0 + timedelta(days=1), top=2)
    assert figures.conversations == 4
    assert figures.by_status == {
        SaleStatus.EXPLORING: 1,
        SaleStatus.INTERESTED: 0,
        SaleStatus.NEGOTIATING: 2,
        SaleStatus.CLOSED: 1,
        SaleStatus.LOST: 0,
    }
    assert [(c.name, c.count) for c in figures.top_interests] == [("gaming", 2), ("laptop", 2)]
    assert [(c.name, c.count) for c in figures.most_offered] == [("xps", 2), ("macbook", 1)]
    assert [(c.name, c.count) for c in figures.most_rejected] == [("chromebook", 1)]
    assert [(d.day, d.started, d.closed) for d in figures.conversion] == [
        (date(2025, 1, 16), 1, 0),
        (date(2025, 1, 17), 1, 0),
        (date(2025, 1, 18), 1, 0),
    ]
    assert figures.usage.exchanges == 4
    assert figures.usage.prompt_tokens == 4 * 10 + 3 * 100
    assert figures.usage.completion_tokens == 4 * 5 + 3 * 5

    leads = await backend.insight.leads(status=SaleStatus.NEGOTIATING, limit=10)
    assert [lead.conversation_id for lead in leads] == [hotter, hot]
    assert leads[0].customer_email == anna.email
    assert leads[0].last_message is not None
    assert leads[0].last_message.content == "answer 2"
    assert leads[0].sale_status is SaleStatus.NEGOTIATING
    everyone = await backend.insight.leads(status=None, limit=2)
    assert [lead.conversation_id for lead in everyone] == [fresh, hotter]
    cursor = ConversationCursor(updated_at=everyone[-1].updated_at, id=everyone[-1].conversation_id)
    rest = await backend.insight.leads(status=None, limit=5, after=cursor)
    assert [lead.conversation_id for lead in rest] == [hot, closed]
    exploring = await backend.insight.leads(status=SaleStatus.EXPLORING, limit=5)
    assert [lead.conversation_id for lead in exploring] == [fresh]
    assert exploring[0].metadata is None


async def test_leads_search_the_customer_name_email_and_title_in_any_case(
    backend: Backend,
) -> None:
    ana = await stored_user(
        backend.uow, make_user(email="ana.torres@example.com", name="Ana Torres")
    )
    bruno = await stored_user(backend.uow, make_user(email="bruno@shop.example", name="Bruno Díaz"))
    at = [T0 + timedelta(minutes=n) for n in range(5)]
    gaming = await stored_conversation(backend.uow, bruno, title="Gaming LAPTOP", updated_at=at[0])
    coffee = await stored_conversation(backend.uow, ana, title="Coffee grinder", updated_at=at[1])
    sale = await stored_conversation(backend.uow, bruno, title="50% off_deal", updated_at=at[2])
    closed = await stored_conversation(
        backend.uow,
        ana,
        title="Laptop bag",
        updated_at=at[3],
        metadata=SalesMetadata(sale_status=SaleStatus.CLOSED),
    )

    async def found(
        search: str, status: SaleStatus | None = None, after: ConversationCursor | None = None
    ) -> list[UUID]:
        leads = await backend.insight.leads(search=search, status=status, limit=10, after=after)
        return [lead.conversation_id for lead in leads]

    assert await found("laptop") == [closed.id, gaming.id]  # title, any case
    assert await found("torres") == [closed.id, coffee.id]  # name
    assert await found("díaz") == [sale.id, gaming.id]  # name, not ASCII
    assert await found("@shop.exa") == [sale.id, gaming.id]  # email
    assert await found("%") == [sale.id]  # no wildcard: the character itself
    assert await found("f_d") == [sale.id]
    assert await found("nobody") == []
    assert await found("laptop", status=SaleStatus.CLOSED) == [closed.id]
    assert await found("laptop", status=SaleStatus.EXPLORING) == [gaming.id]
    after = ConversationCursor(updated_at=closed.updated_at, id=closed.id)
    assert await found("laptop", after=after) == [gaming.id]
    assert await found("laptop", status=SaleStatus.CLOSED, after=after) == []


async def test_a_lead_reads_whole_with_its_latest_messages_and_distillations(
    backend: Backend,
) -> None:
    anna = await stored_user(backend.uow)
    at = T0 + timedelta(days=1)
    conversation = await stored_conversation(backend.uow, anna, created_at=at, updated_at=at)
    left = [
        SalesMetadata(interests=("laptop",)),
        SalesMetadata(interests=("laptop",), offered_products=("XPS",), sale_status="negotiating"),
    ]
    async with backend.uow() as work:
        written = await append_exchange(work, exchange(conversation.id, 1, at))
        current = written.conversation
        for step, metadata in enumerate(left, start=1):
            written = await append_exchange(work, exchange(conversation.id, step + 1, at))
            write = plan_distillation(
                written.conversation,
                metadata=metadata,
                through=written.conversation.message_count,
                usage=replace(exchange(conversation.id).usage, prompt_tokens=100 * step),
                now=at + timedelta(minutes=step),
            )
            assert await work.conversations.apply_distillation(write)
            current = write.conversation
        await work.commit()
    assert current.message_count == 6

    found = await backend.insight.conversation(conversation.id, messages=4, distillations=1)

    assert found is not None
    assert found.lead.conversation_id == conversation.id
    assert found.lead.customer_email == anna.email
    assert found.lead.metadata == left[-1]
    assert found.total_messages == 6
    assert [m.seq for m in found.messages] == [3, 4, 5, 6]
    assert found.total_distillations == 2
    [latest] = found.distillations
    assert latest.metadata == left[-1]
    assert (latest.through_seq, latest.covered_messages, latest.prompt_tokens) == (6, 2, 200)
    assert latest.distilled_at == at + timedelta(minutes=2)
    everything = await backend.insight.conversation(conversation.id, messages=10, distillations=10)
    assert everything is not None
    assert [d.metadata for d in everything.distillations] == left
    assert [d.through_seq for d in everything.distillations] == [4, 6]
    assert await backend.insight.conversation(uuid4(), messages=4, distillations=1) is None


async def _due_for_distillation(
    backend: Backend, now: datetime
) -> tuple[Conversation, DistillationWrite]:
    """A stored conversation of three exchanges, as stored, and the distillation of its window
    planned at ``now``."""
    anna = await stored_user(backend.uow)
    conversation = await stored_conversation(backend.uow, anna)
    stored = await stored_exchanges(backend.uow, conversation.id, 3)
    write = plan_distillation(
        stored.conversation,
        metadata=SalesMetadata(interests=("laptop",)),
        through=6,
        usage=exchange(conversation.id).usage,
        now=now,
    )
    return stored.conversation, write


async def test_applying_a_distillation_keeps_its_record_and_ends_its_lease(
    backend: Backend,
) -> None:
    now, lease = T0 + timedelta(hours=1), T0 + timedelta(hours=2)
    conversation, write = await _due_for_distillation(backend, now)
    async with backend.uow() as work:
        assert await work.conversations.claim_distillation(conversation.id, now=now, until=lease)
        # Planned from a version that moved: nothing is written, the lease stays.
        stale = replace(write, expected_version=conversation.version - 1)
        assert not await work.conversations.apply_distillation(stale, lease_until=lease)
        assert not await work.conversations.claim_distillation(
            conversation.id, now=now, until=lease
        )
        assert await work.conversations.apply_distillation(write, lease_until=lease)
        await work.commit()
    found = await backend.insight.conversation(conversation.id, messages=1, distillations=5)
    assert found is not None
    assert [(d.through_seq, d.metadata) for d in found.distillations] == [
        (6, write.record.metadata)
    ]
    async with backend.uow() as work:
        # The lease ended with the change that applied it: it can be taken again at once.
        assert await work.conversations.claim_distillation(conversation.id, now=now, until=lease)
        await work.commit()


async def test_applying_a_distillation_leaves_a_lease_taken_since_alone(
    backend: Backend,
) -> None:
    now = T0 + timedelta(hours=1)
    conversation, write = await _due_for_distillation(backend, now)
    async with backend.uow() as work:
        # Another process's lease (taken after ours ran out) is not ours to end.
        assert await work.conversations.claim_distillation(
            conversation.id, now=now, until=now + timedelta(minutes=5)
        )
        assert await work.conversations.apply_distillation(
            write, lease_until=now - timedelta(minutes=1)
        )
        assert not await work.conversations.claim_distillation(
            conversation.id, now=now, until=now + timedelta(minutes=6)
        )
        await work.commit()


async def test_a_lease_is_not_claimed_for_a_window_distilled_since_it_was_read(
    backend: Backend,
) -> None:
    now = T0 + timedelta(hours=1)
    conversation, write = await _due_for_distillation(backend, now)
    read_through = conversation.distilled_through
    async with backend.uow() as work:
        # Another process distilled the window (and ended its lease) after this one read it.
        assert await work.conversations.apply_distillation(write)
        assert not await work.conversations.claim_distillation(
            conversation.id,
            now=now,
            until=now + timedelta(minutes=1),
            distilled_through=read_through,
        )
        assert await work.conversations.claim_distillation(
            conversation.id, now=now, until=now + timedelta(minutes=1), distilled_through=6
        )
        await work.commit()
