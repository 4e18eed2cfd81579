"""Merging distilled metadata into what a conversation already knows.

Whatever the LLM answers, the merged metadata keeps these invariants:
- every list is trimmed, free of empty items and de-duplicated case-insensitively;
- a rejected product is never also listed as offered (an answer that offers a product it does not
  reject again takes it off the rejected list);
- every list holds at most ``MetadataLimits.max_items`` items (the most recent) and every item at
  most ``max_item_chars`` characters, so the reply prompt stays bounded;
- ``saleStatus`` is always one of the five statuses (the type guarantees it).
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from salesbot_core.domain import SalesMetadata


class MetadataLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_items: int = 12
    max_item_chars: int = 80
    max_intent_chars: int = 200


def _clip(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit].strip()


def _unique_recent(items: Iterable[str], limits: MetadataLimits) -> list[str]:
    """De-duplicate case-insensitively; a later mention moves an item to the end (most recent)."""
    latest: dict[str, str] = {}
    for raw in items:
        item = _clip(raw, limits.max_item_chars)
        if not item:
            continue
        key = item.casefold()
        latest.pop(key, None)
        latest[key] = item
    return list(latest.values())


def _cap(items: list[str], limits: MetadataLimits) -> tuple[str, ...]:
    return tuple(items[-limits.max_items :]) if limits.max_items > 0 else ()


def normalise_metadata(metadata: SalesMetadata, limits: MetadataLimits) -> SalesMetadata:
    """Make one metadata value obey the invariants on its own."""
    return merge_metadata(None, metadata, limits)


def merge_metadata(
    previous: SalesMetadata | None, distilled: SalesMetadata, limits: MetadataLimits
) -> SalesMetadata:
    """Fold the LLM's answer into the previous metadata.

    Lists are unions (the LLM forgetting an item does not erase it), with one way out: a product
    the new answer offers and does not reject is no longer rejected (the customer changed their
    mind). The status and the last intent come from the new answer, the intent falling back to
    the previous one when absent.
    """
    base = previous or SalesMetadata()

    def keys(items: Iterable[str]) -> set[str]:
        return {_clip(item, limits.max_item_chars).casefold() for item in items}

    reconsidered = keys(distilled.offered_products) - keys(distilled.rejected_products)
    rejected = [
        item
        for item in _unique_recent((*base.rejected_products, *distilled.rejected_products), limits)
        if item.casefold() not in reconsidered
    ]
    rejected_keys = {item.casefold() for item in rejected}
    offered = [
        item
        for item in _unique_recent((*base.offered_products, *distilled.offered_products), limits)
        if item.casefold() not in rejected_keys
    ]
    interests = _unique_recent((*base.interests, *distilled.interests), limits)
    intent_source = distilled.last_intent or base.last_intent
    intent = _clip(intent_source, limits.max_intent_chars) if intent_source else None
    return SalesMetadata(
        interests=_cap(interests, limits),
        offered_products=_cap(offered, limits),
        rejected_products=_cap(rejected, limits),
        sale_status=distilled.sale_status,
        last_intent=intent or None,
    )
