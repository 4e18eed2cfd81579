"""The database goes away mid-run: callers get ``DatabaseUnavailable`` quickly (no hang), and the
same ``Database`` works again once the server is back. Uses an embedded server of its own: the
shared server is never stopped."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from salesbot_core.errors import DatabaseUnavailable
from salesbot_core.testing import FastPasswordHasher, ScriptedAssistant
from salesbot_core.usecases import GetProfile, RegisterUser, SendMessage
from salesbot_postgres import Database, DatabaseConfig, EmbeddedPostgres, migrations
from tests.support.clocks import RandomIds, UtcClock

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

QUICKLY_S = 3.0


@pytest.fixture
async def server(embedded_home: Path) -> AsyncIterator[EmbeddedPostgres]:
    base = Path(tempfile.mkdtemp(prefix="salesbot-fault-"))
    embedded = EmbeddedPostgres(base / "pgdata", server_home=embedded_home)
    try:
        await asyncio.to_thread(embedded.start)
        await asyncio.to_thread(migrations.upgrade, embedded.url)
        yield embedded
    finally:
        await asyncio.to_thread(embedded.stop)
        shutil.rmtree(base, ignore_errors=True)


async def test_a_stopped_database_is_unavailable_and_work_resumes_after_restart(
    server: EmbeddedPostgres,
) -> None:
    clock, ids = UtcClock(), RandomIds()
    database = Database(DatabaseConfig(server.url, connect_timeout_s=2))
    register = RegisterUser(database.unit_of_work, FastPasswordHasher(), clock, ids)
    profile = GetProfile(database.unit_of_work)
    send = SendMessage(database.unit_of_work, ScriptedAssistant(), clock, ids)
    try:
        ann = await register(email="ann@example.com", password="correct horse", name="Ann")
        first = await send(user_id=ann.id, content="I need a laptop")
        assert await database.ping() is True

        # Mid-run: a unit of work is open, with pooled connections around it, when it stops.
        async with database.unit_of_work() as work:
            assert await work.users.get(ann.id) == ann
            await asyncio.to_thread(server.stop)
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await work.users.get(ann.id)
        assert time.monotonic() - started < QUICKLY_S

        for call in (
            lambda: profile(ann.id),
            lambda: register(email="bob@example.com", password="correct horse", name="Bob"),
            lambda: send(
                user_id=ann.id, content="still there?", conversation_id=first.conversation.id
            ),
        ):
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                await call()
            assert time.monotonic() - started < QUICKLY_S
        started = time.monotonic()
        assert await database.ping() is False
        assert time.monotonic() - started < QUICKLY_S

        await asyncio.to_thread(server.start)

        assert await database.ping() is True
        assert await profile(ann.id) == ann
        bob = await register(email="bob@example.com", password="correct horse", name="Bob")
        assert await profile(bob.id) == bob
        again = await send(
            user_id=ann.id, content="back again", conversation_id=first.conversation.id
        )
        assert again.user_message.seq == 3  # the failed send stored nothing
    finally:
        await database.dispose()
