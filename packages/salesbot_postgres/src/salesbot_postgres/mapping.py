"""Rows to domain values and domain values to statement parameters: the only place that knows
both shapes. Rows arrive as dicts keyed by the column names in ``statements``; ``jsonb``
arrives as its JSON text (``adapters()``) and is decoded here, by msgspec, straight into the
domain types."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import AdaptersMap, Loader

from salesbot_core.domain import (
    Conversation,
    Distillation,
    Message,
    Product,
    RefreshToken,
    Role,
    SalesMetadata,
    SaleStatus,
    Sender,
    Session,
    User,
)
from salesbot_core.exchange import DistillationWrite, ExchangeWrite
from salesbot_core.grounding import name_key
from salesbot_core.ports import (
    Count,
    DayConversion,
    Invariant,
    Lead,
    LeadConversation,
    SalesFigures,
    UsageTotals,
    Violation,
)
from salesbot_core.webhooks import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryStatus,
    EventType,
    OutboxEvent,
    WebhookDelivery,
)

Row = Mapping[str, Any]


class _JsonText(Loader):
    """``jsonb`` as the bytes of its JSON text: decoded below into the type the column holds,
    instead of into dicts first (psycopg's default) and then again into structs."""

    def load(self, data: Buffer) -> bytes:
        return bytes(data)


def adapters() -> AdaptersMap:
    """The adapters every pooled connection uses (psycopg's defaults, ``jsonb`` as text)."""
    adapters = AdaptersMap(psycopg.adapters)
    adapters.register_loader("jsonb", _JsonText)
    return adapters


# ---------------------------------------------------------------- the metadata column

_METADATA = msgspec.json.Decoder(SalesMetadata)
_MESSAGES = msgspec.json.Decoder(list[Message])
_ENCODER = msgspec.json.Encoder()


def metadata_from_json(value: bytes | None) -> SalesMetadata | None:
    """``conversations.metadata``: the seed's camelCase keys (SalesMetadata's own names)."""
    return None if value is None else _METADATA.decode(value)


def metadata_to_json(metadata: SalesMetadata | None) -> str | None:
    """The parameter a ``%(...)s::jsonb`` takes."""
    return None if metadata is None else _ENCODER.encode(metadata).decode()


# ---------------------------------------------------------------- users and tokens


def user_from_row(row: Row) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        phone=row["phone"],
        password_hash=row["password_hash"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def user_to_params(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "password_hash": user.password_hash,
        "role": Role(user.role).value,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def token_from_row(row: Row) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        user_id=row["user_id"],
        family_id=row["family_id"],
        token_hash=row["token_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
        revoked_reason=row["revoked_reason"],
        replaced_by=row["replaced_by"],
        user_agent=row["user_agent"],
        ip=row["ip"],
    )


def token_to_params(token: RefreshToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "user_id": token.user_id,
        "family_id": token.family_id,
        "token_hash": token.token_hash,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
        "revoked_reason": token.revoked_reason,
        "replaced_by": token.replaced_by,
        "user_agent": token.user_agent,
        "ip": token.ip,
    }


def session_from_row(row: Row) -> Session:
    """A row of ``SESSIONS_FOR_USER``: a family seen through its live token."""
    return Session(
        id=row["family_id"],
        created_at=row["session_started_at"],
        last_used_at=row["created_at"],
        expires_at=row["expires_at"],
        user_agent=row["user_agent"],
        ip=row["ip"],
    )


# ---------------------------------------------------------------- conversations and messages


def conversation_from_row(row: Row) -> Conversation:
    return Conversation(
        id=row["id"],
        user_id=row["user_id"],
        title=row["title"],
        metadata=metadata_from_json(row["metadata"]),
        messages_since_context_update=row["messages_since_context_update"],
        message_count=row["message_count"],
        distilled_through=row["distilled_through"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        history_chars=row["history_chars"],
        context_chars=row["context_chars"],
        full_history_chars=row["full_history_chars"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def conversation_to_params(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "user_id": conversation.user_id,
        "title": conversation.title,
        "metadata": metadata_to_json(conversation.metadata),
        "messages_since_context_update": conversation.messages_since_context_update,
        "message_count": conversation.message_count,
        "distilled_through": conversation.distilled_through,
        "prompt_tokens": conversation.prompt_tokens,
        "completion_tokens": conversation.completion_tokens,
        "history_chars": conversation.history_chars,
        "context_chars": conversation.context_chars,
        "full_history_chars": conversation.full_history_chars,
        "version": conversation.version,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }


def message_from_row(row: Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        seq=row["seq"],
        sender=Sender(row["sender"]),
        content=row["content"],
        created_at=row["created_at"],
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
    )


def conversation_with_page_from_row(row: Row) -> tuple[Conversation, Sequence[Message]]:
    """A row of ``CONVERSATION_WITH_*_PAGE``: the conversation, and its page of messages from
    the JSON array PostgreSQL built (oldest first)."""
    return conversation_from_row(row), _MESSAGES.decode(row["page_json"])


def exchange_params(write: ExchangeWrite) -> dict[str, Any]:
    """``RECORD_EXCHANGE``'s parameters: the conversation's row as planned, its two messages."""
    user, bot = write.user_message, write.bot_message
    return {
        **conversation_to_params(write.conversation),
        "expected_version": write.expected_version,
        "user_message_id": user.id,
        "user_seq": user.seq,
        "user_content": user.content,
        "user_created_at": user.created_at,
        "bot_message_id": bot.id,
        "bot_seq": bot.seq,
        "bot_content": bot.content,
        "bot_created_at": bot.created_at,
        "bot_prompt_tokens": bot.prompt_tokens,
        "bot_completion_tokens": bot.completion_tokens,
    }


def distillation_params(write: DistillationWrite, lease_until: datetime | None) -> dict[str, Any]:
    """``APPLY_DISTILLATION``'s parameters: the conversation's row as planned, the record the
    history keeps of it, and the lease it ends."""
    record = write.record
    return {
        **conversation_to_params(write.conversation),
        "expected_version": write.expected_version,
        "lease_until": lease_until,
        "distilled_at": record.distilled_at,
        "through_seq": record.through_seq,
        "covered_messages": record.covered_messages,
        "record_metadata": metadata_to_json(record.metadata),
        "record_prompt_tokens": record.prompt_tokens,
        "record_completion_tokens": record.completion_tokens,
    }


def distillation_from_row(row: Row) -> Distillation:
    return Distillation(
        conversation_id=row["conversation_id"],
        distilled_at=row["distilled_at"],
        through_seq=row["through_seq"],
        covered_messages=row["covered_messages"],
        metadata=_METADATA.decode(row["metadata"]),
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
    )


# ---------------------------------------------------------------- sales insight


def figures_from_rows(
    totals: Sequence[Row], ranked: Sequence[Row], days: Sequence[Row]
) -> SalesFigures:
    """``SalesFigures`` from the rows of ``TOTALS_BY_STATUS``, ``TOP_ITEMS`` and
    ``DAILY_CONVERSION``."""
    by_status = dict.fromkeys(SaleStatus, 0)
    sums = dict.fromkeys(
        (
            "conversations",
            "exchanges",
            "prompt_tokens",
            "completion_tokens",
            "context_chars",
            "full_history_chars",
        ),
        0,
    )
    for row in totals:
        by_status[SaleStatus(row["sale_status"])] = row["conversations"]
        for name in sums:
            sums[name] += int(row[name])  # sums of bigints come back as Decimal
    lists: dict[str, list[Count]] = {"interests": [], "offeredProducts": [], "rejectedProducts": []}
    for row in ranked:
        lists[row["list"]].append(Count(name=row["name"], count=row["count"]))
    return SalesFigures(
        conversations=sums["conversations"],
        by_status=by_status,
        top_interests=tuple(lists["interests"]),
        most_offered=tuple(lists["offeredProducts"]),
        most_rejected=tuple(lists["rejectedProducts"]),
        conversion=tuple(
            DayConversion(day=row["day"], started=row["started"], closed=row["closed"])
            for row in days
        ),
        usage=UsageTotals(
            exchanges=sums["exchanges"],
            prompt_tokens=sums["prompt_tokens"],
            completion_tokens=sums["completion_tokens"],
            context_chars=sums["context_chars"],
            full_history_chars=sums["full_history_chars"],
        ),
    )


def lead_from_row(row: Row) -> Lead:
    """A row of ``LEADS*``: the last message's columns carry an ``m_`` prefix (all NULL when
    the conversation has none)."""
    last_message = None
    if row["m_id"] is not None:
        last_message = Message(
            id=row["m_id"],
            conversation_id=row["m_conversation_id"],
            seq=row["m_seq"],
            sender=Sender(row["m_sender"]),
            content=row["m_content"],
            created_at=row["m_created_at"],
            prompt_tokens=row["m_prompt_tokens"],
            completion_tokens=row["m_completion_tokens"],
        )
    return Lead(
        conversation_id=row["id"],
        title=row["title"],
        customer_id=row["customer_id"],
        customer_name=row["customer_name"],
        customer_email=row["customer_email"],
        customer_phone=row["customer_phone"],
        metadata=metadata_from_json(row["metadata"]),
        last_message=last_message,
        updated_at=row["updated_at"],
    )


# ---------------------------------------------------------------- webhooks (the outbox)


def webhook_event_params(event: OutboxEvent, urls: Sequence[str]) -> dict[str, Any]:
    return {
        "type": event.type.value,
        "data": msgspec.json.encode(event.data).decode(),
        "occurred_at": event.occurred_at,
        "urls": list(urls),
    }


def outcome_params(outcomes: Sequence[DeliveryOutcome]) -> dict[str, Any]:
    """``RECORD_WEBHOOK_OUTCOMES``'s parameters: one array per column, in the same order."""
    return {
        "ids": [o.id for o in outcomes],
        "claims": [o.claim for o in outcomes],
        "becomes": [o.becomes.value for o in outcomes],
        "statuses": [o.status for o in outcomes],
        "errors": [o.error for o in outcomes],
        "next_attempt_ats": [o.next_attempt_at for o in outcomes],
        "delivered_ats": [o.delivered_at for o in outcomes],
    }


def claimed_delivery_from_row(row: Row) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=row["id"],
        claim=row["claim"],
        event_id=row["event_id"],
        url=row["url"],
        attempts=row["attempts"],
        queued_at=row["queued_at"],
        event=OutboxEvent(
            type=EventType(row["type"]),
            data=msgspec.json.decode(row["data"]),
            occurred_at=row["occurred_at"],
        ),
    )


def webhook_delivery_from_row(row: Row) -> WebhookDelivery:
    status = DeliveryStatus(row["status"])
    return WebhookDelivery(
        id=row["id"],
        event_id=row["event_id"],
        event_type=EventType(row["event_type"]),
        url=row["url"],
        status=status,
        attempts=row["attempts"],
        last_error=row["last_error"],
        last_status=row["last_status"],
        next_attempt_at=row["next_attempt_at"] if status is DeliveryStatus.PENDING else None,
        delivered_at=row["delivered_at"],
        created_at=row["created_at"],
    )


# ---------------------------------------------------------------- the catalogue

_ATTRIBUTES = msgspec.json.Decoder(dict[str, str])
_WORD = re.compile(r"\w+")


def product_from_row(row: Row) -> Product:
    return Product(
        sku=row["sku"],
        name=row["name"],
        brand=row["brand"],
        category=row["category"],
        description=row["description"],
        price=row["price"],
        currency=row["currency"],
        stock=row["stock"],
        url=row["url"],
        attributes=_ATTRIBUTES.decode(row["attributes"]),
    )


def product_copy_row(product: Product) -> tuple[Any, ...]:
    """A product as a row of ``statements.COPY_PRODUCT_IMPORT`` (its column order,
    ``PRODUCT_WRITE_COLUMNS``): its fields and the key its name is found by (the core's
    ``grounding.name_key``, ``Catalogue.named``)."""
    return (
        product.sku,
        product.name,
        product.brand,
        product.category,
        product.description,
        product.price,
        product.currency,
        product.stock,
        product.url,
        _ENCODER.encode(product.attributes).decode(),
        name_key(product.name),
    )


def tsquery_text(words: Iterable[str]) -> str | None:
    """The words as the text of ``statements.PRODUCT_QUERY``: their word characters only (so
    no tsquery operator comes from a customer), OR-ed; None when no word is left."""
    tokens = dict.fromkeys(token for word in words for token in _WORD.findall(word.lower()))
    return " | ".join(tokens) or None


def search_words(words: Iterable[str]) -> list[str] | None:
    """The words as the ``%(words)s`` array of ``statements.SEARCH_PRODUCTS``: each word's word
    characters only (so nothing but words reaches to_tsvector), distinct; None when no word is
    left."""
    found = dict.fromkeys(
        " ".join(tokens) for word in words if (tokens := _WORD.findall(word.lower()))
    )
    return list(found) or None


def violation_from_row(invariant: Invariant, row: Row) -> Violation:
    """A row of a ``CHECK_*`` statement: the broken invariant's subject and what was found."""
    return Violation(invariant=invariant, subject=row["subject"], detail=row["detail"])


def lead_conversation_from_rows(
    lead: Row, totals: Row, messages: Sequence[Row], distillations: Sequence[Row]
) -> LeadConversation:
    """``LEAD``, ``LEAD_TOTALS``, and the newest-first rows of ``LATEST_MESSAGES`` and
    ``LATEST_DISTILLATIONS``, as one lead read whole (its lists oldest first)."""
    return LeadConversation(
        lead=lead_from_row(lead),
        messages=tuple(message_from_row(row) for row in reversed(messages)),
        total_messages=totals["messages"],
        distillations=tuple(distillation_from_row(row) for row in reversed(distillations)),
        total_distillations=totals["distillations"],
    )
