"""``salesbot db check`` on PostgreSQL: each invariant broken by direct SQL is listed, with its
row, and exit status 1; a sound database passes with exit status 0."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from salesbot_core.ports import Invariant
from salesbot_http.cli import main
from salesbot_postgres import Database

pytestmark = pytest.mark.postgres

SECRET = "s" * 40
NOW = datetime.now(UTC)


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("DATABASE_URL", "DB_HOST", "JWT_SECRET", "JWT_REFRESH_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


async def _check(runner: CliRunner, url: str) -> tuple[int, list[str]]:
    env = {"JWT_SECRET": SECRET, "JWT_REFRESH_SECRET": SECRET, "DATABASE_URL": url}
    result = await asyncio.to_thread(runner.invoke, main, ["db", "check"], env=env)
    return result.exit_code, result.output.strip().splitlines()


async def _run(database: Database, statement: str, params: dict[str, Any]) -> None:
    async with database.connection() as connection:
        await connection.execute(statement, params)


async def _user(database: Database) -> uuid.UUID:
    user_id = uuid.uuid4()
    await _run(
        database,
        "INSERT INTO users (id, email, password_hash, name) VALUES (%(id)s, %(email)s, 'x', 'N')",
        {"id": user_id, "email": f"{user_id.hex}@example.com"},
    )
    return user_id


async def _conversation(
    database: Database,
    user_id: uuid.UUID,
    messages: list[tuple[int, str]],
    *,
    message_count: int | None = None,
    counter: int | None = None,
    distilled_through: int = 0,
) -> str:
    """A conversation with ``messages`` as (seq, sender); its columns agree with them unless
    given."""
    conversation_id = uuid.uuid4()
    count = len(messages) if message_count is None else message_count
    await _run(
        database,
        """INSERT INTO conversations (id, user_id, title, message_count, distilled_through,
                                      messages_since_context_update)
           VALUES (%(id)s, %(user_id)s, 't', %(count)s, %(through)s, %(counter)s)""",
        {
            "id": conversation_id,
            "user_id": user_id,
            "count": count,
            "through": distilled_through,
            "counter": count - distilled_through if counter is None else counter,
        },
    )
    for seq, sender in messages:
        await _run(
            database,
            """INSERT INTO messages (conversation_id, seq, sender, content)
               VALUES (%(id)s, %(seq)s, %(sender)s::message_sender, 'hi')""",
            {"id": conversation_id, "seq": seq, "sender": sender},
        )
    return str(conversation_id)


async def _token(database: Database, user_id: uuid.UUID, family_id: uuid.UUID, **cols: Any) -> None:
    await _run(
        database,
        """INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, revoked_at)
           VALUES (%(user_id)s, %(family_id)s, %(hash)s, %(expires_at)s, %(revoked_at)s)""",
        {
            "user_id": user_id,
            "family_id": family_id,
            "hash": uuid.uuid4().hex + uuid.uuid4().hex,
            "expires_at": cols.get("expires_at", NOW + timedelta(days=1)),
            "revoked_at": cols.get("revoked_at"),
        },
    )


SOUND = [(1, "user"), (2, "bot"), (3, "user"), (4, "bot")]


async def test_a_sound_database_has_no_violations(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    user_id = await _user(database)
    await _conversation(database, user_id, SOUND)
    await _conversation(database, user_id, SOUND, distilled_through=4, counter=0)
    await _conversation(database, user_id, [])
    family = uuid.uuid4()
    await _token(database, user_id, family, revoked_at=NOW)  # rotated
    await _token(database, user_id, family)  # its successor, the one live token
    await _token(database, user_id, uuid.uuid4(), expires_at=NOW - timedelta(days=1))

    status, lines = await _check(runner, database_url)

    assert status == 0, lines
    assert lines[-1] == "no violations (5 invariant(s) checked)"
    assert (
        f"skipped {Invariant.OUTBOX_EVENT_COMMITTED}: nothing stored to check it against" in lines
    )


async def test_every_violation_is_listed_with_its_row(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    user_id = await _user(database)
    await _conversation(database, user_id, SOUND)  # sound: never listed
    miscounted = await _conversation(database, user_id, SOUND, message_count=6, counter=6)
    gap = await _conversation(database, user_id, [(1, "user"), (2, "bot"), (5, "user"), (6, "bot")])
    unanswered = await _conversation(database, user_id, [(1, "user"), (2, "bot"), (3, "user")])
    swapped = await _conversation(database, user_id, [(1, "bot"), (2, "user")])
    bad_counter = await _conversation(database, user_id, SOUND, distilled_through=2, counter=4)
    family = uuid.uuid4()
    await _token(database, user_id, family)
    await _token(database, user_id, family)

    status, lines = await _check(runner, database_url)

    assert status == 1
    found = {
        (match[1], match[2])
        for line in lines
        if (match := re.match(r"^([a-z-]+): ([0-9a-f-]{36}): ", line))
    }
    assert found == {
        (Invariant.MESSAGE_COUNT.value, miscounted),
        (Invariant.CONTIGUOUS_SEQUENCE.value, gap),
        (Invariant.EVERY_MESSAGE_ANSWERED.value, unanswered),
        (Invariant.EVERY_MESSAGE_ANSWERED.value, swapped),
        (Invariant.COUNTER.value, bad_counter),
        (Invariant.ONE_LIVE_TOKEN_PER_FAMILY.value, str(family)),
    }
    assert f"{Invariant.COUNTER}: {bad_counter}: messages_since_context_update is 4," in "\n".join(
        lines
    )
