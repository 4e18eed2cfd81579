"""The persistence port in memory: a store, its unit of work and repositories.

Units of work run one at a time (an asyncio lock held from enter to exit, like serialisable
transactions): each works on a copy of the state and publishes it on ``commit()``, so an
uncommitted unit of work leaves no trace. Use cases never hold one across an LLM call, so the
lock is short, as a database transaction would be.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

import msgspec

from salesbot_core.domain import (
    Conversation,
    ConversationCursor,
    Distillation,
    Message,
    Product,
    RefreshToken,
    Role,
    SaleStatus,
    Session,
    User,
)
from salesbot_core.errors import EmailAlreadyRegistered
from salesbot_core.exchange import DistillationWrite, ExchangeWrite
from salesbot_core.ports import (
    Count,
    DayConversion,
    Lead,
    LeadConversation,
    SalesFigures,
    UsageTotals,
)
from salesbot_core.testing.catalogue import InMemoryCatalogue, InMemoryProducts
from salesbot_core.testing.outbox import MemoryOutbox, MemoryWebhookDeliveries, OutboxState

replace = msgspec.structs.replace


class _State(msgspec.Struct, kw_only=True):
    users: dict[UUID, User] = msgspec.field(default_factory=dict)
    tokens: dict[UUID, RefreshToken] = msgspec.field(default_factory=dict)
    conversations: dict[UUID, Conversation] = msgspec.field(default_factory=dict)
    messages: dict[UUID, list[Message]] = msgspec.field(default_factory=dict)
    outbox: OutboxState = msgspec.field(default_factory=OutboxState)
    products: dict[str, Product] = msgspec.field(default_factory=dict)
    # conversation id -> when its distillation lease ends
    distillation_leases: dict[UUID, datetime] = msgspec.field(default_factory=dict)
    distillations: dict[UUID, list[Distillation]] = msgspec.field(default_factory=dict)

    def copy(self) -> _State:
        return _State(
            products=dict(self.products),
            users=dict(self.users),
            tokens=dict(self.tokens),
            conversations=dict(self.conversations),
            messages={key: list(value) for key, value in self.messages.items()},
            outbox=self.outbox.copy(),
            distillation_leases=dict(self.distillation_leases),
            distillations={key: list(value) for key, value in self.distillations.items()},
        )


class InMemoryStore:
    """Everything salesbot stores, in memory. ``commits`` counts committed units of work;
    ``webhook_urls`` are where the outbox's events go (one delivery per event and URL)."""

    def __init__(self, webhook_urls: Sequence[str] = ()) -> None:
        self.webhook_urls = tuple(webhook_urls)
        self.state = _State()
        self.commits = 0
        self._lock = asyncio.Lock()

    def uow_factory(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def insight(self) -> InMemoryInsight:
        """A ``SalesInsightReader`` over what is committed."""
        return InMemoryInsight(self)

    def catalogue(self) -> InMemoryCatalogue:
        """A ``Catalogue`` over the products committed."""
        return InMemoryCatalogue.reading(lambda: self.state.products)


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.casefold()))


def _newest_first(conversations: Iterable[Conversation]) -> list[Conversation]:
    return sorted(conversations, key=lambda c: (c.updated_at, c.id), reverse=True)


def _after(
    conversations: list[Conversation], cursor: ConversationCursor | None
) -> list[Conversation]:
    if cursor is None:
        return conversations
    return [c for c in conversations if (c.updated_at, c.id) < (cursor.updated_at, cursor.id)]


class _Users:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def add(self, user: User) -> None:
        if any(u.email.lower() == user.email.lower() for u in self._s.users.values()):
            raise EmailAlreadyRegistered
        self._s.users[user.id] = user

    async def get(self, user_id: UUID) -> User | None:
        return self._s.users.get(user_id)

    async def get_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        return next((u for u in self._s.users.values() if u.email.lower() == wanted), None)

    async def set_role(self, user_id: UUID, role: str, now: datetime) -> bool:
        user = self._s.users.get(user_id)
        if user is None:
            return False
        self._s.users[user_id] = replace(user, role=Role(role), updated_at=now)
        return True


class _RefreshTokens:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def add(self, token: RefreshToken) -> None:
        self._s.tokens[token.id] = token

    async def get_by_hash(self, token_hash: str) -> RefreshToken | None:
        return next((t for t in self._s.tokens.values() if t.token_hash == token_hash), None)

    async def rotate(self, token_id: UUID, replaced_by: UUID, now: datetime) -> bool:
        token = self._s.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._s.tokens[token_id] = replace(
            token,
            revoked_at=now,
            revoked_reason="rotated",
            replaced_by=replaced_by,
            last_used_at=now,
        )
        return True

    async def revoke(self, token_id: UUID, reason: str, now: datetime) -> bool:
        token = self._s.tokens.get(token_id)
        if token is None or token.revoked_at is not None:
            return False
        self._s.tokens[token_id] = replace(token, revoked_at=now, revoked_reason=reason)
        return True

    async def _revoke_where(self, ids: list[UUID], reason: str, now: datetime) -> int:
        for token_id in ids:
            self._s.tokens[token_id] = replace(
                self._s.tokens[token_id], revoked_at=now, revoked_reason=reason
            )
        return len(ids)

    async def revoke_family(self, family_id: UUID, reason: str, now: datetime) -> int:
        ids = [
            t.id
            for t in self._s.tokens.values()
            if t.family_id == family_id and t.revoked_at is None
        ]
        return await self._revoke_where(ids, reason, now)

    async def revoke_all_for_user(self, user_id: UUID, reason: str, now: datetime) -> int:
        ids = [
            t.id for t in self._s.tokens.values() if t.user_id == user_id and t.revoked_at is None
        ]
        return await self._revoke_where(ids, reason, now)

    async def sessions_for_user(self, user_id: UUID, now: datetime) -> Sequence[Session]:
        live = [t for t in self._s.tokens.values() if t.user_id == user_id and t.is_active(now)]
        sessions = []
        for token in live:
            family = [t for t in self._s.tokens.values() if t.family_id == token.family_id]
            sessions.append(
                Session(
                    id=token.family_id,
                    created_at=min(t.created_at for t in family),
                    last_used_at=token.created_at,
                    expires_at=token.expires_at,
                    user_agent=token.user_agent,
                    ip=token.ip,
                )
            )
        return sorted(sessions, key=lambda s: (s.last_used_at, s.id), reverse=True)

    async def revoke_session(
        self, user_id: UUID, session_id: UUID, reason: str, now: datetime
    ) -> bool:
        ids = [
            t.id
            for t in self._s.tokens.values()
            if t.user_id == user_id and t.family_id == session_id and t.is_active(now)
        ]
        return await self._revoke_where(ids, reason, now) > 0

    async def list_active_for_user(self, user_id: UUID, now: datetime) -> Sequence[RefreshToken]:
        active = [t for t in self._s.tokens.values() if t.user_id == user_id and t.is_active(now)]
        return sorted(active, key=lambda t: t.created_at, reverse=True)

    async def delete_stale(self, now: datetime, revoked_before: datetime) -> int | None:
        stale = [
            t.id
            for t in self._s.tokens.values()
            if t.expires_at <= now or (t.revoked_at is not None and t.revoked_at < revoked_before)
        ]
        for token_id in stale:
            del self._s.tokens[token_id]
        return len(stale)


class _Conversations:
    def __init__(self, state: _State) -> None:
        self._s = state

    def _owned(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        conversation = self._s.conversations.get(conversation_id)
        return conversation if conversation and conversation.user_id == user_id else None

    async def add(self, conversation: Conversation) -> None:
        self._s.conversations[conversation.id] = conversation
        self._s.messages.setdefault(conversation.id, [])

    async def get_for_user(self, conversation_id: UUID, user_id: UUID) -> Conversation | None:
        return self._owned(conversation_id, user_id)

    async def get_with_messages(
        self, conversation_id: UUID, user_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> tuple[Conversation, Sequence[Message]] | None:
        conversation = self._owned(conversation_id, user_id)
        if conversation is None:
            return None
        return conversation, _page_before(self._s, conversation_id, limit, before_seq)

    async def list_for_user(self, user_id: UUID) -> Sequence[Conversation]:
        mine = [c for c in self._s.conversations.values() if c.user_id == user_id]
        return sorted(mine, key=lambda c: (c.updated_at, c.id), reverse=True)

    async def page_for_user(
        self,
        user_id: UUID,
        *,
        limit: int,
        after: ConversationCursor | None = None,
        query: str | None = None,
    ) -> Sequence[Conversation]:
        mine = _after(
            _newest_first(c for c in self._s.conversations.values() if c.user_id == user_id), after
        )
        if query:
            wanted = _words(query)
            mine = [
                c
                for c in mine
                if wanted <= _words(c.title)
                or any(wanted <= _words(m.content) for m in self._s.messages.get(c.id, ()))
            ]
        return mine[:limit]

    async def rename(
        self, conversation_id: UUID, user_id: UUID, title: str, now: datetime
    ) -> Conversation | None:
        conversation = self._owned(conversation_id, user_id)
        if conversation is None:
            return None
        renamed = replace(
            conversation, title=title, updated_at=now, version=conversation.version + 1
        )
        self._s.conversations[conversation_id] = renamed
        return renamed

    async def delete(self, conversation_id: UUID, user_id: UUID) -> bool:
        if self._owned(conversation_id, user_id) is None:
            return False
        del self._s.conversations[conversation_id]
        self._s.messages.pop(conversation_id, None)
        self._s.distillations.pop(conversation_id, None)
        return True

    async def for_update(self, conversation_id: UUID) -> Conversation | None:
        return self._s.conversations.get(conversation_id)

    async def record_exchange(self, write: ExchangeWrite) -> bool:
        conversation = write.conversation
        stored = self._s.conversations.get(conversation.id)
        if write.expected_version is None:
            if stored is not None:
                return False
            self._s.messages[conversation.id] = []
        elif stored is None or stored.version != write.expected_version:
            return False
        self._s.conversations[conversation.id] = conversation
        self._s.messages[conversation.id].extend((write.user_message, write.bot_message))
        return True

    async def apply_distillation(
        self, write: DistillationWrite, *, lease_until: datetime | None = None
    ) -> bool:
        conversation = write.conversation
        stored = self._s.conversations.get(conversation.id)
        if stored is None or stored.version != write.expected_version:
            return False
        self._s.conversations[conversation.id] = conversation
        self._s.distillations.setdefault(conversation.id, []).append(write.record)
        if lease_until is not None:
            await self.release_distillation(conversation.id, until=lease_until)
        return True

    async def window(
        self, conversation_id: UUID, *, limit: int
    ) -> tuple[Conversation, Sequence[Message]] | None:
        conversation = self._s.conversations.get(conversation_id)
        if conversation is None:
            return None
        since = [
            m
            for m in self._s.messages.get(conversation_id, ())
            if m.seq > conversation.distilled_through
        ]
        return conversation, since[-limit:] if limit > 0 else []

    async def claim_distillation(
        self,
        conversation_id: UUID,
        *,
        now: datetime,
        until: datetime,
        distilled_through: int | None = None,
    ) -> bool:
        held = self._s.distillation_leases.get(conversation_id)
        conversation = self._s.conversations.get(conversation_id)
        if conversation is None or (held is not None and held > now):
            return False
        if distilled_through is not None and conversation.distilled_through != distilled_through:
            return False
        self._s.distillation_leases[conversation_id] = until
        return True

    async def release_distillation(self, conversation_id: UUID, *, until: datetime) -> None:
        if self._s.distillation_leases.get(conversation_id) == until:
            del self._s.distillation_leases[conversation_id]

    async def due_for_distillation(self, *, at_least: int, limit: int) -> Sequence[UUID]:
        due = sorted(
            (
                c
                for c in self._s.conversations.values()
                if c.messages_since_context_update >= at_least
            ),
            key=lambda c: (c.updated_at, c.id),
        )
        return [c.id for c in due[:limit]]


def _page_before(
    state: _State, conversation_id: UUID, limit: int, before_seq: int | None
) -> list[Message]:
    earlier = [
        m
        for m in state.messages.get(conversation_id, ())
        if before_seq is None or m.seq < before_seq
    ]
    return earlier[-limit:] if limit > 0 else []


class _Messages:
    def __init__(self, state: _State) -> None:
        self._s = state

    async def list_for_conversation(self, conversation_id: UUID) -> Sequence[Message]:
        return list(self._s.messages.get(conversation_id, ()))

    async def list_after(self, conversation_id: UUID, after_seq: int) -> Sequence[Message]:
        return [m for m in self._s.messages.get(conversation_id, ()) if m.seq > after_seq]

    async def page_before(
        self, conversation_id: UUID, *, limit: int, before_seq: int | None = None
    ) -> Sequence[Message]:
        return _page_before(self._s, conversation_id, limit, before_seq)


class InMemoryUnitOfWork:
    """One serialised unit of work over an ``InMemoryStore``."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._work = _State()
        self.committed = False
        self._bind(self._work)

    def _bind(self, state: _State) -> None:
        self.users = _Users(state)
        self.refresh_tokens = _RefreshTokens(state)
        self.conversations = _Conversations(state)
        self.messages = _Messages(state)
        self.outbox = MemoryOutbox(state.outbox, self._store.webhook_urls)
        self.webhook_deliveries = MemoryWebhookDeliveries(state.outbox)
        self.products = InMemoryProducts(state.products)

    async def __aenter__(self) -> Self:
        await self._store._lock.acquire()
        self._work = self._store.state.copy()
        self._bind(self._work)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._store._lock.release()

    async def commit(self) -> None:
        self._store.state = self._work
        self._work = self._work.copy()
        self._bind(self._work)
        self._store.commits += 1
        self.committed = True

    async def rollback(self) -> None:
        self._work = self._store.state.copy()
        self._bind(self._work)


def _top(values: Iterable[str], top: int) -> tuple[Count, ...]:
    counts = Counter(values)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(Count(name=name, count=count) for name, count in ranked[:top])


def _once_per_conversation(items: Iterable[str]) -> set[str]:
    return {item.lower() for item in items}  # as PostgreSQL lower() does


def _lead(state: _State, c: Conversation) -> Lead:
    """The conversation as a lead: its customer and its last message."""
    customer = state.users[c.user_id]
    messages = state.messages.get(c.id, [])
    return Lead(
        conversation_id=c.id,
        title=c.title,
        customer_id=customer.id,
        customer_name=customer.name,
        customer_email=customer.email,
        customer_phone=customer.phone,
        metadata=c.metadata,
        last_message=messages[-1] if messages else None,
        updated_at=c.updated_at,
    )


class InMemoryInsight:
    """Sales figures and leads computed from an ``InMemoryStore``'s committed state."""

    def __init__(self, store: InMemoryStore) -> None:
        self._store = store

    async def figures(self, *, since: datetime, top: int) -> SalesFigures:
        conversations = list(self._store.state.conversations.values())
        by_status = dict.fromkeys(SaleStatus, 0)
        interests: list[str] = []
        offered: list[str] = []
        rejected: list[str] = []
        for c in conversations:
            by_status[c.sale_status] += 1
            if c.metadata is not None:
                interests.extend(_once_per_conversation(c.metadata.interests))
                offered.extend(_once_per_conversation(c.metadata.offered_products))
                rejected.extend(_once_per_conversation(c.metadata.rejected_products))
        days: dict[date, list[Conversation]] = {}
        for c in conversations:
            if c.created_at >= since:
                days.setdefault(c.created_at.date(), []).append(c)
        conversion = tuple(
            DayConversion(
                day=day,
                started=len(started),
                closed=sum(c.sale_status is SaleStatus.CLOSED for c in started),
            )
            for day, started in sorted(days.items())
        )
        return SalesFigures(
            conversations=len(conversations),
            by_status=by_status,
            top_interests=_top(interests, top),
            most_offered=_top(offered, top),
            most_rejected=_top(rejected, top),
            conversion=conversion,
            usage=UsageTotals(
                exchanges=sum(c.message_count // 2 for c in conversations),
                prompt_tokens=sum(c.prompt_tokens for c in conversations),
                completion_tokens=sum(c.completion_tokens for c in conversations),
                context_chars=sum(c.context_chars for c in conversations),
                full_history_chars=sum(c.full_history_chars for c in conversations),
            ),
        )

    async def leads(
        self,
        *,
        status: SaleStatus | None,
        limit: int,
        after: ConversationCursor | None = None,
        search: str | None = None,
    ) -> Sequence[Lead]:
        state = self._store.state

        def found(c: Conversation) -> bool:
            customer = state.users[c.user_id]
            texts = (customer.name, customer.email, c.title)
            return search is None or any(search in text.lower() for text in texts)

        chosen = _after(
            _newest_first(
                c
                for c in state.conversations.values()
                if (status is None or c.sale_status is status) and found(c)
            ),
            after,
        )
        return [_lead(state, c) for c in chosen[:limit]]

    async def conversation(
        self, conversation_id: UUID, *, messages: int, distillations: int
    ) -> LeadConversation | None:
        state = self._store.state
        c = state.conversations.get(conversation_id)
        if c is None:
            return None
        transcript = state.messages.get(c.id, [])
        history = state.distillations.get(c.id, [])
        lead = _lead(state, c)
        return LeadConversation(
            lead=lead,
            messages=tuple(transcript[-messages:] if messages > 0 else ()),
            total_messages=len(transcript),
            distillations=tuple(history[-distillations:] if distillations > 0 else ()),
            total_distillations=len(history),
        )
