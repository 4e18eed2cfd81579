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

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    Message,
    RefreshToken,
    Session,
    User,
)
from salesbot_core.exchange import DistillationWrite, ExchangeWrite
from salesbot_core.ports.catalogue import ProductRepository
from salesbot_core.ports.outbox import Outbox, WebhookDeliveries


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

    async def delete_stale(self, now: datetime, revoked_before: datetime) -> int | None:
        """Delete expired tokens and tokens revoked before ``revoked_before``; safe when several
        processes run it at once. Returns how many were deleted, or None when another process
        is running the cleanup at this moment (nothing was done, and nothing waited for)."""
        ...


class ConversationRepository(Protocol):
    """What the use cases ask of stored conversations. Writes that race are compare-and-set on
    ``Conversation.version``: a plan made from a conversation that changed meanwhile is refused
    (False), and the caller makes it again from ``for_update``."""

    async def get_with_messages(
        self, conversation_id: UUID, user_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> tuple[Conversation, Sequence[Message]] | None:
        """The conversation if it belongs to the user, with the ``limit`` messages before
        ``before_seq`` (the latest without it), oldest first; else None. One read."""
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
    ) -> Conversation | None:
        """Set the title and ``updated_at``, bumping the version; None if it is not the user's."""
        ...

    async def delete(self, conversation_id: UUID, user_id: UUID) -> bool:
        """Delete the conversation and its messages; False if it is not the user's."""
        ...

    async def for_update(self, conversation_id: UUID) -> Conversation | None:
        """The conversation as it stands, locked until the unit of work ends (None: gone), so
        a plan made from it is not refused."""
        ...

    async def record_exchange(self, write: ExchangeWrite) -> bool:
        """Write ``write.conversation`` as it is and append both messages, if the stored version
        is still ``write.expected_version`` (None: insert the new conversation with them).
        False, writing nothing, when the version moved or the conversation is gone."""
        ...

    async def apply_distillation(
        self, write: DistillationWrite, *, lease_until: datetime | None = None
    ) -> bool:
        """If the stored version is still ``write.expected_version``: write
        ``write.conversation``'s metadata, ``distilled_through``, counter, token totals and
        ``updated_at``, keep ``write.record`` in the conversation's distillation history, and
        end the distillation lease taken until ``lease_until`` (one taken since is left alone),
        as one change. False, writing nothing, otherwise."""
        ...

    async def window(
        self, conversation_id: UUID, *, limit: int
    ) -> tuple[Conversation, Sequence[Message]] | None:
        """The conversation with the latest ``limit`` of its messages after
        ``distilled_through``, oldest first (what a distillation reads); None if it is gone."""
        ...

    async def claim_distillation(
        self,
        conversation_id: UUID,
        *,
        now: datetime,
        until: datetime,
        distilled_through: int | None = None,
    ) -> bool:
        """Take the conversation's distillation lease until ``until`` if no live one is held
        (none, or one that ended at or before ``now``), in any process, and, with
        ``distilled_through``, only while the conversation is still distilled through it (a
        window read before another distillation covered it is not claimed); False otherwise
        (or when the conversation is gone). Leaves the version alone: it is no change of
        content."""
        ...

    async def release_distillation(self, conversation_id: UUID, *, until: datetime) -> None:
        """End the lease taken until ``until``; a lease someone took since is left alone."""
        ...

    async def due_for_distillation(self, *, at_least: int, limit: int) -> Sequence[UUID]:
        """Up to ``limit`` conversations whose counter is at least ``at_least`` (the core's
        threshold), least recently updated first."""
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
    def outbox(self) -> Outbox: ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveries: ...

    @property
    def products(self) -> ProductRepository: ...

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
