"""``salesbot db check`` on PostgreSQL: each invariant broken by direct SQL is listed, with its
row, and exit status 1; a sound database passes with exit status 0."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from salesbot_core.domain import SalesMetadata, SaleStatus
from salesbot_core.ports import Invariant
from salesbot_http.cli import main
from salesbot_postgres import Database
from salesbot_postgres.mapping import metadata_to_json

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


async def _event(
    database: Database, type_: str, conversation: str | None, at: datetime, **data: Any
) -> str:
    """An outbox event as the stores write it: its conversation named in its payload."""
    event_id = uuid.uuid4()
    payload = {**data, "conversation": {"id": conversation}} if conversation else data
    await _run(
        database,
        """INSERT INTO webhook_events (id, type, data, occurred_at)
           VALUES (%(id)s, %(type)s, %(data)s::jsonb, %(at)s)""",
        {"id": event_id, "type": type_, "data": json.dumps(payload), "at": at},
    )
    return str(event_id)


async def _distillation(database: Database, conversation: str, at: datetime, status: str) -> None:
    metadata = metadata_to_json(SalesMetadata(sale_status=SaleStatus(status)))
    await _run(
        database,
        """INSERT INTO distillations (conversation_id, distilled_at, through_seq,
                                      covered_messages, metadata, prompt_tokens, completion_tokens)
           VALUES (%(id)s, %(at)s, 4, 4, %(metadata)s::jsonb, 0, 0)""",
        {"id": conversation, "at": at, "metadata": metadata},
    )


async def _moved(
    database: Database, conversation: str, at: datetime, moved_from: str, to: str, *types: str
) -> list[str]:
    """The events of a distillation that moved the sale status, as ``distillation_events``
    writes them."""
    return [
        await _event(database, t, conversation, at, **{"from": moved_from, "to": to})
        for t in ("lead.status_changed", *types)
    ]


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
    # The outbox: a created conversation, one distillation that moved it twice over (each move
    # matched by its history row), and the events of a conversation deleted since.
    lead = await _conversation(database, user_id, SOUND, distilled_through=4, counter=0)
    await _event(database, "conversation.created", lead, NOW - timedelta(hours=2))
    # Older than the first distillation kept: from before the history (migration 0007).
    await _moved(database, lead, NOW - timedelta(hours=2), "exploring", "interested")
    await _distillation(database, lead, NOW - timedelta(hours=1), "negotiating")
    await _moved(database, lead, NOW - timedelta(hours=1), "interested", "negotiating", "lead.hot")
    deleted = await _conversation(database, user_id, SOUND, distilled_through=4, counter=0)
    await _event(database, "conversation.created", deleted, NOW - timedelta(hours=1))
    await _distillation(database, deleted, NOW, "lost")
    await _moved(database, deleted, NOW, "exploring", "lost", "lead.lost")
    async with database.unit_of_work() as work:
        assert await work.conversations.delete(uuid.UUID(deleted), user_id)
        await work.commit()

    status, lines = await _check(runner, database_url)

    assert status == 0, lines
    assert lines == [f"no violations ({len(Invariant)} invariant(s) checked)"]


async def test_every_outbox_event_without_its_committed_change_is_listed(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    user_id = await _user(database)
    lead = await _conversation(database, user_id, SOUND, distilled_through=4, counter=0)
    await _distillation(database, lead, NOW - timedelta(hours=1), "interested")
    await _moved(database, lead, NOW - timedelta(hours=1), "exploring", "interested")  # sound
    never_stored = str(uuid.uuid4())
    orphan = await _event(database, "conversation.created", never_stored, NOW)
    orphan_move = (await _moved(database, never_stored, NOW, "exploring", "interested"))[0]
    nameless = await _event(database, "conversation.created", None, NOW)
    # A distillation that rolled back: its events, and no history row at their time.
    unmatched = await _moved(database, lead, NOW, "interested", "negotiating", "lead.hot")
    # A history row at that time, but it left another status.
    await _distillation(database, lead, NOW + timedelta(minutes=1), "interested")
    wrong_status = await _moved(database, lead, NOW + timedelta(minutes=1), "interested", "lost")

    status, lines = await _check(runner, database_url)

    assert status == 1
    outbox = [line for line in lines if line.startswith(f"{Invariant.OUTBOX_EVENT_COMMITTED}: ")]
    subjects = [line.split(": ")[1] for line in outbox]
    assert sorted(subjects) == sorted([orphan, orphan_move, nameless, *unmatched, *wrong_status])
    text = "\n".join(outbox)
    assert (
        f"{orphan}: conversation.created event names conversation {never_stored},"
        " which was never stored" in text
    )
    assert f"{nameless}: conversation.created event names conversation (none)" in text
    hot = next(line for line in outbox if line.split(": ")[1] == unmatched[1])
    assert hot.startswith(
        f"{Invariant.OUTBOX_EVENT_COMMITTED}: {unmatched[1]}: lead.hot event"
        " (interested -> negotiating at "
    )
    assert hot.endswith(f"of conversation {lead} matches no distillation that made the move")


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
