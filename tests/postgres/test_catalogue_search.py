"""``PostgresCatalogue.search``'s bound: at most ``ranked_matches`` matches are read and ranked,
those matching every word first, so a broad word costs a bounded amount however many match."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salesbot_core.domain import Product
from salesbot_core.ports.catalogue import ProductQuery
from salesbot_postgres import Database

pytestmark = pytest.mark.postgres


def _laptop(n: int, description: str) -> Product:
    return Product(
        sku=f"L-{n:02}",
        name=f"Model {n}",
        brand="Acme",
        category="Computers",
        description=description,
        price=Decimal(100 + n),
        currency="USD",
        stock=1,
    )


async def _store(database: Database, products: list[Product]) -> None:
    async with database.unit_of_work() as work:
        await work.products.upsert(products)
        await work.commit()


async def test_a_bounded_search_ranks_the_products_matching_every_word_first(
    database: Database,
) -> None:
    partial = [_laptop(n, "A laptop.") for n in range(20)]
    every = [_laptop(n, "A light laptop.") for n in range(20, 24)]
    await _store(database, [*partial, *every])
    bounded = database.catalogue(ranked_matches=4)
    found = await bounded.search(ProductQuery(words=("laptop", "light"), limit=4))
    assert {p.sku for p in found} == {p.sku for p in every}
    # Fewer matching every word than the bound: the rest come from those matching some.
    wider = await database.catalogue(ranked_matches=6).search(
        ProductQuery(words=("laptop", "light"), limit=6)
    )
    assert {p.sku for p in wider[:4]} == {p.sku for p in every}
    assert {p.sku for p in wider[4:]} <= {p.sku for p in partial}
    assert len(wider) == 6
    # The limit is never cut by a smaller bound.
    assert len(await bounded.search(ProductQuery(words=("laptop",), limit=10))) == 10
    cheap = await bounded.search(
        ProductQuery(words=("laptop", "light"), limit=4, max_price=Decimal(121))
    )
    assert {p.sku for p in cheap} == {"L-20", "L-21"} | {p.sku for p in cheap[2:]}
    assert all(p.price <= 121 for p in cheap)
