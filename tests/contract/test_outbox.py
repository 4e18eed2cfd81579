"""The outbox contract, on the in-memory fake and on PostgreSQL: events are written with the
change that causes them (a rolled-back change leaves none), one delivery per event and URL,
claimed under a lease, with outcomes recorded only under the claim that holds it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from salesbot_core.domain import Conversation, ConversationCursor, TokenUsage
from salesbot_core.exchange import plan_exchange
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import InMemoryStore
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    EventType,
    exchange_events,
)
from salesbot_postgres import Database
from tests.contract.test_repositories import make_user

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
URLS = ("http://crm.example/hook", "http://backup.example/hook")
LEASE = timedelta(seconds=60)


@pytest.fixture
async def webhook_database(database: Database) -> AsyncIterator[Database]:
    """The emptied test database, its outbox writing a delivery per URL of ``URLS``."""
    webhooks = Database(database.config, URLS)
    yield webhooks
    await webhooks.dispose()


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryStore(webhook_urls=URLS).uow_factory
    webhooks: Database = request.getfixturevalue("webhook_database")
    return webhooks.unit_of_work


async def _new_conversation_exchange(uow: UnitOfWorkFactory, *, commit: bool) -> Conversation:
    user = make_user(email=f"{uuid4().hex[:8]}@example.com")
    async with uow() as work:
        await work.users.add(user)
        await work.commit()
    before = Conversation(
        id=uuid4(), user_id=user.id, title="Laptops", created_at=T0, updated_at=T0
    )
    write = plan_exchange(
        before,
        is_new=True,
        user_message_id=uuid4(),
        bot_message_id=uuid4(),
        user_content="a laptop",
        bot_content="which one?",
        usage=TokenUsage(),
        context_chars=8,
        created_at=T0,
    )
    async with uow() as work:
        assert await work.conversations.record_exchange(write)
        await work.outbox.add(exchange_events(write))
        if commit:
            await work.commit()
    return write.conversation


async def _claim(
    uow: UnitOfWorkFactory, now: datetime = T0, limit: int = 10
) -> Sequence[ClaimedDelivery]:
    async with uow() as work:
        claimed = await work.webhook_deliveries.claim(now=now, lease_until=now + LEASE, limit=limit)
        await work.commit()
    return claimed


async def test_a_committed_change_has_one_delivery_per_url(uow: UnitOfWorkFactory) -> None:
    conversation = await _new_conversation_exchange(uow, commit=True)

    claimed = await _claim(uow)

    assert sorted(d.url for d in claimed) == sorted(URLS)
    assert {d.event.type for d in claimed} == {EventType.CONVERSATION_CREATED}
    assert len({d.event_id for d in claimed}) == 1
    assert len({d.id for d in claimed}) == 2
    assert all(d.attempts == 1 for d in claimed)
    assert claimed[0].event.data["conversation"]["id"] == str(conversation.id)


async def test_a_rolled_back_change_leaves_no_event(uow: UnitOfWorkFactory) -> None:
    await _new_conversation_exchange(uow, commit=False)

    assert await _claim(uow) == []
    async with uow() as work:
        assert await work.webhook_deliveries.page(limit=10, after=None, status=None) == []


async def test_a_claimed_delivery_is_claimed_again_only_when_its_lease_ends(
    uow: UnitOfWorkFactory,
) -> None:
    await _new_conversation_exchange(uow, commit=True)
    first = await _claim(uow, limit=1)

    assert len(first) == 1
    again = await _claim(uow, T0 + timedelta(seconds=1))
    assert [d.id for d in again] != [first[0].id]
    assert len(again) == 1  # only the other URL's delivery
    after_lease = await _claim(uow, T0 + LEASE + timedelta(seconds=1))
    assert {d.id for d in after_lease} == {first[0].id, again[0].id}
    assert all(d.attempts == 2 for d in after_lease)
    # The first worker's claim was lost: its outcome is refused, the new claim's is kept.
    async with uow() as work:
        stale = await work.webhook_deliveries.record(
            [DeliveryOutcome.succeeded(first[0].id, first[0].claim, status=200, at=T0)]
        )
        current = next(d for d in after_lease if d.id == first[0].id)
        kept = await work.webhook_deliveries.record(
            [DeliveryOutcome.succeeded(current.id, current.claim, status=204, at=T0)]
        )
        await work.commit()
    assert (stale, kept) == (set(), {current.id})
    async with uow() as work:
        (done,) = [
            d
            for d in await work.webhook_deliveries.page(limit=10, after=None, status=None)
            if d.id == current.id
        ]
    assert (done.status, done.last_status, done.delivered_at) == (DeliveryStatus.DELIVERED, 204, T0)


async def test_a_batch_of_outcomes_is_recorded_at_once_each_under_its_claim(
    uow: UnitOfWorkFactory,
) -> None:
    await _new_conversation_exchange(uow, commit=True)
    await _new_conversation_exchange(uow, commit=True)
    claimed = await _claim(uow)
    assert len(claimed) == 4
    retry = T0 + timedelta(seconds=5)
    ok, failing, dying, lost = claimed
    async with uow() as work:
        kept = await work.webhook_deliveries.record(
            [
                DeliveryOutcome.succeeded(ok.id, ok.claim, status=200, at=T0),
                DeliveryOutcome.failed(
                    failing.id, failing.claim, status=503, error="answered 503", retry_at=retry
                ),
                DeliveryOutcome.failed(dying.id, dying.claim, error="gone", retry_at=None),
                # Under a claim that is not the one holding it: refused.
                DeliveryOutcome.succeeded(lost.id, uuid4(), status=200, at=T0),
            ]
        )
        await work.commit()
    assert kept == {ok.id, failing.id, dying.id}
    async with uow() as work:
        rows = {
            d.id: d for d in await work.webhook_deliveries.page(limit=10, after=None, status=None)
        }
    assert (rows[ok.id].status, rows[ok.id].last_status, rows[ok.id].last_error) == (
        DeliveryStatus.DELIVERED,
        200,
        None,
    )
    assert (rows[failing.id].status, rows[failing.id].next_attempt_at) == (
        DeliveryStatus.PENDING,
        retry,
    )
    assert (rows[failing.id].last_status, rows[failing.id].last_error) == (503, "answered 503")
    assert (rows[dying.id].status, rows[dying.id].last_error) == (DeliveryStatus.DEAD, "gone")
    assert rows[lost.id].status is DeliveryStatus.PENDING
    assert rows[lost.id].next_attempt_at == T0 + LEASE  # still leased to its claim


async def test_a_failure_is_retried_when_due_and_a_dead_one_is_requeued(
    uow: UnitOfWorkFactory,
) -> None:
    await _new_conversation_exchange(uow, commit=True)
    claimed = await _claim(uow)
    retry = T0 + timedelta(seconds=5)
    async with uow() as work:
        kept = await work.webhook_deliveries.record(
            [
                DeliveryOutcome.failed(
                    claimed[0].id,
                    claimed[0].claim,
                    status=500,
                    error="answered 500",
                    retry_at=retry,
                ),
                DeliveryOutcome.failed(
                    claimed[1].id, claimed[1].claim, error="timed out", retry_at=None
                ),
            ]
        )
        await work.commit()
    assert kept == {claimed[0].id, claimed[1].id}

    assert await _claim(uow, retry - timedelta(seconds=1)) == []
    due = await _claim(uow, retry)
    assert [d.id for d in due] == [claimed[0].id]
    async with uow() as work:
        dead = await work.webhook_deliveries.page(limit=10, after=None, status=DeliveryStatus.DEAD)
        assert [(d.id, d.last_error, d.attempts) for d in dead] == [(claimed[1].id, "timed out", 1)]
        assert await work.webhook_deliveries.requeue_dead(T0) == 1
        assert not await work.webhook_deliveries.requeue(claimed[0].id, T0)  # still pending
        await work.commit()
    requeued = await _claim(uow, T0)
    assert [(d.id, d.attempts) for d in requeued] == [(claimed[1].id, 1)]


async def test_deliveries_page_newest_first(uow: UnitOfWorkFactory) -> None:
    for _ in range(3):
        await _new_conversation_exchange(uow, commit=True)
    async with uow() as work:
        everything = await work.webhook_deliveries.page(limit=10, after=None, status=None)
        assert len(everything) == 6
        keys = [(d.created_at, d.id) for d in everything]
        assert keys == sorted(keys, reverse=True)
        cursor = ConversationCursor(updated_at=everything[1].created_at, id=everything[1].id)
        rest = await work.webhook_deliveries.page(limit=10, after=cursor, status=None)
        assert [d.id for d in rest] == [d.id for d in everything[2:]]
        assert all(d.status is DeliveryStatus.PENDING for d in everything)


@pytest.mark.postgres
async def test_concurrent_claims_skip_locked_rows_instead_of_waiting(
    webhook_database: Database,
) -> None:
    uow = webhook_database.unit_of_work
    await _new_conversation_exchange(uow, commit=True)
    async with uow() as holding:
        held = await holding.webhook_deliveries.claim(now=T0, lease_until=T0 + LEASE, limit=1)
        # The first claim's transaction is still open: its row is locked, not yet leased.
        async with asyncio.timeout(5), uow() as other:
            others = await other.webhook_deliveries.claim(now=T0, lease_until=T0 + LEASE, limit=10)
            await other.commit()
        await holding.commit()
    assert len(held) == 1
    assert len(others) == 1
    assert others[0].id != held[0].id
