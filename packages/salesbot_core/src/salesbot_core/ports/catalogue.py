"""The shop's catalogue: what a reply's grounding reads, and what the shop's staff maintain.

Two ports, each as narrow as its callers: ``Catalogue`` is read at every reply, outside any
transaction; ``ProductRepository`` hangs off the unit of work, so an import is all or nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from salesbot_core.domain import Product


class ProductQuery(msgspec.Struct, frozen=True, kw_only=True):
    """A retrieval: ``words`` to match (already expanded by the core, e.g. Spanish words with
    their English equivalents), at most ``limit`` candidates, none priced over ``max_price``
    (None: no bound; the core sets it from the customer's budget)."""

    words: tuple[str, ...]
    limit: int
    max_price: Decimal | None = None


class Catalogue(Protocol):
    async def search(self, query: ProductQuery) -> Sequence[Product]:
        """Up to ``query.limit`` products matching ``query.words``, none over ``max_price``:
        those matching every word first, then those matching some; within each, most relevant
        first (a match in the name counts most, then brand and category, then the
        description), ties by sku. A store may rank a bounded number of the matches when very
        many match (PostgreSQL: ``CATALOGUE_RANKED_MATCHES``), taking the ones matching every
        word first. No words, or nothing matching: empty. The core filters and orders the
        candidates further (rejected products, stock); the store only finds and ranks."""
        ...

    async def named(self, keys: Iterable[str]) -> Sequence[Product]:
        """The products whose name's key (``grounding.name_key``) is one of ``keys``, by sku.
        The core asks with the keys of the names it links (``grounding.names_to_look_up``) and
        decides which name is which product (``grounding.product_named``); a store compares
        keys as given, without folding them again."""
        ...

    async def is_empty(self) -> bool:
        """True when no product is loaded (the prompt then names none)."""
        ...


class ImportCounts(msgspec.Struct, frozen=True, kw_only=True):
    created: int
    updated: int
    removed: int = 0


class ProductPage(msgspec.Struct, frozen=True, kw_only=True):
    items: tuple[Product, ...]
    next_after: str | None = None  # the sku to continue after (None: done)


class ProductRepository(Protocol):
    async def upsert(self, products: Iterable[Product]) -> ImportCounts:
        """Insert or update by sku; how many were created and updated."""
        ...

    async def remove_all_but(self, skus: Iterable[str]) -> int:
        """Delete every product whose sku is not in ``skus`` (an import with ``--replace``)."""
        ...

    async def get(self, sku: str) -> Product | None: ...

    async def delete(self, sku: str) -> bool: ...

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        query: str | None = None,
        category: str | None = None,
    ) -> ProductPage:
        """Products by sku, after ``after``; with ``query``, only those matching its words (any
        language the full-text search covers); with ``category``, only that one."""
        ...

    def every(self) -> AsyncIterator[Product]:
        """Every product by sku, streamed (an export)."""
        ...
