"""The ``salesbot`` command line: help everywhere, clear configuration and database errors,
migrations, token cleanup and granting the admin role on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner, Result

from salesbot_core.domain import Conversation, RefreshToken, Role, User
from salesbot_core.testing import Exchange, append_exchange
from salesbot_core.webhooks import DeliveryOutcome, DeliveryStatus, EventType, OutboxEvent
from salesbot_http.cli import describe_assistant, describe_database, main
from salesbot_http.database import redact
from salesbot_http.settings import Settings
from salesbot_postgres import Database, migrations
from tests.support.database import (
    create_database,
    drop_database,
    failing_installation,
    fresh_embedded_home,
)

SECRET = "s" * 40


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in ("DATABASE_URL", "DB_HOST", "JWT_SECRET", "JWT_REFRESH_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SALESBOT_DATA_DIR", str(tmp_path / "data"))
    return CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["db"],
        ["db", "upgrade"],
        ["db", "downgrade"],
        ["db", "current"],
        ["db", "history"],
        ["db", "check"],
        ["db", "revision"],
        ["tokens"],
        ["tokens", "cleanup"],
        ["conversations"],
        ["conversations", "distil-pending"],
        ["users"],
        ["users", "grant-admin"],
        ["webhooks"],
        ["webhooks", "retry"],
    ],
)
def test_every_command_has_help(runner: CliRunner, command: list[str]) -> None:
    result = runner.invoke(main, [*command, "--help"], prog_name="salesbot")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: salesbot")


def test_serve_help_names_its_options(runner: CliRunner) -> None:
    output = runner.invoke(main, ["serve", "--help"]).output
    for option in ("--host", "--port", "--workers"):
        assert option in output


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "postgresql://db/x", "JWT_SECRET": "short"}, "JWT_SECRET"),
        ({"DATABASE_URL": "postgresql://db/x"}, "JWT_SECRET"),
        ({"PORT": "eighty"}, "PORT"),
        ({"JWT_EXPIRES_IN": "forever"}, "JWT_EXPIRES_IN"),
        ({"BCRYPT_ROUNDS": "40"}, "BCRYPT_ROUNDS"),
    ],
)
@pytest.mark.parametrize("command", [["serve"], ["tokens", "cleanup"], ["db", "current"]])
def test_a_configuration_error_is_one_line_and_exit_2(
    runner: CliRunner, env: dict[str, str], variable: str, command: list[str]
) -> None:
    result = runner.invoke(main, command, env=env)

    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert variable in lines[0]
    assert "Traceback" not in result.output


def _on(url: str) -> dict[str, str]:
    return {"JWT_SECRET": SECRET, "JWT_REFRESH_SECRET": SECRET, "DATABASE_URL": url}


async def test_tokens_cleanup_deletes_stale_tokens(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(),
        email="jane@example.com",
        name="Jane",
        phone=None,
        password_hash="x",
        created_at=now,
        updated_at=now,
    )
    expired = RefreshToken(
        id=uuid.uuid4(),
        user_id=user.id,
        family_id=uuid.uuid4(),
        token_hash="e" * 64,
        created_at=now - timedelta(days=8),
        expires_at=now - timedelta(days=1),
    )
    alive = msgspec.structs.replace(
        expired, id=uuid.uuid4(), token_hash="a" * 64, expires_at=now + timedelta(days=1)
    )
    async with database.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.refresh_tokens.add(expired)
        await uow.refresh_tokens.add(alive)
        await uow.commit()

    result = await asyncio.to_thread(
        runner.invoke, main, ["tokens", "cleanup"], env=_on(database_url)
    )

    assert result.exit_code == 0, result.output
    assert "deleted 1 stale refresh token(s)" in result.output
    async with database.unit_of_work() as uow:
        assert await uow.refresh_tokens.get_by_hash("e" * 64) is None
        assert await uow.refresh_tokens.get_by_hash("a" * 64) is not None


async def test_conversations_distil_pending_distils_what_was_left_due(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(),
        email="jane@example.com",
        name="Jane",
        phone=None,
        password_hash="x",
        created_at=now,
        updated_at=now,
    )
    conversation = Conversation(
        id=uuid.uuid4(), user_id=user.id, title="Laptops", created_at=now, updated_at=now
    )
    async with database.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.conversations.add(conversation)
        for n, text in enumerate(("I need a laptop", "for programming", "under 1500 dollars")):
            await append_exchange(
                uow,
                Exchange(
                    conversation_id=conversation.id,
                    user_message_id=uuid.uuid4(),
                    bot_message_id=uuid.uuid4(),
                    user_content=text,
                    bot_content=f"answer {n}",
                    created_at=now,
                ),
            )
        await uow.commit()

    result = await asyncio.to_thread(
        runner.invoke, main, ["conversations", "distil-pending"], env=_on(database_url)
    )

    assert result.exit_code == 0, result.output
    assert "distilled 1 conversation(s)" in result.output
    async with database.unit_of_work() as uow:
        found = await uow.conversations.get_with_messages(conversation.id, user.id, limit=0)
    assert found is not None
    distilled = found[0]
    assert distilled.metadata is not None  # the offline assistant's rules, with no OPENAI key
    assert (distilled.distilled_through, distilled.messages_since_context_update) == (6, 0)
    again = await asyncio.to_thread(
        runner.invoke, main, ["conversations", "distil-pending"], env=_on(database_url)
    )
    assert "distilled 0 conversation(s)" in again.output


async def test_users_grant_admin_gives_the_role(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    now = datetime.now(UTC)
    user = User(
        id=uuid.uuid4(),
        email="staff@example.com",
        name="Shop Staff",
        phone=None,
        password_hash="x",
        created_at=now,
        updated_at=now,
    )
    async with database.unit_of_work() as uow:
        await uow.users.add(user)
        await uow.commit()

    result = await asyncio.to_thread(
        runner.invoke, main, ["users", "grant-admin", " Staff@Example.com "], env=_on(database_url)
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "staff@example.com is now an admin; the role counts from their next login or token refresh"
    ]
    async with database.unit_of_work() as uow:
        granted = await uow.users.get(user.id)
    assert granted is not None
    assert granted.role is Role.ADMIN


@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "no user with the email 'nobody@example.com'"),
        ("not an email", "'not an email' is not an email address"),
    ],
)
async def test_users_grant_admin_refuses_an_unknown_email(
    runner: CliRunner, database: Database, database_url: str, email: str, message: str
) -> None:
    result = await asyncio.to_thread(
        runner.invoke, main, ["users", "grant-admin", email], env=_on(database_url)
    )

    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {message}"


@pytest.fixture
def fresh_database_url(postgres_server_url: str) -> Iterator[str]:
    name, url = create_database(postgres_server_url)
    try:
        yield url
    finally:
        drop_database(postgres_server_url, name)


def test_db_commands_walk_the_migrations(runner: CliRunner, fresh_database_url: str) -> None:
    env = _on(fresh_database_url)
    head = migrations.head()

    before = runner.invoke(main, ["db", "current"], env=env)
    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    current = runner.invoke(main, ["db", "current"], env=env)
    history = runner.invoke(main, ["db", "history"], env=env)
    one_back = runner.invoke(main, ["db", "downgrade", "-1"], env=env)
    downgraded = runner.invoke(main, ["db", "downgrade", "base"], env=env)

    assert before.exit_code == 0, before.output
    assert "never migrated" in before.output
    assert upgraded.exit_code == 0, upgraded.output
    assert head in upgraded.output
    assert current.output.strip() == head
    assert head in history.output
    assert one_back.exit_code == 0, one_back.output
    before_head = migrations.history()[0].split(" -> ")[0]  # "0007 -> 0009 (head), ..."
    assert f"database at revision {before_head}" in one_back.output
    assert downgraded.exit_code == 0, downgraded.output
    assert "base" in downgraded.output


def test_an_unreachable_database_is_one_line_and_exit_1(runner: CliRunner) -> None:
    # A port nothing listens on: refused at once.
    unreachable = _on("postgresql://nobody@127.0.0.1:9/salesbot")

    for command in (["db", "current"], ["tokens", "cleanup"]):
        result = runner.invoke(main, command, env=unreachable)
        assert result.exit_code == 1, result.output
        assert "unavailable" in result.output
        assert "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_embedded_server_that_cannot_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The embedded server itself fails (here its initdb, as on a full disk): one line that says
    why and what to do, exit status 2, no traceback."""
    fake = failing_installation(tmp_path / "fake")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "DB_HOST", "JWT_SECRET", "JWT_REFRESH_SECRET"}
    }
    with fresh_embedded_home() as home:
        env.update(
            PYTHONPATH=str(fake),
            SALESBOT_DATA_DIR=str(tmp_path / "data"),
            SALESBOT_EMBEDDED_HOME=str(home),
            LOG_LEVEL="WARNING",
        )
        result = subprocess.run(
            [sys.executable, "-m", "salesbot_http.cli", "db", "current"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("salesbot: the embedded PostgreSQL cannot run: initdb failed")
    assert "initdb: error: no space left (simulated)" in lines[0]
    assert lines[0].endswith("Set DATABASE_URL to use your own PostgreSQL instead.")


def test_a_data_dir_that_cannot_be_made_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    env = {
        "SALESBOT_DATA_DIR": str(tmp_path / "a-file" / "data"),
        "JWT_SECRET": SECRET,
        "JWT_REFRESH_SECRET": SECRET,
    }

    result = runner.invoke(main, ["db", "current"], env=env)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert "Not a directory" in result.output
    assert "Set DATABASE_URL" in result.output


def test_the_database_url_is_logged_without_its_password() -> None:
    assert redact("postgresql://app:s3cret@db:5432/shop") == "postgresql://app:***@db:5432/shop"
    assert redact("postgresql://app@db/shop") == "postgresql://app@db/shop"
    settings = Settings(database_url="postgresql://app:s3cret@db/shop")
    assert "s3cret" not in describe_database(settings, "postgresql://app:s3cret@db/shop")


def test_the_startup_log_says_which_assistant_answers() -> None:
    assert "offline" in describe_assistant(Settings())
    online = Settings(openai_api_key="sk-x", openai_base_url="http://localhost:11434/v1")
    described = describe_assistant(online)
    assert "gpt-4o-mini" in described
    assert "http://localhost:11434/v1" in described
    assert "sk-x" not in described


def test_commands_on_an_unmigrated_database_say_so_in_one_line(
    runner: CliRunner, postgres_server_url: str
) -> None:
    name, url = create_database(postgres_server_url, prefix="salesbot_c_")
    try:
        for command in (["tokens", "cleanup"], ["users", "grant-admin", "ann@example.com"]):
            result = runner.invoke(main, command, env=_on(url))
            assert result.exit_code == 1, result.output
            assert "salesbot db upgrade" in result.output
            assert "Traceback" not in result.output
            assert len(result.output.strip().splitlines()) == 1, result.output
    finally:
        drop_database(postgres_server_url, name)


async def test_webhooks_retry_requeues_one_delivery_or_every_dead_one(
    runner: CliRunner, database: Database, database_url: str
) -> None:
    now = datetime.now(UTC)
    webhooks = Database(database.config, ("http://a.example/hook", "http://b.example/hook"))
    try:
        event = OutboxEvent(type=EventType.CONVERSATION_CREATED, data={"n": 1}, occurred_at=now)
        async with webhooks.unit_of_work() as uow:
            await uow.outbox.add([event])
            claimed = await uow.webhook_deliveries.claim(
                now=now, lease_until=now + timedelta(minutes=1), limit=5
            )
            await uow.webhook_deliveries.record(
                [
                    DeliveryOutcome.failed(d.id, d.claim, status=410, error="gone", retry_at=None)
                    for d in claimed
                ]
            )
            await uow.commit()
        first, second = (d.id for d in claimed)

        one = await asyncio.to_thread(
            runner.invoke, main, ["webhooks", "retry", str(first)], env=_on(database_url)
        )
        assert one.exit_code == 0, one.output
        assert "re-queued 1 webhook delivery" in one.output
        again = await asyncio.to_thread(
            runner.invoke, main, ["webhooks", "retry", str(first)], env=_on(database_url)
        )
        assert again.exit_code == 1
        assert "not already pending" in again.output
        dead = await asyncio.to_thread(
            runner.invoke, main, ["webhooks", "retry", "--dead"], env=_on(database_url)
        )
        assert dead.exit_code == 0, dead.output
        assert "re-queued 1 webhook delivery" in dead.output
        async with webhooks.unit_of_work() as uow:
            rows = await uow.webhook_deliveries.page(limit=5, after=None, status=None)
        assert {(r.id, r.status, r.attempts) for r in rows} == {
            (first, DeliveryStatus.PENDING, 0),
            (second, DeliveryStatus.PENDING, 0),
        }
        for args in (["webhooks", "retry"], ["webhooks", "retry", "nope"]):
            refused = await asyncio.to_thread(runner.invoke, main, args, env=_on(database_url))
            assert refused.exit_code == 2, refused.output
    finally:
        await webhooks.dispose()


@contextlib.contextmanager
def _held(data_dir: Path, lock_text: str) -> Iterator[None]:
    """The embedded data directory held as a running salesbot holds it: ``embedded.lock`` locked
    (flock, here by another open file of this process) with ``lock_text`` in it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "embedded.lock").open("wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(lock_text.encode())
        lock.flush()
        yield


def _one_line(result: Result) -> str:
    assert "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    return line


def test_a_shared_server_this_process_cannot_reach_is_one_line_and_exit_2(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A running salesbot shares its server at a socket this process cannot connect to (another
    OS user cannot enter its private directory; here the directory is gone): the data commands
    say so in one line, exit status 2, and start no server of their own."""
    unreachable = f"postgresql://postgres@/salesbot?host={tmp_path / 'gone'}&port=5432"
    with _held(tmp_path / "data", f"4242\n{unreachable}\n"):
        for command in (["db", "check"], ["users", "grant-admin", "ann@example.com"]):
            result = runner.invoke(main, command)

            assert result.exit_code == 2, result.output
            line = _one_line(result)
            assert line.startswith("salesbot: The embedded database in ")
            assert f"is served by process 4242 at {unreachable}" in line
            assert "cannot connect to it" in line
            assert line.endswith("or stop it first.")
    assert not (tmp_path / "data" / "postgres").exists()


@pytest.mark.parametrize("lock_text", ["4242\n", "4242"], ids=["not-shared", "older-salesbot"])
def test_a_holder_that_shares_no_server_refuses_the_data_commands(
    runner: CliRunner, tmp_path: Path, lock_text: str
) -> None:
    """Still starting, a server started for one command, or an older salesbot's lock: nothing to
    use, so the commands are refused as before."""
    with _held(tmp_path / "data", lock_text):
        for command in (["db", "check"], ["db", "current"]):
            result = runner.invoke(main, command)

            assert result.exit_code == 2, result.output
            line = _one_line(result)
            assert "is in use by process 4242, which shares it with no other command yet" in line
            assert "try again once it serves" in line


@pytest.mark.parametrize(
    "command",
    [
        ["db", "upgrade"],
        ["db", "downgrade", "--", "-1"],
        ["db", "revision", "-m", "x"],
        ["serve"],
    ],
)
def test_the_schema_commands_and_serve_refuse_a_shared_server(
    runner: CliRunner, tmp_path: Path, command: list[str]
) -> None:
    """A schema change belongs to the server's own start: these are refused without trying the
    shared URL (unreachable here, which they would otherwise report)."""
    unreachable = f"postgresql://postgres@/salesbot?host={tmp_path / 'gone'}&port=5432"
    with _held(tmp_path / "data", f"4242\n{unreachable}\n"):
        result = runner.invoke(main, command)

    assert result.exit_code == 2, result.output
    assert "is in use by process 4242. Stop that salesbot first" in _one_line(result)
