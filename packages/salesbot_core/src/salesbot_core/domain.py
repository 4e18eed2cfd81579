"""The domain's values: users, refresh-token records, conversations, messages and sales metadata.

All are frozen msgspec Structs; a change returns a new value (``msgspec.structs.replace``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal
from uuid import UUID

import msgspec


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


class SaleStatus(StrEnum):
    EXPLORING = "exploring"
    INTERESTED = "interested"
    NEGOTIATING = "negotiating"
    CLOSED = "closed"
    LOST = "lost"


class Sender(StrEnum):
    USER = "user"
    BOT = "bot"


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    email: str
    name: str
    phone: str | None
    password_hash: str
    role: Role = Role.CUSTOMER
    created_at: datetime
    updated_at: datetime


class RefreshToken(msgspec.Struct, frozen=True, kw_only=True):
    """A stored refresh token. Only the SHA-256 of the secret is kept, never the secret itself.

    Tokens minted from one login share a ``family_id``; presenting a token that was already
    rotated revokes the whole family (reuse detection).
    """

    id: UUID
    user_id: UUID
    family_id: UUID
    token_hash: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    replaced_by: UUID | None = None
    user_agent: str | None = None
    ip: str | None = None

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class SalesMetadata(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What the customer wants, distilled every third exchange. Field names on the wire are the
    seed's (``offeredProducts``...), because the LLM answers and clients read them that way."""

    interests: tuple[str, ...] = ()
    offered_products: tuple[str, ...] = ()
    rejected_products: tuple[str, ...] = ()
    sale_status: SaleStatus = SaleStatus.EXPLORING
    last_intent: str | None = None


class Distillation(msgspec.Struct, frozen=True, kw_only=True):
    """One applied distillation, kept so a conversation's metadata can be followed as it
    changed: the metadata it left, the last message it covered and what it cost."""

    conversation_id: UUID
    distilled_at: datetime
    through_seq: int
    covered_messages: int
    metadata: SalesMetadata
    prompt_tokens: int
    completion_tokens: int


class Conversation(msgspec.Struct, frozen=True, kw_only=True):
    """A customer's conversation.

    ``messages_since_context_update`` is the seed's counter (+2 per exchange, reset when metadata
    is distilled). ``message_count`` numbers the messages (each message's ``seq``), and
    ``distilled_through`` is the ``seq`` of the last message the metadata covers: the reply
    prompt carries only messages after it. ``prompt_tokens``/``completion_tokens`` total the LLM
    usage of every call made for the conversation.

    What the metadata design saves is kept as character counts: ``history_chars`` is the length
    of every message so far; per exchange, ``context_chars`` adds what the reply prompt actually
    carried (metadata + recent turns + the new message) and ``full_history_chars`` what sending the
    whole history instead would have carried.
    """

    id: UUID
    user_id: UUID
    title: str
    metadata: SalesMetadata | None = None
    messages_since_context_update: int = 0
    message_count: int = 0
    distilled_through: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    history_chars: int = 0
    context_chars: int = 0
    full_history_chars: int = 0
    # Bumped by every write (an exchange, a distillation, a rename): the stores' compare-and-set.
    version: int = 0
    created_at: datetime
    updated_at: datetime

    @property
    def sale_status(self) -> SaleStatus:
        """Where the sale stands; a conversation not yet distilled is still exploring."""
        return self.metadata.sale_status if self.metadata else SaleStatus.EXPLORING


class ConversationCursor(msgspec.Struct, frozen=True, kw_only=True):
    """A position in a list of conversations ordered by (updated_at, id), newest first."""

    updated_at: datetime
    id: UUID


class Session(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in device: one refresh-token family, seen through its live token."""

    id: UUID  # the family id
    created_at: datetime  # the login
    last_used_at: datetime  # the login or the latest refresh
    expires_at: datetime
    user_agent: str | None = None
    ip: str | None = None


class Message(msgspec.Struct, frozen=True, kw_only=True):
    """One message. A bot message carries the LLM token usage of the exchange that produced it."""

    id: UUID
    conversation_id: UUID
    seq: int
    sender: Sender
    content: str
    created_at: datetime
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """A message as a prompt sees it: who said what."""

    sender: Sender
    content: str


class TokenUsage(msgspec.Struct, frozen=True, kw_only=True):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """One message of an LLM prompt, in the Chat Completions sense."""

    role: Literal["system", "user", "assistant"]
    content: str


class Product(msgspec.Struct, frozen=True, kw_only=True):
    """One product of the shop's catalogue, as a reply may name it. ``sku`` is the shop's own
    unique key; ``price`` is exact (``Decimal``) in ``currency`` (ISO 4217, e.g. ``USD``);
    ``stock`` is units on hand (0: out of stock); ``attributes`` are free-form extras (e.g.
    ``{"weight_kg": "1.2"}``)."""

    sku: str
    name: str
    brand: str
    category: str
    description: str
    price: Decimal
    currency: str
    stock: int
    url: str | None = None
    attributes: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0
