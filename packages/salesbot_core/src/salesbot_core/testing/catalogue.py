"""The catalogue in memory: the ``ProductRepository`` a unit of work of ``InMemoryStore`` offers,
and ``InMemoryCatalogue``, the one in-memory ``Catalogue`` — over a plain list of products (for
grounding tests) or over what a store has committed (``store.catalogue()``, matched to
PostgreSQL by the contract suite).

Words are compared as the core folds them (``grounding.tokens`` and ``grounding.singular``:
case, accents and plurals aside); PostgreSQL stems with its English and Spanish dictionaries, so it finds more,
but the contract suite only asks of both what both do. Ranking follows the port: products
matching every word first, then those matching some; within each, a word in the name counts 1,
in the brand or category 0.4, in the description 0.2 (ts_rank's default weights for A, B and
C, the fields of the PostgreSQL vector); ties by sku. Every match is ranked (PostgreSQL ranks
at most ``CATALOGUE_RANKED_MATCHES``; the contract suite's catalogues never reach it). ``named``
compares each product's ``grounding.name_key``, the key PostgreSQL stores beside the name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence

from salesbot_core.domain import Product
from salesbot_core.grounding import STOP_WORDS, name_key, singular, tokens
from salesbot_core.ports.catalogue import ImportCounts, ProductPage, ProductQuery

_WEIGHTS = (("name", 1.0), ("brand", 0.4), ("category", 0.4), ("description", 0.2))


def _words(text: str) -> frozenset[str]:
    return frozenset(singular(token) for token in tokens(text))


def _query_words(words: Iterable[str]) -> tuple[frozenset[str], ...]:
    """Each query word as the folded words it stands for; one standing for none (no letters,
    or a stop word, as PostgreSQL's dictionaries drop them) is left out."""
    return tuple(found for word in words if (found := _words(word) - STOP_WORDS))


class _Match:
    """How a product matches a query: whether every word is found, and its weighted score."""

    __slots__ = ("every", "score")

    def __init__(self, product: Product, wanted: Sequence[frozenset[str]]) -> None:
        fields = [(_words(str(getattr(product, field))), weight) for field, weight in _WEIGHTS]
        found = frozenset().union(*(words for words, _ in fields))
        every_word = frozenset().union(*wanted)
        self.every = bool(wanted) and all(word & found for word in wanted)
        self.score = sum(weight * len(every_word & words) for words, weight in fields)


def _ranked(products: Iterable[Product], query: ProductQuery) -> list[Product]:
    wanted = _query_words(query.words)
    scored = [
        (match, product)
        for product in products
        if (query.max_price is None or product.price <= query.max_price)
        and (match := _Match(product, wanted)).score > 0
    ]
    scored.sort(key=lambda item: (not item[0].every, -item[0].score, item[1].sku))
    return [product for _, product in scored[: max(query.limit, 0)]]


def _matches(product: Product, query: str) -> bool:
    return _Match(product, _query_words([query])).score > 0


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
        found = [
            product
            for sku, product in sorted(self._products.items())
            if (after is None or sku > after)
            and (query is None or _matches(product, query))
            and (category is None or product.category.casefold() == category.casefold())
        ]
        items = tuple(found[:limit])
        more = len(found) > limit and items
        return ProductPage(items=items, next_after=items[-1].sku if more else None)

    async def every(self) -> AsyncIterator[Product]:
        for _, product in sorted(self._products.items()):
            yield product


class InMemoryCatalogue:
    """A ``Catalogue`` over ``products``: a list given once, or a function that returns the
    products each time it is called (``InMemoryCatalogue.reading(...)``, how a store offers what
    it has committed). Records every query in ``queries``."""

    def __init__(self, products: Iterable[Product] = ()) -> None:
        listed = tuple(products)
        self._products: Callable[[], Iterable[Product]] = lambda: listed
        self.queries: list[ProductQuery] = []

    @classmethod
    def reading(cls, products: Callable[[], Mapping[str, Product]]) -> InMemoryCatalogue:
        """The catalogue of whatever ``products()`` holds when it is searched (sku -> product)."""
        catalogue = cls()
        catalogue._products = lambda: products().values()
        return catalogue

    @property
    def products(self) -> list[Product]:
        return list(self._products())

    async def search(self, query: ProductQuery) -> Sequence[Product]:
        self.queries.append(query)
        return _ranked(self._products(), query)

    async def named(self, keys: Iterable[str]) -> Sequence[Product]:
        wanted = set(keys)
        return sorted(
            (p for p in self._products() if name_key(p.name) in wanted), key=lambda p: p.sku
        )

    async def is_empty(self) -> bool:
        return not any(True for _ in self._products())
