"""The core's repositories over one PostgreSQL connection (the unit of work's transaction).

Every write that races with another request is a single SQL statement whose ``WHERE`` clause
decides the race (row locks do the rest), so no read-modify-write cycle spans a round trip.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from sqlalchemy import (
    BigInteger,
    ClauseElement,
    ColumnElement,
    CursorResult,
    DateTime,
    Executable,
    Select,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by, insert
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    Message,
    RefreshToken,
    Role,
    Session,
    User,
)
from salesbot_core.errors import EmailAlreadyRegistered
from salesbot_core.exchange import DistillationWrite, ExchangeWrite
from salesbot_postgres.errors import unavailable_on_failure
from salesbot_postgres.mapping import (
    conversation_from_row,
    conversation_to_values,
    distillation_params,
    exchange_params,
    message_from_row,
    messages_from_json,
    token_from_row,
    token_to_values,
    user_from_row,
    user_to_values,
)
from salesbot_postgres.schema import (
    SEARCH_CONFIG,
    ConversationRow,
    MessageRow,
    RefreshTokenRow,
    UserRow,
)

ROTATED = "rotated"

# One key for "a token cleanup is running" in this database (transaction-scoped advisory lock).
TOKEN_CLEANUP_LOCK = zlib.crc32(b"salesbot:refresh-token-cleanup")

_USERS = UserRow.__table__
_TOKENS = RefreshTokenRow.__table__
_CONVERSATIONS = ConversationRow.__table__
_MESSAGES = MessageRow.__table__


def _timestamp(value: datetime) -> Any:
    """A bound ``timestamptz`` (not a naive ``timestamp``) for SQL expressions like greatest()."""
    return literal(value, DateTime(timezone=True))


def newer_than_cursor(cursor: ConversationCursor | None) -> ColumnElement[bool]:
    """Conversations after ``cursor`` in newest-first (updated_at, id) order."""
    if cursor is None:
        return literal(True)
    return tuple_(ConversationRow.updated_at, ConversationRow.id) < tuple_(
        _timestamp(cursor.updated_at), literal(cursor.id)
    )


def _matches(column: Any, query: str) -> ColumnElement[bool]:
    """``column`` contains every word of ``query`` (the expression the search indexes cover)."""
    config = text(f"'{SEARCH_CONFIG}'::regconfig")
    return func.to_tsvector(config, column).bool_op("@@")(func.plainto_tsquery(config, query))


class CompiledSQL:
    """A statement built once, compiled once to psycopg's SQL (``%(name)s`` parameters). Its
    parameters reach psycopg as they are (no SQLAlchemy type processing): plain values only."""

    def __init__(self, statement: ClauseElement) -> None:
        dialect = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):  # a statement always compiles to SQL
            raise TypeError(f"cannot run {type(statement).__name__} as SQL")
        self.sql = str(compiled)
        # The statement's own constants (``x + 2``, ``literal(0)``) compile to parameters too.
        self._constants = {
            name: bind.value for bind, name in compiled.bind_names.items() if not bind.required
        }

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        """``given`` with the statement's constants: what psycopg executes it with."""
        return {**self._constants, **given} if self._constants else given


class PlainSQL:
    """A statement written as SQL, with psycopg's ``%(name)s`` parameters."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def params(self, given: dict[str, Any]) -> dict[str, Any]:
        return given


Statement = CompiledSQL | PlainSQL


class Transaction:
    """The connection a unit of work lends its repositories while it is open.

    The transaction begins lazily: ``read`` statements before the first ``execute`` run in
    autocommit (one round trip each, no ``BEGIN``/``ROLLBACK``); ``execute`` begins the
    transaction that every later statement of the unit of work joins. ``read`` is for plain
    ``SELECT``s that lock nothing and change nothing: under READ COMMITTED (the engine pins it)
    each statement takes its own snapshot either way, so what a unit of work can observe does
    not change, and a unit of work that only reads costs one round trip per statement.
    """

    def __init__(self) -> None:
        self._connection: AsyncConnection | None = None

    def _lent(self) -> AsyncConnection:
        if self._connection is None:
            raise RuntimeError("use the unit of work inside 'async with' before its repositories")
        return self._connection

    async def _driver(self) -> psycopg.AsyncConnection[Any]:
        """The psycopg connection under the lent one, looked up each time (SQLAlchemy replaces
        it when it reconnects after a failure)."""
        lent = self._lent()
        sync = lent.sync_connection
        if sync is not None and not sync.invalidated and not sync.closed:
            # A valid connection hands its pooled connection over without I/O: no need for
            # ``get_raw_connection``'s trip through SQLAlchemy's greenlet bridge.
            raw = sync.connection
        else:
            raw = await lent.get_raw_connection()  # may reconnect: I/O, so through the bridge
        driver = raw.driver_connection
        if not isinstance(driver, psycopg.AsyncConnection):  # the engine is always psycopg's
            raise TypeError(f"expected a psycopg connection, got {type(driver).__name__}")
        return driver

    async def _set_autocommit(self, on: bool) -> psycopg.AsyncConnection[Any]:
        """Switch the driver connection's autocommit; the driver connection."""
        driver = await self._driver()
        if driver.autocommit != on:
            with unavailable_on_failure():
                await driver.set_autocommit(on)
        return driver

    async def bind(self, connection: AsyncConnection) -> None:
        """Lend ``connection``, its driver connection switched to autocommit."""
        self._connection = connection
        try:
            await self._set_autocommit(True)
        except BaseException:
            self._connection = None
            raise

    async def unbind(self) -> None:
        """Roll back whatever transaction is still open (SQLAlchemy's, or the driver's that a
        ``write``, or a ``rows`` read after a commit, began) and take the connection back, its
        driver connection as the pool lends it (idle, autocommit off); raise if that cannot be
        done, so the caller discards the connection."""
        try:
            await self._end(commit=False)
            await self._set_autocommit(False)
        finally:
            self._connection = None

    async def begin(self) -> None:
        """Begin the transaction now (the next statement runs inside it)."""
        await self._set_autocommit(False)

    async def execute(
        self, statement: Executable, params: dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        """Run ``statement`` inside the transaction (beginning it if need be)."""
        await self.begin()
        return await self._run(statement, params)

    async def read(
        self, statement: Select[Any], params: dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        """Run a plain ``SELECT``: in autocommit before the transaction began, inside it after."""
        return await self._run(statement, params)

    async def rows(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a prebuilt plain ``SELECT`` on the psycopg connection itself, rows as dicts.

        The hot reads skip SQLAlchemy's execution layer (a quarter of a history request's CPU):
        same SQL, same connection, same autocommit-or-transaction rule as ``read``."""
        driver = await self._driver()
        with unavailable_on_failure():
            async with driver.cursor(row_factory=dict_row) as cursor:
                await cursor.execute(statement.sql, statement.params(params))
                return await cursor.fetchall()

    async def write(self, statement: Statement, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a prebuilt writing statement on the psycopg connection itself, inside the
        transaction (beginning it if need be), and return its rows.

        The statement goes in a pipeline, so the transaction's ``BEGIN`` travels with it: one
        round trip. ``commit()`` and ``rollback()`` end this transaction whether it was begun
        here or by a SQLAlchemy statement."""
        driver = await self._set_autocommit(False)  # begins the transaction, as ``begin``
        with unavailable_on_failure():
            async with driver.cursor(row_factory=dict_row) as cursor:
                async with driver.pipeline():
                    await cursor.execute(statement.sql, statement.params(params))
                return await cursor.fetchall()

    async def commit(self) -> None:
        """Commit the transaction, if one began (by SQLAlchemy or by ``write``)."""
        await self._end(commit=True)

    async def rollback(self) -> None:
        """Roll the transaction back, if one began."""
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        connection = self._lent()
        with unavailable_on_failure():
            if connection.in_transaction():  # SQLAlchemy's: the driver's, ``write``s included
                await (connection.commit() if commit else connection.rollback())
                return
            driver = await self._driver()
            if driver.info.transaction_status != TransactionStatus.IDLE:
                await (driver.commit() if commit else driver.rollback())

    async def _run(self, statement: Executable, params: dict[str, Any] | None) -> CursorResult[Any]:
        connection = self._lent()
        with unavailable_on_failure():
            return await connection.execute(statement, params)


class PostgresUsers:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, user: User) -> None:
        # ON CONFLICT on the lower(email) index: a duplicate is an answer, not an error that
        # would abort the caller's transaction.
        statement = (
            insert(UserRow)
            .values(user_to_values(user))
            .on_conflict_do_nothing(index_elements=[func.lower(UserRow.email)])
            .returning(UserRow.id)
        )
        if (await self._tx.execute(statement)).first() is None:
            raise EmailAlreadyRegistered

    async def get(self, user_id: UUID) -> User | None:
        result = await self._tx.read(select(_USERS).where(UserRow.id == user_id))
        row = result.mappings().first()
        return user_from_row(row) if row is not None else None

    async def get_by_email(self, email: str) -> User | None:
        statement = select(_USERS).where(func.lower(UserRow.email) == func.lower(email.lower()))
        row = (await self._tx.read(statement)).mappings().first()
        return user_from_row(row) if row is not None else None

    async def set_role(self, user_id: UUID, role: str, now: datetime) -> bool:
        statement = (
            update(UserRow).where(UserRow.id == user_id).values(role=Role(role), updated_at=now)
        )
        return (await self._tx.execute(statement)).rowcount == 1


class PostgresRefreshTokens:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, token: RefreshToken) -> None:
        await self._tx.execute(insert(RefreshTokenRow).values(token_to_values(token)))

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        statement = select(_TOKENS).where(RefreshTokenRow.token_hash == token_hash)
        row = (await self._tx.read(statement)).mappings().first()
        return token_from_row(row) if row is not None else None

    async def rotate(self, token_id: UUID, replaced_by: UUID, now: datetime) -> bool:
        # The row lock makes concurrent callers queue; each re-checks "revoked_at IS NULL" after
        # the winner commits, so exactly one sees a row.
        statement = (
            update(RefreshTokenRow)
            .where(RefreshTokenRow.id == token_id, RefreshTokenRow.revoked_at.is_(None))
            .values(
                revoked_at=now,
                revoked_reason=ROTATED,
                replaced_by=replaced_by,
                last_used_at=now,
            )
        )
        return (await self._tx.execute(statement)).rowcount == 1

    async def revoke(self, token_id: UUID, reason: str, now: datetime) -> bool:
        statement = (
            update(RefreshTokenRow)
            .where(RefreshTokenRow.id == token_id, RefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return (await self._tx.execute(statement)).rowcount == 1

    async def revoke_family(self, family_id: UUID, reason: str, now: datetime) -> int:
        statement = (
            update(RefreshTokenRow)
            .where(RefreshTokenRow.family_id == family_id, RefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return (await self._tx.execute(statement)).rowcount

    async def revoke_all_for_user(self, user_id: UUID, reason: str, now: datetime) -> int:
        statement = (
            update(RefreshTokenRow)
            .where(RefreshTokenRow.user_id == user_id, RefreshTokenRow.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
        )
        return (await self._tx.execute(statement)).rowcount

    async def list_active_for_user(self, user_id: UUID, now: datetime) -> Sequence[RefreshToken]:
        statement = (
            select(_TOKENS)
            .where(
                RefreshTokenRow.user_id == user_id,
                RefreshTokenRow.revoked_at.is_(None),
                RefreshTokenRow.expires_at > now,
            )
            .order_by(RefreshTokenRow.created_at.desc(), RefreshTokenRow.id.desc())
        )
        rows = (await self._tx.read(statement)).mappings().all()
        return [token_from_row(row) for row in rows]

    async def sessions_for_user(self, user_id: UUID, now: datetime) -> Sequence[Session]:
        family = RefreshTokenRow.__table__.alias("family")
        started = (
            select(func.min(family.c.created_at))
            .where(family.c.family_id == RefreshTokenRow.family_id)
            .scalar_subquery()
        )
        statement = (
            select(_TOKENS, started.label("session_started_at"))
            .where(
                RefreshTokenRow.user_id == user_id,
                RefreshTokenRow.revoked_at.is_(None),
                RefreshTokenRow.expires_at > now,
            )
            .order_by(RefreshTokenRow.created_at.desc(), RefreshTokenRow.family_id.desc())
        )
        rows = (await self._tx.read(statement)).mappings().all()
        return [
            Session(
                id=row["family_id"],
                created_at=row["session_started_at"],
                last_used_at=row["created_at"],
                expires_at=row["expires_at"],
                user_agent=row["user_agent"],
                ip=row["ip"],
            )
            for row in rows
        ]

    async def revoke_session(
        self, user_id: UUID, session_id: UUID, reason: str, now: datetime
    ) -> bool:
        statement = (
            update(RefreshTokenRow)
            .where(
                RefreshTokenRow.user_id == user_id,
                RefreshTokenRow.family_id == session_id,
                RefreshTokenRow.revoked_at.is_(None),
                RefreshTokenRow.expires_at > now,
            )
            .values(revoked_at=now, revoked_reason=reason)
        )
        return (await self._tx.execute(statement)).rowcount > 0

    async def delete_stale(self, now: datetime, revoked_before: datetime) -> int:
        # Several server processes run the cleanup on a schedule: the first takes the lock and
        # does the work; the others find it taken and have nothing to do.
        locked = await self._tx.execute(
            select(func.pg_try_advisory_xact_lock(literal(TOKEN_CLEANUP_LOCK, BigInteger)))
        )
        if not locked.scalar_one():
            return 0
        statement = delete(RefreshTokenRow).where(
            or_(
                RefreshTokenRow.expires_at <= now,
                RefreshTokenRow.revoked_at < revoked_before,
            )
        )
        return (await self._tx.execute(statement)).rowcount


class PostgresConversations:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, conversation: Conversation) -> None:
        await self._tx.execute(insert(ConversationRow).values(conversation_to_values(conversation)))

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        statement = select(_CONVERSATIONS).where(
            ConversationRow.id == conversation_id, ConversationRow.user_id == user_id
        )
        row = (await self._tx.read(statement)).mappings().first()
        return conversation_from_row(row) if row is not None else None

    async def get_with_messages(
        self, conversation_id: UUID, user_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> tuple[Conversation, Sequence[Message]] | None:
        statement, params = _page_query(
            _WITH_MESSAGES_LATEST, _WITH_MESSAGES_BEFORE, conversation_id, limit, before_seq
        )
        params["user_id"] = user_id
        found = await self._tx.rows(statement, params)
        if not found:
            return None
        row = found[0]
        return conversation_from_row(row), messages_from_json(row["page_json"])

    async def list_for_user(self, user_id: UUID) -> Sequence[Conversation]:
        statement = (
            select(_CONVERSATIONS)
            .where(ConversationRow.user_id == user_id)
            .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
        )
        rows = (await self._tx.read(statement)).mappings().all()
        return [conversation_from_row(row) for row in rows]

    async def page_for_user(
        self,
        user_id: UUID,
        *,
        limit: int,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> Sequence[Conversation]:
        if after is None and not query:
            params = {"user_id": user_id, "limit": limit}
            newest = await self._tx.rows(_NEWEST_CONVERSATIONS, params)
            return [conversation_from_row(row) for row in newest]
        conditions = [ConversationRow.user_id == user_id, newer_than_cursor(after)]
        if query:
            in_messages = exists().where(
                and_(
                    MessageRow.conversation_id == ConversationRow.id,
                    _matches(MessageRow.content, query),
                )
            )
            conditions.append(or_(_matches(ConversationRow.title, query), in_messages))
        statement = (
            select(_CONVERSATIONS)
            .where(*conditions)
            .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
            .limit(limit)
        )
        rows = (await self._tx.read(statement)).mappings().all()
        return [conversation_from_row(row) for row in rows]

    async def rename(
        self, conversation_id: UUID, user_id: UUID, title: str, now: datetime
    ) -> Conversation | None:
        statement = (
            update(ConversationRow)
            .where(ConversationRow.id == conversation_id, ConversationRow.user_id == user_id)
            .values(title=title, updated_at=now, version=ConversationRow.version + 1)
            .returning(*_CONVERSATIONS.c)
        )
        row = (await self._tx.execute(statement)).mappings().first()
        return conversation_from_row(row) if row is not None else None

    async def delete(self, conversation_id: UUID, user_id: UUID) -> bool:
        # Messages go with it (ON DELETE CASCADE).
        statement = delete(ConversationRow).where(
            ConversationRow.id == conversation_id, ConversationRow.user_id == user_id
        )
        return (await self._tx.execute(statement)).rowcount == 1

    async def for_update(self, conversation_id: UUID) -> Conversation | None:
        rows = await self._tx.write(_CONVERSATION_FOR_UPDATE, {"id": conversation_id})
        return conversation_from_row(rows[0]) if rows else None

    async def record_exchange(self, write: ExchangeWrite) -> bool:
        # One statement: the conversation's row as the core planned it (compare-and-set on its
        # version, or inserted when new) and both messages, only if that row was written.
        return len(await self._tx.write(_RECORD_EXCHANGE, exchange_params(write))) == 1

    async def apply_distillation(self, write: DistillationWrite) -> bool:
        return len(await self._tx.write(_APPLY_DISTILLATION, distillation_params(write))) == 1

    async def window(
        self, conversation_id: UUID, *, limit: int
    ) -> tuple[Conversation, Sequence[Message]] | None:
        found = await self._tx.rows(_WINDOW, {"id": conversation_id, "limit": limit})
        if not found:
            return None
        return conversation_from_row(found[0]), messages_from_json(found[0]["page_json"])

    async def due_for_distillation(self, *, at_least: int, limit: int) -> Sequence[UUID]:
        rows = await self._tx.rows(_DUE, {"at_least": at_least, "limit": limit})
        return [row["id"] for row in rows]


_MAX_SEQ = 2**31 - 1  # messages.seq is an INTEGER


def _message_page(*, bounded: bool) -> Select[Any]:
    """The ``limit`` messages of a conversation (before ``before_seq`` if ``bounded``), newest
    first."""
    conditions = [MessageRow.conversation_id == bindparam("conversation_id")]
    if bounded:
        conditions.append(MessageRow.seq < bindparam("before_seq"))
    return (
        select(_MESSAGES)
        .where(*conditions)
        .order_by(MessageRow.seq.desc())
        .limit(bindparam("limit"))
    )


def _page_query(
    latest: CompiledSQL,
    before: CompiledSQL,
    conversation_id: UUID,
    limit: int,
    before_seq: int | None,
) -> tuple[CompiledSQL, dict[str, Any]]:
    """The read of a page built on ``_message_page`` (``latest`` or the ``before`` one) and its
    parameters. Past the column's range every message comes before: no bound (and no
    out-of-range parameter for PostgreSQL to refuse)."""
    params: dict[str, Any] = {"conversation_id": conversation_id, "limit": limit}
    if before_seq is None or before_seq > _MAX_SEQ:
        return latest, params
    params["before_seq"] = before_seq
    return before, params


def _with_messages(*, bounded: bool) -> Select[Any]:
    """A conversation's row if the user owns it, with a page of its messages as one JSON array
    (built by PostgreSQL, decoded straight into domain messages by msgspec): one round trip."""
    page = _message_page(bounded=bounded).subquery("page")
    as_json = func.json_build_object(
        *(part for c in page.c for part in (literal_column(f"'{c.name}'"), c))
    )
    messages = select(
        func.coalesce(
            func.json_agg(aggregate_order_by(as_json, page.c.seq)), text("'[]'::json")
        ).cast(Text)
    ).scalar_subquery()
    return select(_CONVERSATIONS, messages.label("page_json")).where(
        ConversationRow.id == bindparam("conversation_id"),
        ConversationRow.user_id == bindparam("user_id"),
    )


# Built and compiled once: the hot reads run their SQL on the psycopg connection directly.
_PAGE_LATEST = CompiledSQL(_message_page(bounded=False))
_PAGE_BEFORE = CompiledSQL(_message_page(bounded=True))
_WITH_MESSAGES_LATEST = CompiledSQL(_with_messages(bounded=False))
_WITH_MESSAGES_BEFORE = CompiledSQL(_with_messages(bounded=True))
_NEWEST_CONVERSATIONS = CompiledSQL(
    select(_CONVERSATIONS)
    .where(ConversationRow.user_id == bindparam("user_id"))
    .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
    .limit(bindparam("limit"))
)


# record_exchange: the conversation's row as the core planned it, inserted when new
# (expected_version NULL) or updated if its version did not move, and both messages appended to
# the row written; no row written, no messages.
_RECORD_EXCHANGE = PlainSQL(
    """
WITH inserted AS (
    INSERT INTO conversations (id, user_id, title, metadata, messages_since_context_update,
        message_count, distilled_through, prompt_tokens, completion_tokens, history_chars,
        context_chars, full_history_chars, version, created_at, updated_at)
    SELECT %(id)s, %(user_id)s, %(title)s, %(metadata)s::jsonb,
        %(messages_since_context_update)s, %(message_count)s, %(distilled_through)s,
        %(prompt_tokens)s, %(completion_tokens)s, %(history_chars)s, %(context_chars)s,
        %(full_history_chars)s, %(version)s, %(created_at)s, %(updated_at)s
    WHERE %(expected_version)s::integer IS NULL
    ON CONFLICT (id) DO NOTHING
    RETURNING id
), updated AS (
    UPDATE conversations SET
        messages_since_context_update = %(messages_since_context_update)s,
        message_count = %(message_count)s,
        prompt_tokens = %(prompt_tokens)s,
        completion_tokens = %(completion_tokens)s,
        history_chars = %(history_chars)s,
        context_chars = %(context_chars)s,
        full_history_chars = %(full_history_chars)s,
        updated_at = %(updated_at)s,
        version = %(version)s
    WHERE id = %(id)s AND version = %(expected_version)s::integer
    RETURNING id
), written AS (
    SELECT id FROM inserted UNION ALL SELECT id FROM updated
), appended AS (
    INSERT INTO messages (id, conversation_id, seq, sender, content, created_at,
                          prompt_tokens, completion_tokens)
    SELECT m.id, written.id, m.seq, m.sender, m.content, m.created_at,
           m.prompt_tokens, m.completion_tokens
    FROM written, (VALUES
        (%(user_message_id)s::uuid, %(user_seq)s::integer, 'user'::message_sender,
         %(user_content)s::text, %(messages_created_at)s::timestamptz, 0, 0),
        (%(bot_message_id)s::uuid, %(bot_seq)s::integer, 'bot'::message_sender,
         %(bot_content)s::text, %(messages_created_at)s::timestamptz,
         %(bot_prompt_tokens)s::integer, %(bot_completion_tokens)s::integer)
    ) AS m (id, seq, sender, content, created_at, prompt_tokens, completion_tokens)
)
SELECT id FROM written"""
)

# apply_distillation: the row as planned, if its version did not move.
_APPLY_DISTILLATION = PlainSQL(
    """
UPDATE conversations SET
    metadata = %(metadata)s::jsonb,
    distilled_through = %(distilled_through)s,
    messages_since_context_update = %(messages_since_context_update)s,
    prompt_tokens = %(prompt_tokens)s,
    completion_tokens = %(completion_tokens)s,
    updated_at = %(updated_at)s,
    version = %(version)s
WHERE id = %(id)s AND version = %(expected_version)s
RETURNING id"""
)

# for_update: the conversation as it stands, its row locked until the transaction ends.
_CONVERSATION_FOR_UPDATE = PlainSQL("SELECT * FROM conversations WHERE id = %(id)s FOR UPDATE")

# window: the conversation and the latest messages after distilled_through, as a JSON array.
_WINDOW = PlainSQL(
    """
SELECT c.*, (
    SELECT coalesce(json_agg(row_to_json(page) ORDER BY page.seq), '[]'::json)::text
    FROM (SELECT * FROM messages m
          WHERE m.conversation_id = c.id AND m.seq > c.distilled_through
          ORDER BY m.seq DESC LIMIT %(limit)s) AS page
) AS page_json
FROM conversations c WHERE c.id = %(id)s"""
)

# due_for_distillation: counters at the core's threshold, least recently updated first.
_DUE = PlainSQL(
    """
SELECT id FROM conversations WHERE messages_since_context_update >= %(at_least)s
ORDER BY updated_at, id LIMIT %(limit)s"""
)


class PostgresMessages:
    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def list_for_conversation(self, conversation_id: UUID) -> Sequence[Message]:
        return await self.list_after(conversation_id, 0)

    async def list_after(self, conversation_id: UUID, after_seq: int) -> Sequence[Message]:
        statement = (
            select(_MESSAGES)
            .where(MessageRow.conversation_id == conversation_id, MessageRow.seq > after_seq)
            .order_by(MessageRow.seq)
        )
        rows = (await self._tx.read(statement)).mappings().all()
        return [message_from_row(row) for row in rows]

    async def page_before(
        self, conversation_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> Sequence[Message]:
        statement, params = _page_query(
            _PAGE_LATEST, _PAGE_BEFORE, conversation_id, limit, before_seq
        )
        rows = await self._tx.rows(statement, params)
        return [message_from_row(row) for row in reversed(rows)]


__all__ = [
    "PostgresConversations",
    "PostgresMessages",
    "PostgresRefreshTokens",
    "PostgresUsers",
    "Transaction",
]
