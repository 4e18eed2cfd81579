"""The Database handle: URL conversion, settings, the health check and failure behaviour."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from salesbot_core.domain import Conversation, RefreshToken, SalesMetadata, SaleStatus, User
from salesbot_core.errors import DatabaseUnavailable
from salesbot_postgres import Database, DatabaseConfig, PostgresUnitOfWork, redacted, sqlalchemy_url
from tests.contract.test_repositories import make_user

T0 = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


# ---------------------------------------------------------------- configuration (no server)


def test_config_defaults_are_the_documented_ones() -> None:
    config = DatabaseConfig("postgresql://postgres@127.0.0.1:5432/salesbot")
    assert (config.pool_size, config.max_overflow) == (10, 10)
    assert (config.pool_timeout_s, config.statement_timeout_ms) == (5.0, 5000)
    assert (config.connect_timeout_s, config.ping_timeout_s) == (3.0, 2.0)
    assert config.connect_timeout_whole_s == 3


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"pool_size": 0}, "pool_size"),
        ({"max_overflow": -1}, "max_overflow"),
        ({"pool_timeout_s": 0}, "pool_timeout_s"),
        ({"statement_timeout_ms": 0}, "statement_timeout_ms"),
        ({"url": "mysql://root@localhost/shop"}, "postgresql://"),
        ({"url": "not a url"}, "not a valid"),
    ],
)
def test_config_refuses_nonsense(changes: dict[str, object], complaint: str) -> None:
    arguments: dict[str, object] = {"url": "postgresql://postgres@localhost/db", **changes}
    with pytest.raises(ValueError, match=complaint):
        DatabaseConfig(**arguments)  # type: ignore[arg-type]


def test_libpq_urls_become_psycopg_urls() -> None:
    tcp = sqlalchemy_url("postgresql://shop:p%40ss@db.internal:5433/sales?sslmode=require")
    assert tcp.drivername == "postgresql+psycopg"
    assert (tcp.username, tcp.password, tcp.host, tcp.port, tcp.database) == (
        "shop",
        "p@ss",
        "db.internal",
        5433,
        "sales",
    )
    assert tcp.query == {"sslmode": "require"}
    unix = sqlalchemy_url("postgres://postgres@/salesbot?host=/run/salesbot")
    assert (unix.drivername, unix.host, unix.query["host"]) == (
        "postgresql+psycopg",
        None,
        "/run/salesbot",
    )


def test_redacted_hides_the_password() -> None:
    shown = redacted("postgresql://shop:secret@db:5432/sales")
    assert "secret" not in shown
    assert shown.startswith("postgresql://shop:***@db:5432/sales")
    assert redacted("::nonsense::") == "<invalid database URL>"


async def test_constructing_a_database_connects_to_nothing() -> None:
    database = Database(DatabaseConfig("postgresql://nobody@127.0.0.1:1/nowhere"))
    assert database.connections_in_use == 0
    assert database.pool_stats().get("connections_num", 0) == 0  # no attempt to connect
    await database.dispose()


# ---------------------------------------------------------------- unreachable servers


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word, like a hung server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_refused_connection_is_unavailable_at_once() -> None:
    database = Database(DatabaseConfig(f"postgresql://postgres@127.0.0.1:{_closed_port()}/x"))
    started = time.monotonic()
    assert await database.ping() is False
    with pytest.raises(DatabaseUnavailable):
        async with database.unit_of_work():
            pass
    assert time.monotonic() - started < 2
    await database.dispose()


async def test_a_hung_server_fails_the_ping_within_its_timeout(silent_server: int) -> None:
    database = Database(
        DatabaseConfig(
            f"postgresql://postgres@127.0.0.1:{silent_server}/x",
            connect_timeout_s=2,
            ping_timeout_s=0.5,
        )
    )
    started = time.monotonic()
    assert await database.ping() is False
    assert time.monotonic() - started < 1.5
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        async with database.unit_of_work():
            pass
    assert time.monotonic() - started < 4
    await database.dispose()


# ---------------------------------------------------------------- a live server


@pytest.mark.postgres
async def test_ping_answers_true_when_the_database_answers(database: Database) -> None:
    assert await database.ping() is True


@pytest.mark.postgres
async def test_an_exhausted_pool_is_unavailable_after_the_pool_timeout(database_url: str) -> None:
    database = Database(
        DatabaseConfig(database_url, pool_size=1, max_overflow=0, pool_timeout_s=0.3)
    )
    try:
        async with database.unit_of_work():
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                async with database.unit_of_work():
                    pass
            assert 0.25 < time.monotonic() - started < 2
        async with database.unit_of_work() as work:  # the connection came back
            assert await work.users.get(uuid4()) is None
    finally:
        await database.dispose()


@pytest.mark.postgres
async def test_a_statement_over_the_timeout_is_unavailable(
    database: Database, database_url: str
) -> None:
    user = User(
        id=uuid4(),
        email="ann@example.com",
        name="Ann",
        phone=None,
        password_hash="x",
        created_at=T0,
        updated_at=T0,
    )
    token = RefreshToken(
        id=uuid4(),
        user_id=user.id,
        family_id=uuid4(),
        token_hash="a" * 64,
        created_at=T0,
        expires_at=T0 + timedelta(days=7),
    )
    async with database.unit_of_work() as work:
        await work.users.add(user)
        await work.refresh_tokens.add(token)
        await work.commit()
    impatient = Database(DatabaseConfig(database_url, statement_timeout_ms=200))
    try:
        async with database.unit_of_work() as holder:
            assert await holder.refresh_tokens.revoke(token.id, "logout", T0)  # row locked
            started = time.monotonic()
            with pytest.raises(DatabaseUnavailable):
                async with impatient.unit_of_work() as waiter:
                    await waiter.refresh_tokens.rotate(token.id, uuid4(), T0)
            assert time.monotonic() - started < 2
    finally:
        await impatient.dispose()


@pytest.mark.postgres
async def test_repositories_refuse_use_outside_the_block(database: Database) -> None:
    work = database.unit_of_work()
    with pytest.raises(RuntimeError, match="async with"):
        await work.users.get(uuid4())
    with pytest.raises(RuntimeError, match="async with"):
        await work.commit()


@pytest.mark.postgres
async def test_units_of_work_return_their_connections(database: Database) -> None:
    async def use() -> None:
        async with database.unit_of_work() as work:
            await work.users.get(uuid4())

    await asyncio.gather(*(use() for _ in range(10)))
    assert database.connections_in_use == 0
    assert database.pool_stats()["requests_waiting"] == 0


def _new_user() -> User:
    return make_user(f"{uuid4().hex}@example.com")


async def _server_state(database: Database, pid: int) -> str:
    """What PostgreSQL says backend ``pid`` is doing ("idle", "idle in transaction", ...)."""
    async with database.connection() as observer:
        query = "SELECT state FROM pg_stat_activity WHERE pid = %(pid)s"
        row = await (await observer.execute(query, {"pid": pid})).fetchone()
    assert row is not None
    return str(row["state"])


async def _backend_pid(work: PostgresUnitOfWork) -> int:
    """The server process behind the unit of work's connection (a plain read)."""
    rows = await work._tx.read("SELECT pg_backend_pid() AS pid")
    return int(rows[0]["pid"])


@pytest.mark.postgres
async def test_a_read_after_commit_leaves_no_transaction_open_in_the_pool(
    database: Database,
) -> None:
    """After a commit the unit of work reads in autocommit again, and a write after it begins
    a new transaction that leaving the unit of work ends."""
    async with database.unit_of_work() as work:
        pid = await _backend_pid(work)
        await work.users.get(uuid4())
        await work.users.add(_new_user())
        await work.commit()
        assert await work.messages.page_before(uuid4(), limit=5) == []
        assert await _server_state(database, pid) == "idle"
        await work.users.add(_new_user())
        assert await _server_state(database, pid) == "idle in transaction"
    assert await _server_state(database, pid) == "idle"
    assert database.connections_in_use == 0


@pytest.mark.postgres
async def test_reads_run_outside_a_transaction_until_the_first_write(database: Database) -> None:
    """A unit of work that only reads never opens a transaction (no BEGIN/ROLLBACK round
    trips); its first write begins one, which is rolled back unless committed."""
    user = _new_user()
    async with database.unit_of_work() as work:
        pid = await _backend_pid(work)
        assert await work.users.get(user.id) is None
        assert await _server_state(database, pid) == "idle"
        await work.users.add(user)
        assert await _server_state(database, pid) == "idle in transaction"
    for _ in range(2):  # the pooled connections are back to reading in autocommit
        async with database.unit_of_work() as work:
            pid = await _backend_pid(work)
            assert await work.users.get(user.id) is None  # never committed
            assert await _server_state(database, pid) == "idle"


@pytest.mark.postgres
async def test_a_unit_of_work_goes_on_after_its_connection_was_lost(database: Database) -> None:
    """The server ends the connection under a unit of work: the read is a 503-style
    ``DatabaseUnavailable``; after ``rollback()`` the same unit of work writes on a new one."""
    user = _new_user()
    async with database.unit_of_work() as work:
        pid = await _backend_pid(work)
        async with database.connection() as other:
            ended = "SELECT pg_terminate_backend(%(pid)s) AS ended"
            assert (await (await other.execute(ended, {"pid": pid})).fetchall())[0]["ended"]
        with pytest.raises(DatabaseUnavailable):
            await work.users.get(user.id)
        await work.rollback()
        await work.users.add(user)
        await work.commit()
    async with database.unit_of_work() as work:
        stored = await work.users.get(user.id)
    assert stored is not None
    assert stored.email == user.email
    assert database.connections_in_use == 0


# ---------------------------------------------------------------- the schema itself


@pytest.mark.postgres
async def test_deleting_a_user_cascades_to_everything_theirs(database: Database) -> None:
    async with database.connection() as connection, connection.transaction():
        user = await (
            await connection.execute(
                "INSERT INTO users (email, password_hash, name) "
                "VALUES ('ann@example.com', 'x', 'Ann') RETURNING id"
            )
        ).fetchone()
        assert user is not None
        conversation = await (
            await connection.execute(
                "INSERT INTO conversations (user_id, title) VALUES (%(u)s, 't') RETURNING id",
                {"u": user["id"]},
            )
        ).fetchone()
        assert conversation is not None
        await connection.execute(
            "INSERT INTO messages (conversation_id, seq, sender, content) "
            "VALUES (%(c)s, 1, 'user', 'hi'), (%(c)s, 2, 'bot', 'hello')",
            {"c": conversation["id"]},
        )
        await connection.execute(
            "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at) "
            "VALUES (%(u)s, gen_random_uuid(), %(h)s, now() + interval '1 day')",
            {"u": user["id"], "h": "b" * 64},
        )
        await connection.execute("DELETE FROM users WHERE id = %(u)s", {"u": user["id"]})
        counts = await (
            await connection.execute(
                "SELECT (SELECT count(*) FROM conversations) AS conversations,"
                " (SELECT count(*) FROM messages) AS messages,"
                " (SELECT count(*) FROM refresh_tokens) AS tokens"
            )
        ).fetchone()
    assert counts == {"conversations": 0, "messages": 0, "tokens": 0}


@pytest.mark.postgres
async def test_metadata_is_stored_as_jsonb_with_the_seeds_keys(database: Database) -> None:
    owner = User(
        id=uuid4(),
        email="ann@example.com",
        name="Ann",
        phone=None,
        password_hash="x",
        created_at=T0,
        updated_at=T0,
    )
    conversation = Conversation(
        id=uuid4(),
        user_id=owner.id,
        title="t",
        metadata=SalesMetadata(offered_products=("Dell XPS 15",), sale_status=SaleStatus.LOST),
        created_at=T0,
        updated_at=T0,
    )
    async with database.unit_of_work() as work:
        await work.users.add(owner)
        await work.conversations.add(conversation)
        await work.commit()
    async with database.connection() as connection:
        stored = await (
            await connection.execute(
                "SELECT jsonb_typeof(metadata) AS type, metadata->'offeredProducts'->>0 AS first,"
                " metadata->>'saleStatus' AS status FROM conversations"
            )
        ).fetchone()
    assert stored == {"type": "object", "first": "Dell XPS 15", "status": "lost"}


@pytest.mark.postgres
async def test_sessions_carry_the_timeouts_and_keep_the_urls_own_options(database_url: str) -> None:
    separator = "&" if "?" in database_url else "?"
    url = f"{database_url}{separator}options=-c%20lock_timeout%3D1234"
    database = Database(DatabaseConfig(url, statement_timeout_ms=4321))
    try:
        async with database.connection() as connection:
            settings = await (
                await connection.execute(
                    "SELECT current_setting('statement_timeout') AS statement_timeout,"
                    " current_setting('lock_timeout') AS lock_timeout,"
                    " current_setting('TimeZone') AS time_zone,"
                    " current_setting('application_name') AS application_name"
                )
            ).fetchone()
    finally:
        await database.dispose()
    assert settings is not None
    assert tuple(settings.values()) == ("4321ms", "1234ms", "UTC", "salesbot")
