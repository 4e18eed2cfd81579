"""Sales insight for the shop: aggregate figures and hot leads, read from what is stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

import msgspec

from salesbot_core.domain import (
    ConversationCursor,
    Distillation,
    Message,
    SalesMetadata,
    SaleStatus,
)


class Count(msgspec.Struct, frozen=True, kw_only=True):
    """A ranked name. A product's count is linked to the catalogue when its name is a
    product's (``grounding.link_counts``): then ``sku``, ``price`` and ``currency`` say which,
    and ``name`` is the catalogue's."""

    name: str
    count: int
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None


class OfferedProduct(msgspec.Struct, frozen=True, kw_only=True):
    """A product offered to a lead, as the metadata names it; linked to the catalogue when the
    name is a product's (``grounding.link_names``): then ``sku``, ``price`` and ``currency`` say
    which, and ``name`` is the catalogue's."""

    name: str
    sku: str | None = None
    price: Decimal | None = None
    currency: str | None = None


class DayConversion(msgspec.Struct, frozen=True, kw_only=True):
    """Conversations started on ``day`` (UTC) and how many of them are closed sales now."""

    day: date
    started: int
    closed: int


class UsageTotals(msgspec.Struct, frozen=True, kw_only=True):
    exchanges: int
    prompt_tokens: int
    completion_tokens: int
    context_chars: int
    full_history_chars: int


class SalesFigures(msgspec.Struct, frozen=True, kw_only=True):
    """What a reader returns; the use case derives rates and savings from it."""

    conversations: int
    by_status: dict[SaleStatus, int]
    top_interests: tuple[Count, ...]
    most_offered: tuple[Count, ...]
    most_rejected: tuple[Count, ...]
    conversion: tuple[DayConversion, ...]
    usage: UsageTotals


class Lead(msgspec.Struct, frozen=True, kw_only=True):
    conversation_id: UUID
    title: str
    customer_id: UUID
    customer_name: str
    customer_email: str
    customer_phone: str | None
    metadata: SalesMetadata | None
    last_message: Message | None
    updated_at: datetime
    # The metadata's offeredProducts, linked to the catalogue by the use case that reads leads
    # (empty as a reader returns a lead).
    offered_products: tuple[OfferedProduct, ...] = ()

    @property
    def sale_status(self) -> SaleStatus:
        return self.metadata.sale_status if self.metadata else SaleStatus.EXPLORING


class LeadConversation(msgspec.Struct, frozen=True, kw_only=True):
    """One lead read whole for the shop's staff: the latest messages of its transcript and the
    latest distillations, both oldest first, with how many there are in all."""

    lead: Lead
    messages: tuple[Message, ...]
    total_messages: int
    distillations: tuple[Distillation, ...]
    total_distillations: int


class SalesInsightReader(Protocol):
    async def figures(self, *, since: datetime, top: int) -> SalesFigures:
        """Figures over every conversation: counts by status (a conversation without metadata is
        ``exploring``), the ``top`` interests and most offered/rejected products (counted once per
        conversation, case-insensitively, most frequent first, ties by name), conversion per UTC
        day for conversations started at or after ``since`` (days without conversations left
        out), and usage totals."""
        ...

    async def leads(
        self,
        *,
        status: SaleStatus | None,
        limit: int,
        after: ConversationCursor | None = None,
        search: str | None = None,
    ) -> Sequence[Lead]:
        """Conversations (optionally of one sale status) with their customer and last message,
        most recently updated first, strictly after ``after``; with ``search`` (lower-case text,
        from ``usecases.insight.lead_search``), only those whose customer's name or email or
        whose title, lower-cased, contains it."""
        ...

    async def conversation(
        self, conversation_id: UUID, *, messages: int, distillations: int
    ) -> LeadConversation | None:
        """One conversation as a lead, with its latest ``messages`` messages and latest
        ``distillations`` distillations (both oldest first); None if there is no such
        conversation."""
        ...
