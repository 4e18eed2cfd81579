"""Webhooks in the core: which events a change causes, backoff, signatures, and delivery at
least once through the in-memory outbox."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import pytest

from salesbot_core.domain import Conversation, SalesMetadata, SaleStatus, TokenUsage, User
from salesbot_core.exchange import plan_distillation
from salesbot_core.testing import (
    InMemoryStore,
    InMemoryUnitOfWork,
    RecordingPoster,
    ScriptedAssistant,
    SequentialIds,
)
from salesbot_core.usecases import DeliverWebhooks, DeliveryPolicy, SendMessage
from salesbot_core.webhooks import (
    DeliveryOutcome,
    DeliveryStatus,
    EventType,
    RetryPolicy,
    distillation_events,
    retry_at,
    sign,
    verify,
)
from tests.unit.conftest import Core

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
URL = "http://crm.example/hook"
SECRET = "s" * 32
CUSTOMER = User(
    id=UUID(int=7),
    email="ann@example.com",
    name="Ann Buyer",
    phone="+14155552671",
    password_hash="x",
    created_at=T0,
    updated_at=T0,
)


def _conversation(status: SaleStatus | None) -> Conversation:
    return Conversation(
        id=UUID(int=9),
        user_id=CUSTOMER.id,
        title="Laptops",
        metadata=None if status is None else SalesMetadata(sale_status=status),
        messages_since_context_update=6,
        message_count=6,
        created_at=T0,
        updated_at=T0,
    )


def _events(before: SaleStatus | None, after: SaleStatus) -> list[EventType]:
    conversation = _conversation(before)
    write = plan_distillation(
        conversation,
        metadata=SalesMetadata(interests=("laptop",), sale_status=after),
        through=6,
        usage=TokenUsage(),
        now=T0,
    )
    return [e.type for e in distillation_events(conversation, write, CUSTOMER)]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, SaleStatus.EXPLORING, []),
        (None, SaleStatus.INTERESTED, [EventType.LEAD_STATUS_CHANGED]),
        (SaleStatus.INTERESTED, SaleStatus.INTERESTED, []),
        (
            SaleStatus.INTERESTED,
            SaleStatus.NEGOTIATING,
            [EventType.LEAD_STATUS_CHANGED, EventType.LEAD_HOT],
        ),
        (
            SaleStatus.NEGOTIATING,
            SaleStatus.CLOSED,
            [EventType.LEAD_STATUS_CHANGED, EventType.LEAD_CLOSED],
        ),
        (
            SaleStatus.EXPLORING,
            SaleStatus.LOST,
            [EventType.LEAD_STATUS_CHANGED, EventType.LEAD_LOST],
        ),
        (SaleStatus.CLOSED, SaleStatus.INTERESTED, [EventType.LEAD_STATUS_CHANGED]),
    ],
)
def test_a_distillation_causes_events_only_when_it_moves_the_status(
    before: SaleStatus | None, after: SaleStatus, expected: list[EventType]
) -> None:
    assert _events(before, after) == expected


def test_a_status_change_carries_the_lead() -> None:
    conversation = _conversation(SaleStatus.INTERESTED)
    metadata = SalesMetadata(interests=("laptop",), sale_status=SaleStatus.NEGOTIATING)
    write = plan_distillation(
        conversation, metadata=metadata, through=6, usage=TokenUsage(), now=T0
    )

    event = distillation_events(conversation, write, CUSTOMER)[0]

    assert event.data == {
        "from": "interested",
        "to": "negotiating",
        "metadata": msgspec.to_builtins(metadata),
        "customer": {
            "id": str(CUSTOMER.id),
            "name": "Ann Buyer",
            "email": "ann@example.com",
            "phone": "+14155552671",
        },
        "conversation": {"id": str(conversation.id), "title": "Laptops"},
    }
    assert event.data["metadata"]["saleStatus"] == "negotiating"


def test_backoff_doubles_up_to_its_cap_and_gives_up_after_the_window() -> None:
    policy = RetryPolicy(base_s=2, max_delay_s=10, give_up_after=timedelta(seconds=30))
    delays = [
        (retry_at(policy, attempts=n, queued_at=T0, now=T0) or T0) - T0 for n in (1, 2, 3, 4, 5)
    ]
    assert [d.total_seconds() for d in delays] == [2, 4, 8, 10, 10]
    assert retry_at(policy, attempts=3, queued_at=T0, now=T0 + timedelta(seconds=25)) is None


def test_an_outcome_says_what_the_delivery_becomes_and_a_failure_with_no_retry_is_dead() -> None:
    delivery, claim, retry = UUID(int=1), UUID(int=2), T0 + timedelta(seconds=4)

    done = DeliveryOutcome.succeeded(delivery, claim, status=204, at=T0)
    again = DeliveryOutcome.failed(delivery, claim, status=503, error="503", retry_at=retry)
    dead = DeliveryOutcome.failed(delivery, claim, error="timed out", retry_at=None)

    assert (done.becomes, done.delivered, done.delivered_at, done.error) == (
        DeliveryStatus.DELIVERED,
        True,
        T0,
        None,
    )
    assert (again.becomes, again.delivered, again.next_attempt_at) == (
        DeliveryStatus.PENDING,
        False,
        retry,
    )
    assert (dead.becomes, dead.next_attempt_at, dead.delivered_at) == (
        DeliveryStatus.DEAD,
        None,
        None,
    )


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(SECRET.encode(), "1700000000", body) == f"sha256={expected}"
    assert verify(SECRET.encode(), "1700000000", body, f"sha256={expected}")
    assert not verify(SECRET.encode(), "1700000001", body, f"sha256={expected}")


def _deliverer(core: Core, poster: RecordingPoster, **retry: float) -> DeliverWebhooks:
    policy = DeliveryPolicy(
        retry=RetryPolicy(
            base_s=retry.get("base_s", 1.0),
            give_up_after=timedelta(seconds=retry.get("for_s", 3600)),
        )
    )
    return DeliverWebhooks(core.store.uow_factory, poster, core.clock, SECRET, policy)


async def test_a_new_conversation_is_delivered_signed_and_retried_with_the_same_delivery_id() -> (
    None
):
    core = Core(store=InMemoryStore(webhook_urls=(URL,)))
    poster = RecordingPoster([500, 500, 500, 200])
    deliver = _deliverer(core, poster)
    sent = await core.send(user_id=UUID(int=1), content="a laptop please")

    delivered = 0
    for _ in range(6):
        delivered += await deliver()
        core.clock.advance(timedelta(seconds=10))
    assert delivered == 1
    assert len(poster.posts) == 4
    ids = {headers["X-Salesbot-Delivery"] for _, _, headers in poster.posts}
    assert len(ids) == 1
    url, body, headers = poster.posts[-1]
    assert url == URL
    assert headers["X-Salesbot-Event"] == "conversation.created"
    assert verify(
        SECRET.encode(), headers["X-Salesbot-Timestamp"], body, headers["X-Salesbot-Signature"]
    )
    payload = msgspec.json.decode(body)
    assert payload["type"] == "conversation.created"
    assert payload["id"] == headers["X-Salesbot-Delivery"]
    assert payload["data"]["conversation"]["id"] == str(sent.conversation.id)
    async with core.store.uow_factory() as uow:
        [row] = await uow.webhook_deliveries.page(limit=5, after=None, status=None)
    assert (row.status, row.attempts, row.last_status) == (DeliveryStatus.DELIVERED, 4, 200)


async def test_a_delivery_that_keeps_failing_is_dead_after_the_window() -> None:
    core = Core(store=InMemoryStore(webhook_urls=(URL,)))
    poster = RecordingPoster([503] * 100)
    deliver = _deliverer(core, poster, base_s=1.0, for_s=20)
    await core.send(user_id=UUID(int=1), content="a laptop please")

    for _ in range(30):
        await deliver()
        core.clock.advance(timedelta(seconds=5))

    async with core.store.uow_factory() as uow:
        [row] = await uow.webhook_deliveries.page(limit=5, after=None, status=None)
    assert row.status is DeliveryStatus.DEAD
    assert row.last_status == 503
    assert 2 <= row.attempts == len(poster.posts) < 30


async def test_a_later_exchange_and_a_failed_send_cause_no_event() -> None:
    assistant = ScriptedAssistant()
    core = Core(store=InMemoryStore(webhook_urls=(URL,)), assistant=assistant)
    first = await core.send(user_id=UUID(int=1), content="a laptop please")
    await core.send(
        user_id=UUID(int=1), content="for coding", conversation_id=first.conversation.id
    )
    async with core.store.uow_factory() as uow:
        rows = await uow.webhook_deliveries.page(limit=5, after=None, status=None)
    assert [r.event_type for r in rows] == [EventType.CONVERSATION_CREATED]


async def test_a_rolled_back_exchange_sends_nothing() -> None:
    """The store step fails after the outbox row is written: the unit of work is left without
    its commit, and the event goes with the exchange."""

    store = InMemoryStore(webhook_urls=(URL,))
    core = Core(store=store)
    real_factory = store.uow_factory

    class Boom(RuntimeError):
        pass

    def failing_factory() -> InMemoryUnitOfWork:
        work = real_factory()

        async def commit() -> None:
            raise Boom

        work.commit = commit  # type: ignore[method-assign]
        return work

    send = SendMessage(failing_factory, core.assistant, core.clock, SequentialIds())
    with pytest.raises(Boom):
        await send(user_id=UUID(int=1), content="a laptop please")
    poster = RecordingPoster()
    assert await _deliverer(core, poster)() == 0
    assert poster.posts == []


async def test_a_distillation_that_moves_the_status_writes_its_events_with_the_customer() -> None:
    assistant = ScriptedAssistant(
        distillations=[SalesMetadata(interests=("laptop",), sale_status=SaleStatus.NEGOTIATING)]
    )
    core = Core(store=InMemoryStore(webhook_urls=(URL,)), assistant=assistant)
    await core.register(email="ann@example.com", password="correct horse", name="Ann Buyer")
    async with core.store.uow_factory() as uow:
        user = await uow.users.get_by_email("ann@example.com")
    assert user is not None
    first = await core.send(user_id=user.id, content="a laptop please")
    for text in ("for coding", "under 1500, can you do 1400?"):
        await core.send(user_id=user.id, content=text, conversation_id=first.conversation.id)
    assert await core.settle(first.conversation.id) is not None

    poster = RecordingPoster()
    assert await _deliverer(core, poster)() == 3
    bodies = [msgspec.json.decode(body) for _, body, _ in poster.posts]
    assert sorted(b["type"] for b in bodies) == [
        "conversation.created",
        "lead.hot",
        "lead.status_changed",
    ]
    changed = next(b for b in bodies if b["type"] == "lead.status_changed")
    assert changed["data"]["from"] == "exploring"
    assert changed["data"]["to"] == "negotiating"
    assert changed["data"]["customer"]["email"] == "ann@example.com"
    assert changed["data"]["conversation"]["id"] == str(first.conversation.id)
