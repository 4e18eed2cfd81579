"""Persistence: repositories hanging off a unit of work (one short transaction each).

A unit of work is an async context manager; nothing is written unless ``commit()`` is awaited
inside it, and leaving the block without committing rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import msgspec

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    Message,
    RefreshToken,
    SalesMetadata,
    Session,
    TokenUsage,
    User,
)


class UserRepository(Protocol):
    async def add(self, user: User) -> None:
        """Insert a user; raises ``EmailAlreadyRegistered`` if the lower-cased email exists."""
        ...

    async def get(self, user_id: UUID) -> User | None: ...

    async def get_by_email(self, email: str) -> User | None:
        """Look up by email, case-insensitively."""
        ...

    async def set_role(self, user_id: UUID, role: str, now: datetime) -> bool: ...


class RefreshTokenRepository(Protocol):
    async def add(self, token: RefreshToken) -> None: ...

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None: ...

    async def rotate(self, token_id: UUID, replaced_by: UUID, now: datetime) -> bool:
        """Mark an active token as rotated (revoked, reason ``rotated``, ``replaced_by`` set) if and
        only if it is still unrevoked; True for exactly one of any number of concurrent callers."""
        ...

    async def revoke(self, token_id: UUID, reason: str, now: datetime) -> bool:
        """Revoke one token if it is not revoked yet."""
        ...

    async def revoke_family(self, family_id: UUID, reason: str, now: datetime) -> int: ...

    async def revoke_all_for_user(self, user_id: UUID, reason: str, now: datetime) -> int: ...

    async def list_active_for_user(self, user_id: UUID, now: datetime) -> Sequence[RefreshToken]:
        """The user's unrevoked, unexpired tokens, newest first."""
        ...

    async def sessions_for_user(self, user_id: UUID, now: datetime) -> Sequence[Session]:
        """The user's live sessions (families with an unrevoked, unexpired token), most recently
        used first; ``created_at`` is the family's first token, ``last_used_at`` its live one."""
        ...

    async def revoke_session(
        self, user_id: UUID, session_id: UUID, reason: str, now: datetime
    ) -> bool:
        """Revoke the live tokens of the user's family ``session_id``; False when the user has no
        live session with that id."""
        ...

    async def delete_stale(self, now: datetime, revoked_before: datetime) -> int:
        """Delete expired tokens and tokens revoked before ``revoked_before``; safe when several
        processes run it at once. Returns how many were deleted."""
        ...


class ExchangeRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One exchange to store: the customer's message and the bot's reply."""

    conversation_id: UUID
    user_message_id: UUID
    bot_message_id: UUID
    user_content: str
    bot_content: str
    usage: TokenUsage
    user_created_at: datetime
    bot_created_at: datetime
    # Characters the reply prompt carried as context (metadata, recent turns, the new message).
    context_chars: int = 0


class StoredExchange(msgspec.Struct, frozen=True, kw_only=True):
    """What storing an exchange produced: both messages, and the conversation after the counter
    step (done atomically by the store, so concurrent exchanges each see their own step)."""

    user_message: Message
    bot_message: Message
    conversation: Conversation


class ConversationRepository(Protocol):
    async def add(self, conversation: Conversation) -> None: ...

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        """The conversation if it exists *and* belongs to the user, else None."""
        ...

    async def list_for_user(self, user_id: UUID) -> Sequence[Conversation]:
        """The user's conversations, most recently updated first."""
        ...

    async def get_with_messages(
        self, conversation_id: UUID, user_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> tuple[Conversation, Sequence[Message]] | None:
        """``get_for_user`` and ``MessageRepository.page_before`` in one read (one round trip
        where the store allows): the conversation if it belongs to the user, with the ``limit``
        messages before ``before_seq`` (the latest without it), oldest first; else None."""
        ...

    async def page_for_user(
        self,
        user_id: UUID,
        *,
        limit: int,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> Sequence[Conversation]:
        """Up to ``limit`` of the user's conversations, most recently updated first (ties by id,
        descending), strictly after ``after``. With ``query``, only conversations whose title, or
        one of whose messages, contains every word of the query (case-insensitive, whole words)."""
        ...

    async def rename(
        self, conversation_id: UUID, user_id: UUID, title: str, now: datetime
    ) -> Conversation | None: ...

    async def delete(self, conversation_id: UUID, user_id: UUID) -> bool:
        """Delete the conversation and its messages; False if it is not the user's."""
        ...

    async def record_exchange(self, record: ExchangeRecord) -> StoredExchange:
        """Append both messages (next two ``seq`` numbers) and step the counter by 2 atomically,
        touching ``updated_at``, adding the usage to the token totals and both messages' lengths
        to ``history_chars``; ``context_chars`` grows by the record's, ``full_history_chars`` by
        ``history_chars`` before the exchange plus the customer message's length. Raises
        ``ConversationNotFound`` if the conversation is gone."""
        ...

    async def apply_distillation(
        self,
        conversation_id: UUID,
        *,
        expected_through: int,
        new_through: int,
        metadata: SalesMetadata,
        covered_messages: int,
        usage: TokenUsage,
        now: datetime,
    ) -> bool:
        """Store distilled metadata if ``distilled_through`` still equals ``expected_through``
        (compare-and-set, so one window is never applied twice); set it to ``new_through`` and
        lower the counter by ``covered_messages`` (not below 0); add ``usage`` to the
        conversation's token totals. True if applied."""
        ...


class MessageRepository(Protocol):
    async def list_for_conversation(self, conversation_id: UUID) -> Sequence[Message]:
        """All messages, oldest first (by ``seq``)."""
        ...

    async def list_after(self, conversation_id: UUID, after_seq: int) -> Sequence[Message]:
        """Messages with ``seq > after_seq``, oldest first (the window since a distillation)."""
        ...

    async def page_before(
        self, conversation_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> Sequence[Message]:
        """The ``limit`` messages just before ``before_seq`` (the latest ones when None), oldest
        first. Walking back by the first ``seq`` of each page sees every message exactly once,
        whatever is appended meanwhile."""
        ...


class UnitOfWork(Protocol):
    # Read-only members, so an adapter may expose its own repository classes (covariance).
    @property
    def users(self) -> UserRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def conversations(self) -> ConversationRepository: ...

    @property
    def messages(self) -> MessageRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
