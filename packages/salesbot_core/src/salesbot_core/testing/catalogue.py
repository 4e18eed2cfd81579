"""The catalogue in memory: the ``ProductRepository`` a unit of work of ``InMemoryStore`` offers,
the ``Catalogue`` that ``store.catalogue()`` reads (``StoredCatalogue``, matched to PostgreSQL by
the contract suite), and ``InMemoryCatalogue``, a ``Catalogue`` over a plain list of products for
grounding tests (it folds words as the core's grounding does).

Matching is word by word, case-insensitively, with one crude stem (a trailing ``s`` dropped:
``laptops`` finds ``laptop``); PostgreSQL stems with its English and Spanish dictionaries,
so it finds more, but the contract suite only asks of both what both do. Ranking follows the
same order of fields as the PostgreSQL vector: a word in the name counts 1, in the brand or
category 0.4, in the description 0.2 (ts_rank's default weights for A, B and C); ties by sku.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence

from salesbot_core.domain import Product
from salesbot_core.grounding import retrieval_words
from salesbot_core.ports.catalogue import ImportCounts, ProductPage, ProductQuery

_WEIGHTS = (("name", 1.0), ("brand", 0.4), ("category", 0.4), ("description", 0.2))


def _stems(text: str) -> set[str]:
    return {word.removesuffix("s") or word for word in re.findall(r"\w+", text.casefold())}


def _score(product: Product, stems: set[str]) -> float:
    return sum(weight * len(stems & _stems(getattr(product, field))) for field, weight in _WEIGHTS)


def _query_stems(words: Iterable[str]) -> set[str]:
    return set().union(*(_stems(word) for word in words))


class InMemoryProducts:
    """The products of one unit of work's state (``products``: sku -> product)."""

    def __init__(self, products: dict[str, Product]) -> None:
        self._products = products

    async def upsert(self, products: Iterable[Product]) -> ImportCounts:
        latest = {product.sku: product for product in products}
        created = sum(1 for sku in latest if sku not in self._products)
        self._products.update(latest)
        return ImportCounts(created=created, updated=len(latest) - created)

    async def remove_all_but(self, skus: Iterable[str]) -> int:
        keep = set(skus)
        gone = [sku for sku in self._products if sku not in keep]
        for sku in gone:
            del self._products[sku]
        return len(gone)

    async def get(self, sku: str) -> Product | None:
        return self._products.get(sku)

    async def delete(self, sku: str) -> bool:
        return self._products.pop(sku, None) is not None

    async def page(
        self,
        *,
        limit: int,
        after: str | None = None,
        query: str | None = None,
        category: str | None = None,
    ) -> ProductPage:
        stems = _query_stems([query]) if query is not None else None
        found = [
            product
            for sku, product in sorted(self._products.items())
            if (after is None or sku > after)
            and (stems is None or _score(product, stems) > 0)
            and (category is None or product.category.casefold() == category.casefold())
        ]
        items = tuple(found[:limit])
        more = len(found) > limit and items
        return ProductPage(items=items, next_after=items[-1].sku if more else None)

    async def every(self) -> AsyncIterator[Product]:
        for _, product in sorted(self._products.items()):
            yield product


class StoredCatalogue:
    """The ``Catalogue`` over what an ``InMemoryStore`` has committed (``products()`` reads it each call)."""

    def __init__(self, products: Callable[[], dict[str, Product]]) -> None:
        self._products = products
        self.searches: list[ProductQuery] = []

    async def search(self, query: ProductQuery) -> Sequence[Product]:
        self.searches.append(query)
        stems = _query_stems(query.words)
        scored = [
            (score, product)
            for product in self._products().values()
            if (query.max_price is None or product.price <= query.max_price)
            and (score := _score(product, stems)) > 0
        ]
        scored.sort(key=lambda item: (-item[0], item[1].sku))
        return [product for _, product in scored[: max(query.limit, 0)]]

    async def is_empty(self) -> bool:
        return not self._products()


# How much a word found in each field counts: name > brand and category > description.
_LIST_WEIGHTS = (("name", 4), ("brand", 2), ("category", 2), ("description", 1))


def _field_words(product: Product, field: str) -> frozenset[str]:
    text = str(getattr(product, field))
    if field == "description":
        text = " ".join((text, *product.attributes.values()))
    return frozenset(retrieval_words([text]))


class InMemoryCatalogue:
    """Ranks by the weighted count of query words each product's fields contain (words
    compared as the core folds them: case, accents and plurals aside); ties by name. Records
    every query in ``queries``."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        self.products = list(products)
        self.queries: list[ProductQuery] = []

    async def search(self, query: ProductQuery) -> Sequence[Product]:
        self.queries.append(query)
        wanted = set(query.words)
        scored: list[tuple[int, str, Product]] = []
        for product in self.products:
            if query.max_price is not None and product.price > query.max_price:
                continue
            score = sum(
                weight * len(wanted & _field_words(product, field))
                for field, weight in _LIST_WEIGHTS
            )
            if score:
                scored.append((-score, product.name, product))
        scored.sort(key=lambda item: item[:2])
        return [product for *_, product in scored[: max(query.limit, 0)]]

    async def is_empty(self) -> bool:
        return not self.products
