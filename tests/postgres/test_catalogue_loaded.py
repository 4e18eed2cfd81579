"""A reply asks whether the shop has a catalogue: "yes" is kept for the TTL, "no" never is."""

from __future__ import annotations

from salesbot_postgres import Database
from salesbot_postgres.repositories import PostgresCatalogue
from tests.support.shop import product


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _stock(database: Database, *skus: str) -> None:
    async with database.unit_of_work() as uow:
        await uow.products.upsert(
            [product(sku, sku, brand="Acme", category="laptop", price="10") for sku in skus]
        )
        await uow.commit()


async def _clear(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.products.remove_all_but([])
        await uow.commit()


async def test_a_loaded_catalogue_is_kept_as_loaded_for_the_ttl(database: Database) -> None:
    clock = Clock()
    catalogue = PostgresCatalogue(database._pool, 5.0, loaded_ttl_s=5.0, clock=clock)
    assert await catalogue.is_empty()
    await _stock(database, "LT-1")
    assert not await catalogue.is_empty()  # "no" was not kept: the import shows at once
    await _clear(database)
    clock.now += 4.9
    assert not await catalogue.is_empty()  # "yes" is kept for the TTL...
    clock.now += 0.2
    assert await catalogue.is_empty()  # ...and asked again after it


async def test_a_zero_ttl_asks_every_time(database: Database) -> None:
    catalogue = PostgresCatalogue(database._pool, 5.0, loaded_ttl_s=0.0, clock=Clock())
    await _stock(database, "LT-1")
    assert not await catalogue.is_empty()
    await _clear(database)
    assert await catalogue.is_empty()
