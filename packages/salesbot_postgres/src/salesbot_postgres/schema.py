"""The tables salesbot keeps in PostgreSQL, as SQLAlchemy 2 typed models.

These models describe the schema (alembic autogenerates from ``Base.metadata``); repositories
query them with Core statements and map rows to the core's domain types, so the ORM never leaves
this package.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from salesbot_core.domain import Role, Sender

# Deterministic constraint and index names, so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ids come from the application; the default (built into PostgreSQL 13+, no uuid-ossp) serves
# rows written by hand.
_NEW_UUID = text("gen_random_uuid()")
_ZERO = text("0")


def _enum_values(enum_type: type[enum.Enum]) -> list[str]:
    """Store enum *values* (``user``), not SQLAlchemy's default member names (``USER``)."""
    return [str(member.value) for member in enum_type]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: DateTime(timezone=True)}  # noqa: RUF012


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    email: Mapped[str] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=_enum_values),
        server_default=Role.CUSTOMER.value,
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_user_id", "user_id"),
        Index("ix_refresh_tokens_family_id", "family_id"),
        # Cleanup: expired tokens, and revoked ones past the audit retention.
        Index("ix_refresh_tokens_expires_at", "expires_at"),
        Index(
            "ix_refresh_tokens_revoked_at",
            "revoked_at",
            postgresql_where=text("revoked_at IS NOT NULL"),
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[UUID]
    # SHA-256 hex of the secret; the secret itself is never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    # An audit pointer, not a foreign key: rotation names the successor before inserting it,
    # and cleanup may delete either end of the chain.
    replaced_by: Mapped[UUID | None]
    user_agent: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(Text)


# Full-text search uses the 'simple' configuration: no stemming and no stop words, so it works
# the same for every language customers write in (English and Spanish at least).
SEARCH_CONFIG = "simple"

# Where the sale stands, derived from the metadata (no metadata yet: still exploring).
SALE_STATUS_SQL = "COALESCE(metadata ->> 'saleStatus', 'exploring')"


class ConversationRow(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # A user's conversations, most recently updated first (scanned backwards).
        Index("ix_conversations_user_id_updated_at", "user_id", "updated_at", "id"),
        # Leads and analytics: every conversation, or one sale status, newest first.
        Index("ix_conversations_updated_at", "updated_at", "id"),
        Index("ix_conversations_sale_status_updated_at", "sale_status", "updated_at", "id"),
        Index("ix_conversations_created_at", "created_at"),
        CheckConstraint(
            "messages_since_context_update >= 0 AND message_count >= 0"
            " AND distilled_through >= 0 AND distilled_through <= message_count",
            name="counters",
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(255))
    # The distilled SalesMetadata with the seed's camelCase keys; NULL until the first one.
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONB)
    messages_since_context_update: Mapped[int] = mapped_column(SmallInteger, server_default=_ZERO)
    message_count: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    distilled_through: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, server_default=_ZERO)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, server_default=_ZERO)
    # What the metadata design saves, in characters (see the core's Conversation).
    history_chars: Mapped[int] = mapped_column(BigInteger, server_default=_ZERO)
    context_chars: Mapped[int] = mapped_column(BigInteger, server_default=_ZERO)
    full_history_chars: Mapped[int] = mapped_column(BigInteger, server_default=_ZERO)
    # Bumped by every write; exchanges and distillations are compare-and-set on it.
    version: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    sale_status: Mapped[str] = mapped_column(String(16), Computed(SALE_STATUS_SQL, persisted=True))
    # Until when a distillation holds the conversation's lease (NULL: none does); any process
    # claims it compare-and-set before its LLM call.
    distilling_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class MessageRow(Base):
    __tablename__ = "messages"
    __table_args__ = (
        # A conversation's messages in order; also serves the cascade from conversations.
        UniqueConstraint("conversation_id", "seq"),
        Index(
            "ix_messages_content_search",
            func.to_tsvector(text(f"'{SEARCH_CONFIG}'::regconfig"), text("content")),
            postgresql_using="gin",
        ),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    conversation_id: Mapped[UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    sender: Mapped[Sender] = mapped_column(
        Enum(Sender, name="message_sender", values_callable=_enum_values)
    )
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    prompt_tokens: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    completion_tokens: Mapped[int] = mapped_column(Integer, server_default=_ZERO)


class DistillationRow(Base):
    """Each applied distillation: the metadata it left, so staff can follow how it changed."""

    __tablename__ = "distillations"
    __table_args__ = (
        # A conversation's distillations in order; also serves the cascade from conversations.
        Index("ix_distillations_conversation_id_through_seq", "conversation_id", "through_seq"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    conversation_id: Mapped[UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    distilled_at: Mapped[datetime]
    through_seq: Mapped[int] = mapped_column(Integer)
    covered_messages: Mapped[int] = mapped_column(Integer)
    # The SalesMetadata the distillation left, with the seed's camelCase keys.
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)


class DeletedConversationRow(Base):
    """A conversation that was deleted: what is left of it, so an outbox event naming it is
    known to belong to a change that committed (``salesbot db check``)."""

    __tablename__ = "deleted_conversations"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(server_default=func.now())


# Emails are unique case-insensitively; lookups compare the same expression.
EMAIL_KEY = Index("uq_users_email_lower", func.lower(UserRow.email), unique=True)

# Searching a user's conversations by title.
TITLE_SEARCH = Index(
    "ix_conversations_title_search",
    func.to_tsvector(text(f"'{SEARCH_CONFIG}'::regconfig"), ConversationRow.title),
    postgresql_using="gin",
)


class WebhookEventRow(Base):
    """The outbox: an event, written in the transaction of the change that caused it."""

    __tablename__ = "webhook_events"

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column()


class WebhookDeliveryRow(Base):
    """One event for one webhook URL: claimed by a worker (``claim``, leased until
    ``next_attempt_at``), delivered, retried, or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="status"),
        # What the workers claim: the pending deliveries by when they are due.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # The admin list, newest first.
        Index("ix_webhook_deliveries_created_at_id", "created_at", "id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, server_default=_NEW_UUID)
    event_id: Mapped[UUID] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    claim: Mapped[UUID | None] = mapped_column(nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column()
    queued_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column()


# The catalogue's weighted full-text vector: every field is indexed with both the English and
# the Spanish stemmer ("laptops" and "portátiles" both reach their stems), and the query side
# (statements.PRODUCT_QUERY) stems each word with both, so a customer finds a product in either
# language. Weights: the name A, brand and category B, the description C (ts_rank ranks them).
def _product_vector(field: str, weight: str) -> str:
    return " || ".join(
        f"setweight(to_tsvector('{config}'::regconfig, {field}), '{weight}')"
        for config in ("english", "spanish")
    )


PRODUCT_SEARCH_SQL = " || ".join(
    (
        _product_vector("name", "A"),
        _product_vector("brand || ' ' || category", "B"),
        _product_vector("description", "C"),
    )
)


class ProductRow(Base):
    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_search", "search", postgresql_using="gin"),
        Index("ix_products_category_sku", func.lower(text("category")), "sku"),
        # Catalogue.named: the products whose name's key is one of the keys looked up.
        Index("ix_products_name_key", "name_key"),
        CheckConstraint("stock >= 0", name="stock"),
        CheckConstraint("price >= 0", name="price"),
    )

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # The core's grounding.name_key(name), written with the name by the adapter (the rule is
    # Python's: case, accents and spaces aside), so no SQL copies it.
    name_key: Mapped[str] = mapped_column(Text)
    brand: Mapped[str] = mapped_column(String(255))
    category: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    price: Mapped[Any] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    stock: Mapped[int] = mapped_column(Integer)
    url: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    search: Mapped[Any] = mapped_column(TSVECTOR, Computed(PRODUCT_SEARCH_SQL, persisted=True))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
