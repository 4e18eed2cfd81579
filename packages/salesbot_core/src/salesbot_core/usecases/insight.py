"""Sales insight for the shop's staff: analytics over every conversation, the hot leads, and
one lead read whole (its transcript and its metadata as each distillation changed it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from uuid import UUID

import msgspec

from salesbot_core.domain import ConversationCursor, Product, Role, SaleStatus
from salesbot_core.errors import ConversationNotFound, Forbidden, InvalidInput
from salesbot_core.grounding import link_counts, link_names, names_to_look_up
from salesbot_core.paging import PagingPolicy
from salesbot_core.ports import Clock, Count, Lead, LeadConversation, SalesInsightReader
from salesbot_core.ports.catalogue import Catalogue

# A common rule of thumb for English text; only used to express saved characters as tokens.
CHARS_PER_TOKEN = 4
TOP_ITEMS = 10
# Names read per one shown, so the variants of one product's name add up before the top is cut.
NAMES_PER_SHOWN = 5
MAX_DAYS = 366


class DayRate(msgspec.Struct, frozen=True, kw_only=True):
    day: date
    started: int
    closed: int
    rate: float


class TokenFigures(msgspec.Struct, frozen=True, kw_only=True):
    exchanges: int
    prompt_tokens: int
    completion_tokens: int
    tokens_per_exchange: float


class ContextSaving(msgspec.Struct, frozen=True, kw_only=True):
    """What the metadata design saved: context actually sent against the whole history.

    Negative while conversations are short: the metadata block costs more than a few messages;
    the saving grows with every exchange after that."""

    sent_chars: int
    full_history_chars: int
    saved_chars: int
    saved_ratio: float
    estimated_saved_tokens: int


class SalesAnalytics(msgspec.Struct, frozen=True, kw_only=True):
    conversations: int
    by_status: dict[SaleStatus, int]
    top_interests: tuple[Count, ...]
    most_offered: tuple[Count, ...]
    most_rejected: tuple[Count, ...]
    conversion: tuple[DayRate, ...]
    tokens: TokenFigures
    context: ContextSaving


def _require_admin(role: Role) -> None:
    if role is not Role.ADMIN:
        raise Forbidden


async def _products_named(catalogue: Catalogue | None, names: Iterable[str]) -> Sequence[Product]:
    """The catalogue's products that ``names`` may be (none without a catalogue)."""
    wanted = names_to_look_up(names)
    if catalogue is None or not wanted:
        return ()
    return await catalogue.named(wanted)


async def _linked_leads(catalogue: Catalogue | None, leads: Sequence[Lead]) -> tuple[Lead, ...]:
    """``leads`` with their offered products linked to the catalogue (one lookup for all)."""
    offered = [lead.metadata.offered_products if lead.metadata else () for lead in leads]
    products = await _products_named(catalogue, (name for names in offered for name in names))
    return tuple(
        msgspec.structs.replace(lead, offered_products=link_names(names, products))
        for lead, names in zip(leads, offered, strict=True)
    )


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


class GetSalesAnalytics:
    """Figures for the shop: conversations by sale status, top interests, most offered and most
    rejected products, conversion per day over the last ``days`` days (1-366, default 30), tokens
    per exchange and what the metadata design saved. Admins only. Offered and rejected products
    are linked to ``catalogue`` (``grounding.link_counts``: a name that is a product's carries
    its SKU, name and price; counts of one SKU add up)."""

    def __init__(
        self, reader: SalesInsightReader, clock: Clock, catalogue: Catalogue | None = None
    ) -> None:
        self._reader = reader
        self._clock = clock
        self._catalogue = catalogue

    async def __call__(self, *, role: Role, days: int | None = None) -> SalesAnalytics:
        _require_admin(role)
        window = 30 if days is None else days
        if not 1 <= window <= MAX_DAYS:
            raise InvalidInput("days", f"must be 1 to {MAX_DAYS}")
        today = self._clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
        # Names are read beyond the top shown: variants of one product's name ("XPS", "Dell
        # XPS") add up to its SKU before the top is cut, so one ranked lower still counts.
        figures = await self._reader.figures(
            since=today - timedelta(days=window - 1), top=TOP_ITEMS * NAMES_PER_SHOWN
        )
        usage = figures.usage
        saved = usage.full_history_chars - usage.context_chars
        products = await _products_named(
            self._catalogue, (c.name for c in (*figures.most_offered, *figures.most_rejected))
        )
        return SalesAnalytics(
            conversations=figures.conversations,
            by_status=figures.by_status,
            top_interests=figures.top_interests[:TOP_ITEMS],
            most_offered=link_counts(figures.most_offered, products)[:TOP_ITEMS],
            most_rejected=link_counts(figures.most_rejected, products)[:TOP_ITEMS],
            conversion=tuple(
                DayRate(
                    day=d.day, started=d.started, closed=d.closed, rate=_ratio(d.closed, d.started)
                )
                for d in figures.conversion
            ),
            tokens=TokenFigures(
                exchanges=usage.exchanges,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                tokens_per_exchange=round(
                    (usage.prompt_tokens + usage.completion_tokens) / usage.exchanges, 2
                )
                if usage.exchanges
                else 0.0,
            ),
            context=ContextSaving(
                sent_chars=usage.context_chars,
                full_history_chars=usage.full_history_chars,
                saved_chars=saved,
                saved_ratio=_ratio(saved, usage.full_history_chars),
                estimated_saved_tokens=saved // CHARS_PER_TOKEN,
            ),
        )


class LeadPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Lead, ...]
    next: ConversationCursor | None = None


# The longest name, email or title is 255 characters: a longer search can match nothing.
LEAD_SEARCH_MAX_CHARS = 255


def lead_search(text: str | None) -> str | None:
    """What a leads search looks for: the text trimmed and lower-cased, found anywhere in the
    customer's name or email or the conversation's title, whatever their case (None: no search).
    ``InvalidInput`` beyond ``LEAD_SEARCH_MAX_CHARS`` or with a NUL (no stored text holds one,
    and PostgreSQL takes none as a parameter)."""
    needle = (text or "").strip()
    if not needle:
        return None
    if len(needle) > LEAD_SEARCH_MAX_CHARS:
        raise InvalidInput("q", f"at most {LEAD_SEARCH_MAX_CHARS} characters")
    if "\x00" in needle:
        raise InvalidInput("q", "must not contain NUL characters")
    return needle.lower()


class ListLeads:
    """Conversations with their customer, metadata and last message, optionally of one sale
    status (e.g. the negotiating ones: the hot leads) and matching a search (``lead_search``:
    the customer's name or email or the title contains it, in any case), most recently updated
    first, a page at a time (50 by default, 200 at most). Admins only. Each lead's offered
    products are linked to ``catalogue`` (``grounding.link_names``)."""

    def __init__(
        self,
        reader: SalesInsightReader,
        paging: PagingPolicy | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._reader = reader
        self._limits = (paging or PagingPolicy()).leads
        self._catalogue = catalogue

    async def __call__(
        self,
        *,
        role: Role,
        status: SaleStatus | None = None,
        limit: int | None = None,
        after: ConversationCursor | None = None,
        search: str | None = None,
    ) -> LeadPage:
        _require_admin(role)
        size = self._limits.size(limit)
        found = await self._reader.leads(
            status=status, limit=size + 1, after=after, search=lead_search(search)
        )
        items = await _linked_leads(self._catalogue, found[:size])
        last = items[-1] if items else None
        more = len(found) > size and last is not None
        return LeadPage(
            items=items,
            next=ConversationCursor(updated_at=last.updated_at, id=last.conversation_id)
            if more and last
            else None,
        )


class LeadReadLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How much of one lead an admin reads at once: its latest messages and distillations."""

    messages: int = 500
    distillations: int = 100


class GetLeadConversation:
    """One conversation for the shop's staff: its customer and metadata, the latest messages of
    its transcript (``messages`` at most) and its latest distillations (``distillations`` at
    most), both oldest first, with their totals. Admins only; an unknown conversation is
    ``ConversationNotFound``. The lead's offered products are linked to ``catalogue``."""

    def __init__(
        self,
        reader: SalesInsightReader,
        limits: LeadReadLimits | None = None,
        catalogue: Catalogue | None = None,
    ) -> None:
        self._reader = reader
        self.limits = limits or LeadReadLimits()
        self._catalogue = catalogue

    async def __call__(self, *, role: Role, conversation_id: UUID) -> LeadConversation:
        _require_admin(role)
        found = await self._reader.conversation(
            conversation_id,
            messages=self.limits.messages,
            distillations=self.limits.distillations,
        )
        if found is None:
            raise ConversationNotFound
        (lead,) = await _linked_leads(self._catalogue, [found.lead])
        return msgspec.structs.replace(found, lead=lead)
