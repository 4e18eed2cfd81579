"""``GET /admin/webhooks/deliveries``: the outbox's deliveries for staff, paged, filtered by
status, and ``POST .../{id}/retry`` queueing a dead one again; 403 for customers. The app's outbox writes to two URLs here; its delivery job is off
(no WEBHOOK_URLS in its settings), so the deliveries stay pending."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock
from salesbot_core.webhooks import DeliveryOutcome
from salesbot_postgres import Database
from tests.api.api_helpers import Customer, error_body, ok_data
from tests.api.conftest import Client, SignUp
from tests.api.test_admin_api import _grant, _log_in
from tests.api.test_chat_api import start

URLS = ("http://crm.example/hook", "http://backup.example/hook")
ROUTE = "/admin/webhooks/deliveries"


@pytest.fixture
async def webhook_database(database: Database) -> AsyncIterator[Database]:
    webhooks = Database(database.config, URLS)
    yield webhooks
    await webhooks.dispose()


@pytest.fixture
def app_database(webhook_database: Database) -> Database:
    return webhook_database


@pytest.fixture
def uow_factory(webhook_database: Database) -> UnitOfWorkFactory:
    return webhook_database.unit_of_work


@pytest.fixture
async def admin(
    client: Client, sign_up: SignUp, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> Customer:
    staff = await sign_up(email="staff@example.com", name="Shop Staff")
    await _grant(uow_factory, clock, staff.email)
    return await _log_in(client, staff)


async def test_staff_see_one_pending_delivery_per_event_and_url(
    client: Client, customer: Customer, admin: Customer
) -> None:
    conversation_id = await start(client, customer)

    data = ok_data(await client.get(ROUTE, headers=admin.headers))

    assert sorted(d["url"] for d in data) == sorted(URLS)
    for delivery in data:
        assert delivery["eventType"] == "conversation.created"
        assert delivery["status"] == "pending"
        assert delivery["attempts"] == 0
        assert delivery["lastError"] is None
        assert delivery["nextAttemptAt"] is not None
        assert delivery["deliveredAt"] is None
    assert data[0]["eventId"] == data[1]["eventId"]
    assert conversation_id  # the event is the conversation's creation


async def test_deliveries_page_with_a_link_and_filter_by_status(
    client: Client, customer: Customer, admin: Customer
) -> None:
    await start(client, customer, "I need a laptop")
    await start(client, customer, "I need a phone")

    first = await client.get(ROUTE, params={"limit": 3}, headers=admin.headers)
    page = ok_data(first)
    assert len(page) == 3
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    rest = ok_data(await client.get(link[1 : link.index(">")], headers=admin.headers))
    assert len(rest) == 1
    assert {d["id"] for d in page}.isdisjoint(d["id"] for d in rest)
    assert ok_data(await client.get(ROUTE, params={"status": "dead"}, headers=admin.headers)) == []
    assert (
        len(ok_data(await client.get(ROUTE, params={"status": "pending"}, headers=admin.headers)))
        == 4
    )


async def test_customers_are_refused_and_a_bad_status_is_400(
    client: Client, customer: Customer, admin: Customer
) -> None:
    error_body(await client.get(ROUTE, headers=customer.headers), 403, ROUTE)
    bad = await client.get(ROUTE, params={"status": "lost-in-the-post"}, headers=admin.headers)
    assert bad.status_code == 400
    assert (await client.get(ROUTE)).status_code == 401


async def _make_dead(uow_factory: UnitOfWorkFactory, clock: FakeClock, url: str) -> str:
    """Claim the delivery to ``url`` and record a failure with no retry left: dead, as the
    workers leave one whose retry window has passed."""
    now = clock.now()
    async with uow_factory() as work:
        claimed = await work.webhook_deliveries.claim(
            now=now, lease_until=now + timedelta(minutes=1), limit=10
        )
        target = next(d for d in claimed if d.url == url)
        outcome = DeliveryOutcome.failed(
            target.id, target.claim, status=500, error="HTTP 500", retry_at=None
        )
        assert await work.webhook_deliveries.record([outcome]) == {target.id}
        await work.commit()
    return str(target.id)


async def test_staff_queue_a_dead_delivery_again(
    client: Client,
    customer: Customer,
    admin: Customer,
    uow_factory: UnitOfWorkFactory,
    clock: FakeClock,
) -> None:
    await start(client, customer)
    dead = await _make_dead(uow_factory, clock, URLS[0])
    assert [
        d["id"]
        for d in ok_data(await client.get(ROUTE, params={"status": "dead"}, headers=admin.headers))
    ] == [dead]

    done = await client.post(f"{ROUTE}/{dead}/retry", headers=admin.headers)

    assert ok_data(done) is None
    assert done.json()["message"] == "Webhook delivery queued again"
    assert ok_data(await client.get(ROUTE, params={"status": "dead"}, headers=admin.headers)) == []
    again = next(
        d for d in ok_data(await client.get(ROUTE, headers=admin.headers)) if d["id"] == dead
    )
    assert again["status"] == "pending"
    assert again["attempts"] == 0
    assert again["nextAttemptAt"] is not None
    # Pending now: nothing to queue again, as for an id nobody knows.
    error_body(
        await client.post(f"{ROUTE}/{dead}/retry", headers=admin.headers),
        404,
        f"{ROUTE}/{dead}/retry",
    )


async def test_a_retry_is_refused_to_customers_and_unknown_or_malformed_ids(
    client: Client,
    customer: Customer,
    admin: Customer,
    uow_factory: UnitOfWorkFactory,
    clock: FakeClock,
) -> None:
    await start(client, customer)
    dead = await _make_dead(uow_factory, clock, URLS[1])
    path = f"{ROUTE}/{dead}/retry"

    error_body(await client.post(path, headers=customer.headers), 403, path)
    assert (await client.post(path)).status_code == 401
    unknown = f"{ROUTE}/{uuid.uuid4()}/retry"
    error_body(await client.post(unknown, headers=admin.headers), 404, unknown)
    assert (
        await client.post(f"{ROUTE}/not-a-uuid/retry", headers=admin.headers)
    ).status_code == 400
    # The refusals changed nothing: it is still dead.
    still = ok_data(await client.get(ROUTE, params={"status": "dead"}, headers=admin.headers))
    assert [d["id"] for d in still] == [dead]
