"""Refresh-token cleanup on PostgreSQL: what goes, what stays, and several processes at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from salesbot_core.domain import RefreshToken, User
from salesbot_core.testing import FakeClock
from salesbot_core.tokens import TokenPolicy
from salesbot_core.usecases import CleanupTokens
from salesbot_postgres import Database, DatabaseConfig
from tests.contract.test_repositories import make_user

pytestmark = pytest.mark.postgres

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
POLICY = TokenPolicy()  # revoked tokens are kept 30 days


def _token(user: User, **fields: object) -> RefreshToken:
    values: dict[str, object] = {
        "id": uuid4(),
        "user_id": user.id,
        "family_id": uuid4(),
        "token_hash": uuid4().hex + uuid4().hex,
        "created_at": NOW - timedelta(days=40),
        "expires_at": NOW + timedelta(days=1),
        **fields,
    }
    return RefreshToken(**values)  # type: ignore[arg-type]


async def _seed(database: Database) -> tuple[set[str], set[str]]:
    """Stale and kept token hashes, over two users."""
    users = [make_user(f"user{n}@example.com") for n in range(2)]
    retention_edge = NOW - POLICY.revoked_retention
    stale, kept = [], []
    for user in users:
        for n in range(15):
            stale.append(_token(user, expires_at=NOW - timedelta(minutes=n)))
            stale.append(
                _token(
                    user,
                    revoked_at=retention_edge - timedelta(hours=n + 1),
                    revoked_reason="logout",
                )
            )
        kept.append(_token(user))
        kept.append(
            _token(user, revoked_at=retention_edge + timedelta(hours=1), revoked_reason="rotated")
        )
    async with database.unit_of_work() as work:
        for user in users:
            await work.users.add(user)
        for token in [*stale, *kept]:
            await work.refresh_tokens.add(token)
        await work.commit()
    return {t.token_hash for t in stale}, {t.token_hash for t in kept}


async def _remaining(database: Database, hashes: set[str]) -> set[str]:
    async with database.unit_of_work() as work:
        return {h for h in hashes if await work.refresh_tokens.get_by_hash(h) is not None}


async def test_cleanup_deletes_expired_and_long_revoked_tokens_only(database: Database) -> None:
    stale, kept = await _seed(database)
    cleanup = CleanupTokens(database.unit_of_work, FakeClock(NOW), POLICY)
    assert await cleanup() == len(stale) == 60
    assert await _remaining(database, stale | kept) == kept
    assert await cleanup() == 0


async def test_concurrent_cleanups_from_several_processes_do_not_fail(
    database: Database, database_url: str
) -> None:
    stale, kept = await _seed(database)
    # Each "process" has its own pool, as separate server processes would.
    processes = [Database(DatabaseConfig(database_url, pool_size=2)) for _ in range(3)]
    try:
        cleanups = [
            CleanupTokens(process.unit_of_work, FakeClock(NOW), POLICY)
            for process in processes
            for _ in range(2)
        ]
        deleted = await asyncio.gather(*(cleanup() for cleanup in cleanups))
    finally:
        for process in processes:
            await process.dispose()
    assert sum(deleted) == len(stale)
    assert await _remaining(database, stale | kept) == kept


async def test_a_cleanup_already_running_elsewhere_is_not_waited_for(database: Database) -> None:
    stale, _ = await _seed(database)
    async with database.unit_of_work() as first:
        assert await first.refresh_tokens.delete_stale(NOW, NOW - POLICY.revoked_retention) == 60
        # While the first holds the cleanup lock, a second returns at once with nothing done.
        async with database.unit_of_work() as second:
            skipped = await asyncio.wait_for(
                second.refresh_tokens.delete_stale(NOW, NOW - POLICY.revoked_retention), 1
            )
        assert skipped is None
        await first.commit()
    assert await _remaining(database, stale) == set()
