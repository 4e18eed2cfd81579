"""The shop's staff maintaining the catalogue: importing a file, saving, removing and listing
products. The HTTP routes let only admins reach them; the CLI is the operator's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

from salesbot_core.catalogue import product_from_fields
from salesbot_core.domain import Product
from salesbot_core.errors import ProductNotFound
from salesbot_core.paging import PagingPolicy
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.ports.catalogue import ImportCounts, ProductPage

# How many products an import hands the store per call: bounded memory for any file size.
IMPORT_BATCH = 5000


def _batched(products: Iterable[Product], size: int) -> Iterator[list[Product]]:
    stream = iter(products)
    while batch := list(islice(stream, size)):
        yield batch


class ImportCatalogue:
    """Upsert every product of a file (``read_products``'s stream) by sku, all or nothing.

    Rules: the products stream through in batches inside one unit of work, so a large file
    never sits in memory whole; if any line breaks a rule (``InvalidCatalogue``, raised by the
    stream when it reaches that line), the unit of work is left uncommitted and nothing is
    imported. With ``replace``, every product whose sku is not in the file is removed too, in
    the same transaction."""

    def __init__(self, uow: UnitOfWorkFactory, batch_size: int = IMPORT_BATCH) -> None:
        self._uow = uow
        self._batch = batch_size

    async def __call__(self, products: Iterable[Product], *, replace: bool = False) -> ImportCounts:
        created = updated = removed = 0
        skus: list[str] = []
        async with self._uow() as uow:
            for batch in _batched(products, self._batch):
                counts = await uow.products.upsert(batch)
                created, updated = created + counts.created, updated + counts.updated
                skus.extend(product.sku for product in batch)
            if replace:
                removed = await uow.products.remove_all_but(skus)
            await uow.commit()
        return ImportCounts(created=created, updated=updated, removed=removed)


class SaveProduct:
    """Create or replace one product, from fields checked by the same rules as a file's line
    (``product_from_fields``); the sku is the route's, whatever the fields say. True if it
    was created."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, sku: str, fields: Mapping[str, Any]) -> tuple[Product, bool]:
        product = product_from_fields({**fields, "sku": sku}, line=None)
        async with self._uow() as uow:
            counts = await uow.products.upsert([product])
            await uow.commit()
        return product, counts.created == 1


class RemoveProduct:
    """Delete one product by sku; ``ProductNotFound`` if there was none."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, sku: str) -> None:
        async with self._uow() as uow:
            if not await uow.products.delete(sku):
                raise ProductNotFound
            await uow.commit()


class ListProducts:
    """Products by sku, a page at a time (50 by default, 200 at most), optionally only those
    matching ``query``'s words or of one ``category``."""

    def __init__(self, uow: UnitOfWorkFactory, paging: PagingPolicy | None = None) -> None:
        self._uow = uow
        self._limits = (paging or PagingPolicy()).products

    async def __call__(
        self,
        *,
        limit: int | None = None,
        after: str | None = None,
        query: str | None = None,
        category: str | None = None,
    ) -> ProductPage:
        size = self._limits.size(limit)
        async with self._uow() as uow:
            return await uow.products.page(
                limit=size, after=after or None, query=query or None, category=category or None
            )


class ExportCatalogue:
    """Every product by sku, streamed (a unit of work held while it streams)."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self) -> AsyncIterator[Product]:
        async with self._uow() as uow:
            async for product in uow.products.every():
                yield product
