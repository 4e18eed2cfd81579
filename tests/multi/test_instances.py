"""Two ``salesbot serve`` instances (their own ports) on one PostgreSQL and one Redis, as a shop
behind a load balancer runs them: failed logins are counted together, a refresh token is
rotated once whichever instance each racer reaches, and a conversation whose sends alternate
between instances keeps its counter and metadata right and is distilled once per window, a
conversation left due is distilled once although both instances' sweeps find it, each stale
refresh token is deleted by one of the two cleanups, and webhook events of sends over both
instances reach the receiver once each, delivered by both instances' workers."""

from __future__ import annotations

import contextlib
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest

from salesbot_core.threshold import DISTIL_AT
from salesbot_openai.testing import Delay, FakeOpenAIServer, HttpError, RequestKind
from tests.support.database import migrated_database
from tests.support.receiver import Received, receiving
from tests.support.redis import redis_namespace
from tests.support.serve import TEST_SECRETS, Served, serve_env, served

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 90
PASSWORD = "correct horse battery"
MAX_FAILURES = 4
SETTLE_WITHIN_S = 60.0


@pytest.fixture
def fake_llm() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def shared_database(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, prefix="salesbot_multi_") as url:
        yield url


@pytest.fixture
def instances(
    fake_llm: FakeOpenAIServer, shared_database: str, redis_server_url: str
) -> Iterator[tuple[Served, Served]]:
    with _two_instances(fake_llm, shared_database, redis_server_url) as pair:
        yield pair


@contextlib.contextmanager
def _two_instances(
    fake_llm: FakeOpenAIServer, database_url: str, redis_url: str, **extra: str
) -> Iterator[tuple[Served, Served]]:
    """Two instances with the same configuration (``extra`` on top), as a deployment gives
    them; the first is healthy before the second starts."""
    env = serve_env(
        **TEST_SECRETS,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        REDIS_NAMESPACE=redis_namespace(),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=fake_llm.base_url,
        OPENAI_MAX_RETRIES="0",
        DISTIL_BUDGET_S="30",
        # Both sweeps look for conversations left due every second: they race for each one.
        DISTIL_SWEEP_INTERVAL="1s",
        LOGIN_MAX_FAILURES_PER_ACCOUNT=str(MAX_FAILURES),
        SHUTDOWN_TIMEOUT_S="10",
        **extra,
    )
    with contextlib.ExitStack() as stack:
        pair = tuple(
            stack.enter_context(
                served(
                    env,
                    Path(tempfile.mkdtemp(prefix=f"salesbot-multi-{n}-")),
                    start_timeout_s=START_TIMEOUT_S,
                )
            )
            for n in range(2)
        )
        yield pair[0], pair[1]


def _register(base_url: str) -> str:
    email = f"multi-{time.monotonic_ns()}@example.com"
    registered = httpx.post(
        f"{base_url}/users/register",
        json={"email": email, "password": PASSWORD, "name": "Jane Doe"},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    return email


def _login(base_url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(
        f"{base_url}/auth/login", json={"email": email, "password": password}, timeout=30
    )


def test_failed_logins_over_both_instances_are_counted_together(
    instances: tuple[Served, Served],
) -> None:
    a, b = instances
    email = _register(a.base_url)
    # Each instance alone sees half the failures: only a shared count reaches the limit.
    for n in range(MAX_FAILURES):
        failed = _login((a, b)[n % 2].base_url, email, "wrong password")
        assert failed.status_code == 401, failed.text

    for instance in (a, b):
        refused = _login(instance.base_url, email, "wrong password")
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0


def test_eight_parallel_refreshes_over_both_instances_rotate_once(
    instances: tuple[Served, Served],
) -> None:
    a, b = instances
    email = _register(a.base_url)
    login = _login(a.base_url, email)
    assert login.status_code == 200, login.text
    token = login.json()["data"]["refreshToken"]
    start = threading.Barrier(8)
    statuses: list[int] = []

    def refresh(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            http.get("/health")  # connected before the race starts
            start.wait(timeout=30)
            statuses.append(http.post("/auth/refresh", json={"refreshToken": token}).status_code)

    racers = [threading.Thread(target=refresh, args=((a, b)[n % 2].base_url,)) for n in range(8)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)

    assert len(statuses) == 8
    assert statuses.count(200) == 1, statuses
    assert set(statuses) == {200, 401}, statuses


def _stored(database_url: str, conversation_id: str) -> tuple[int, int, int, int, object]:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT message_count, messages_since_context_update, distilled_through, version,"
            " metadata FROM conversations WHERE id = %s",
            (conversation_id,),
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2], row[3], row[4]


def _stop(instance: Served) -> None:
    """Stop an instance as a deployment does (SIGINT): it drains its distillations first."""
    instance.process.send_signal(signal.SIGINT)
    assert instance.process.wait(timeout=SETTLE_WITHIN_S) == 0, instance.output()


def test_sends_alternating_between_instances_are_distilled_once_per_window(
    instances: tuple[Served, Served], fake_llm: FakeOpenAIServer, shared_database: str
) -> None:
    a, b = instances
    email = _register(a.base_url)
    access = _login(a.base_url, email).json()["data"]["accessToken"]
    auth = {"Authorization": f"Bearer {access}"}
    # The first distillation is slow: the next sends reach the other instance while it is
    # still running on the first.
    fake_llm.enqueue(RequestKind.DISTIL, Delay(3.0))
    conversation: str | None = None
    exchanges = 6
    for n in range(exchanges):
        body = {"content": f"I need a laptop, message {n}"}
        if conversation:
            body["conversationId"] = conversation
        sent = httpx.post(
            f"{(a, b)[n % 2].base_url}/chat/send", json=body, headers=auth, timeout=60
        )
        assert sent.status_code == 201, sent.text
        conversation = sent.json()["data"]["conversation"]["id"]
    assert conversation is not None
    _stop(a)
    _stop(b)

    count, counter, distilled_through, version, metadata = _stored(shared_database, conversation)
    assert count == 2 * exchanges
    assert counter == count - distilled_through
    assert counter < DISTIL_AT  # not left due
    assert isinstance(metadata, dict)
    assert metadata["saleStatus"] == "interested"
    # Every write bumps the version: the creating exchange makes it 1, each later exchange and
    # each applied distillation adds one. Every LLM call was applied: none was made twice.
    applied = version - exchanges
    assert applied >= 1
    assert len(fake_llm.requests_of(RequestKind.DISTIL)) == applied


def test_a_conversation_left_due_is_distilled_once_by_the_two_sweeps(
    instances: tuple[Served, Served], fake_llm: FakeOpenAIServer, shared_database: str
) -> None:
    a, b = instances
    email = _register(a.base_url)
    access = _login(a.base_url, email).json()["data"]["accessToken"]
    auth = {"Authorization": f"Bearer {access}"}
    # The exchange's own distillation fails (the conversation stays due); the sweep's is slow,
    # so the other instance's sweep finds the conversation still due while it runs.
    fake_llm.enqueue(RequestKind.DISTIL, HttpError(500), Delay(3.0))
    conversation: str | None = None
    for n in range(3):
        body = {"content": f"I need a laptop, message {n}"}
        if conversation:
            body["conversationId"] = conversation
        sent = httpx.post(f"{a.base_url}/chat/send", json=body, headers=auth, timeout=60)
        assert sent.status_code == 201, sent.text
        conversation = sent.json()["data"]["conversation"]["id"]
    assert conversation is not None

    deadline = time.monotonic() + SETTLE_WITHIN_S
    while (stored := _stored(shared_database, conversation))[4] is None:
        assert time.monotonic() < deadline, f"the sweeps never distilled it: {stored}"
        time.sleep(0.05)
    _stop(a)
    _stop(b)

    count, counter, distilled_through, _, metadata = _stored(shared_database, conversation)
    assert (count, counter, distilled_through) == (6, 0, 6)
    assert isinstance(metadata, dict)
    # The failed call, then one for both sweeps.
    assert len(fake_llm.requests_of(RequestKind.DISTIL)) == 2


def _wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + SETTLE_WITHIN_S
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.05)


def _logged(instance: Served, pattern: str) -> list[int]:
    """The numbers ``pattern`` (one group) caught in the instance's log, in order."""
    return [int(found) for found in re.findall(pattern, instance.output())]


CLEANED = r"refresh-token cleanup deleted (\d+) stale tokens"
CLEANUP_SKIPPED = "refresh-token cleanup skipped: another process is running it"


def test_each_stale_refresh_token_is_deleted_by_one_of_the_two_cleanups(
    fake_llm: FakeOpenAIServer, shared_database: str, redis_server_url: str
) -> None:
    stale, live = 40, 3
    user = uuid4()
    with psycopg.connect(shared_database, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO users (id, email, password_hash, name) VALUES (%s, %s, 'x', 'Jane')",
            (user, f"{user.hex}@example.com"),
        )
        for n in range(stale + live):
            connection.execute(
                "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)"
                " VALUES (%s, gen_random_uuid(), %s, now() + %s * interval '1 day')",
                (user, uuid4().hex + uuid4().hex, -1 if n < stale else 1),
            )

    def remaining() -> int:
        with psycopg.connect(shared_database) as connection:
            row = connection.execute(
                "SELECT count(*) FROM refresh_tokens WHERE user_id = %s", (user,)
            ).fetchone()
        assert row is not None
        return int(row[0])

    # A stale token held by a transaction of the test's: the first cleanup to run takes the
    # cleanup lock and waits on that row, so the other instance's cleanups run meanwhile.
    with psycopg.connect(shared_database) as holder:
        holder.execute(
            "SELECT id FROM refresh_tokens WHERE user_id = %s AND expires_at <= now()"
            " LIMIT 1 FOR UPDATE",
            (user,),
        )
        with _two_instances(
            fake_llm,
            shared_database,
            redis_server_url,
            TOKEN_CLEANUP_INTERVAL="1s",
            DB_STATEMENT_TIMEOUT_MS="120000",
        ) as (a, b):
            _wait_for(
                lambda: any(CLEANUP_SKIPPED in i.output() for i in (a, b)),
                "a cleanup finding the other instance's under way",
            )
            holder.rollback()
            _wait_for(lambda: remaining() == live, "the stale tokens deleted")
            _wait_for(
                lambda: sum(sum(_logged(i, CLEANED)) for i in (a, b)) == stale,
                f"the cleanups' logs counting {stale} deletions",
            )
            deleted = {i.base_url: _logged(i, CLEANED) for i in (a, b)}
            skipped = {i.base_url: CLEANUP_SKIPPED in i.output() for i in (a, b)}

    # One instance's cleanup deleted them all in one run; the other's ran meanwhile, found
    # the lock taken and deleted none.
    assert sorted(deleted.values(), key=len) == [[], [stale]], deleted
    (deleter,) = [url for url, runs in deleted.items() if runs]
    assert skipped == {url: url != deleter for url in skipped}, skipped


WEBHOOK_SECRET = "multi-webhook-secret-" + "w" * 40
DELIVERED = r"delivered (\d+) webhook events"


def _accepted(received: list[Received]) -> list[Received]:
    return [r for r in received if r.answered is not None and 200 <= r.answered < 300]


def test_webhook_events_of_sends_over_both_instances_arrive_once_each(
    fake_llm: FakeOpenAIServer, shared_database: str, redis_server_url: str
) -> None:
    sends = 8
    # The first POST is answered only when the test says: the worker that made it is busy
    # with that batch meanwhile, so the other instance's worker delivers the rest.
    with (
        receiving(delay_first=1) as crm,
        _two_instances(
            fake_llm,
            shared_database,
            redis_server_url,
            WEBHOOK_URLS=crm.url,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            WEBHOOK_POLL_INTERVAL_S="0.2",
            WEBHOOK_TIMEOUT_S="30",
            WEBHOOK_BATCH="10",  # one wave of POSTs: the 60 s lease outlasts it
        ) as (a, b),
    ):
        email = _register(a.base_url)
        access = _login(a.base_url, email).json()["data"]["accessToken"]
        auth = {"Authorization": f"Bearer {access}"}

        def send(instance: Served) -> None:
            sent = httpx.post(
                f"{instance.base_url}/chat/send",
                json={"content": "I need a laptop"},
                headers=auth,
                timeout=60,
            )
            assert sent.status_code == 201, sent.text

        send(a)
        crm.wait_for(lambda received: len(received) == 1, timeout_s=SETTLE_WITHIN_S)
        for n in range(1, sends):
            send((a, b)[n % 2])
        crm.wait_for(lambda r: len(_accepted(r)) == sends - 1, timeout_s=SETTLE_WITHIN_S)
        crm.release()
        received = crm.wait_for(lambda r: len(_accepted(r)) == sends, timeout_s=SETTLE_WITHIN_S)
        _wait_for(
            lambda: sum(sum(_logged(i, DELIVERED)) for i in (a, b)) == sends,
            f"the workers' logs counting {sends} deliveries",
        )
        delivered = sorted(sum(_logged(i, DELIVERED)) for i in (a, b))

    with psycopg.connect(shared_database) as connection:
        rows = connection.execute(
            "SELECT d.id::text, d.status, d.attempts, e.type FROM webhook_deliveries AS d"
            " JOIN webhook_events AS e ON e.id = d.event_id"
        ).fetchall()
    assert len(rows) == sends
    assert {(status, attempts, type_) for _, status, attempts, type_ in rows} == {
        ("delivered", 1, "conversation.created")
    }
    accepted = _accepted(received)
    # Every event once: one accepted POST per delivery, each signed, and nothing more.
    assert sorted(r.delivery for r in accepted) == sorted(row[0] for row in rows)
    assert all(r.signed_with(WEBHOOK_SECRET) for r in accepted)
    assert len(received) == sends + 1  # the delayed POST, seen on arrival and when answered
    # Both workers delivered: the one held by the first POST delivered that one only.
    assert delivered == [1, sends - 1]
