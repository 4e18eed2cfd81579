"""An in-memory ``Catalogue``: the shop's products in a list, ranked like the real store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from salesbot_core.domain import Product
from salesbot_core.grounding import retrieval_words
from salesbot_core.ports.catalogue import ProductQuery

# How much a word found in each field counts: name > brand and category > description.
_WEIGHTS = (("name", 4), ("brand", 2), ("category", 2), ("description", 1))


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
                weight * len(wanted & _field_words(product, field)) for field, weight in _WEIGHTS
            )
            if score:
                scored.append((-score, product.name, product))
        scored.sort(key=lambda item: item[:2])
        return [product for *_, product in scored[: max(query.limit, 0)]]

    async def is_empty(self) -> bool:
        return not self.products
