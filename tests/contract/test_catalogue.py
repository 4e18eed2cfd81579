"""The catalogue's contract, on every backend: upsert by sku, paging, removal, and search
ranked by field, bounded by price."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from salesbot_core.domain import Product
from salesbot_core.grounding import link_names, names_to_look_up
from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.ports.catalogue import ImportCounts, ProductQuery
from tests.contract.conftest import Backend


def product(sku: str, **fields: object) -> Product:
    values: dict[str, object] = {
        "name": f"Thing {sku}",
        "brand": "Acme",
        "category": "Gadgets",
        "description": "A useful thing.",
        "price": Decimal("10.00"),
        "currency": "USD",
        "stock": 3,
    }
    values.update(fields)
    return msgspec.convert({"sku": sku, **values}, Product, strict=False)


async def stored(uow: UnitOfWorkFactory, *products: Product) -> ImportCounts:
    async with uow() as work:
        counts = await work.products.upsert(products)
        await work.commit()
    return counts


async def test_upsert_counts_created_and_updated_and_get_returns_the_latest(
    uow: UnitOfWorkFactory,
) -> None:
    first = await stored(uow, product("A-1"), product("A-2"))
    changed = product(
        "A-1",
        name="Renamed",
        price=Decimal("1299.99"),
        stock=0,
        url="https://shop.example/a-1",
        attributes={"weight_kg": "1.2"},
    )
    second = await stored(uow, changed, product("A-3"))
    async with uow() as work:
        got = await work.products.get("A-1")
        missing = await work.products.get("NOPE")
    assert first == ImportCounts(created=2, updated=0)
    assert second == ImportCounts(created=1, updated=1)
    assert got == changed
    assert missing is None


async def test_an_uncommitted_upsert_leaves_nothing(uow: UnitOfWorkFactory) -> None:
    async with uow() as work:
        await work.products.upsert([product("A-1")])
    async with uow() as work:
        assert await work.products.get("A-1") is None


async def test_delete_says_whether_there_was_a_product(uow: UnitOfWorkFactory) -> None:
    await stored(uow, product("A-1"))
    async with uow() as work:
        deleted = await work.products.delete("A-1")
        again = await work.products.delete("A-1")
        await work.commit()
    async with uow() as work:
        assert await work.products.get("A-1") is None
    assert (deleted, again) == (True, False)


async def test_remove_all_but_keeps_only_the_named(uow: UnitOfWorkFactory) -> None:
    await stored(uow, *(product(f"S-{n}") for n in range(5)))
    async with uow() as work:
        removed = await work.products.remove_all_but(["S-1", "S-3", "NEW"])
        await work.commit()
    async with uow() as work:
        left = [p.sku async for p in work.products.every()]
    assert removed == 3
    assert left == ["S-1", "S-3"]


async def test_pages_by_sku_with_query_category_and_cursor(uow: UnitOfWorkFactory) -> None:
    await stored(
        uow,
        *(product(f"L-{n:02}", name=f"Laptop {n}", category="Laptops") for n in range(5)),
        product("H-01", name="Jabra Evolve", category="Headphones", brand="Jabra"),
        product("H-02", name="Quiet One", category="Headphones", description="Laptop bag too"),
    )
    async with uow() as work:
        first = await work.products.page(limit=3)
        second = await work.products.page(limit=3, after=first.next_after)
        third = await work.products.page(limit=3, after=second.next_after)
        laptops = await work.products.page(limit=10, query="laptop")
        category = await work.products.page(limit=10, category="headphones")
        both = await work.products.page(limit=10, query="laptops", category="Headphones")
        nothing = await work.products.page(limit=10, query="!!!")
    assert [p.sku for p in first.items] == ["H-01", "H-02", "L-00"]
    assert first.next_after == "L-00"
    assert [p.sku for p in second.items] == ["L-01", "L-02", "L-03"]
    assert [p.sku for p in third.items] == ["L-04"]
    assert third.next_after is None
    assert [p.sku for p in laptops.items] == ["H-02", "L-00", "L-01", "L-02", "L-03", "L-04"]
    assert [p.sku for p in category.items] == ["H-01", "H-02"]
    assert [p.sku for p in both.items] == ["H-02"]
    assert nothing.items == ()


async def test_every_streams_all_products_by_sku(uow: UnitOfWorkFactory) -> None:
    skus = [f"E-{n:05}" for n in range(1203)]  # more than one export page
    await stored(uow, *(product(sku) for sku in reversed(skus)))
    async with uow() as work:
        streamed = [p.sku async for p in work.products.every()]
    assert streamed == skus


async def test_search_ranks_name_over_brand_and_category_over_description(
    backend: Backend,
) -> None:
    await stored(
        backend.uow,
        product("D", name="Bag", description="Fits any keyboard"),
        product("B", name="Pro", brand="Keyboard Co"),
        product("A", name="Mechanical Keyboard"),
        product("C", name="Deluxe", category="Keyboards"),
        product("X", name="Mouse", description="Wireless"),
    )
    found = await backend.catalogue.search(ProductQuery(words=("keyboard",), limit=10))
    assert [p.sku for p in found[:1]] == ["A"]
    assert {p.sku for p in found[1:3]} == {"B", "C"}
    assert [p.sku for p in found[3:]] == ["D"]


async def test_search_ors_the_words_and_honours_limit_and_max_price(backend: Backend) -> None:
    await stored(
        backend.uow,
        product("M-1", name="MacBook Air", brand="Apple", price=Decimal("1099.00")),
        product("M-2", name="MacBook Pro", brand="Apple", price=Decimal("1999.00")),
        product("C-1", name="Chromebook Plus", brand="Acer", price=Decimal("499.00")),
        product("J-1", name="Evolve2 65", brand="Jabra", price=Decimal("199.00")),
    )
    both = await backend.catalogue.search(ProductQuery(words=("macbook", "jabra"), limit=10))
    cheap = await backend.catalogue.search(
        ProductQuery(words=("macbook", "chromebook"), limit=10, max_price=Decimal("1099.00"))
    )
    one = await backend.catalogue.search(ProductQuery(words=("macbook",), limit=1))
    assert {p.sku for p in both} == {"M-1", "M-2", "J-1"}
    assert {p.sku for p in cheap} == {"M-1", "C-1"}
    assert len(one) == 1
    assert one[0].sku in {"M-1", "M-2"}


async def test_search_finds_nothing_without_words_or_matches_and_empty_is_known(
    backend: Backend,
) -> None:
    assert await backend.catalogue.is_empty()
    assert await backend.catalogue.search(ProductQuery(words=("laptop",), limit=5)) == []
    await stored(backend.uow, product("A", name="Laptop"))
    assert not await backend.catalogue.is_empty()
    assert await backend.catalogue.search(ProductQuery(words=(), limit=5)) == []
    assert await backend.catalogue.search(ProductQuery(words=("tractor",), limit=5)) == []
    assert await backend.catalogue.search(ProductQuery(words=("'&|!",), limit=5)) == []
    found = await backend.catalogue.search(ProductQuery(words=("Laptops",), limit=5))
    assert [p.sku for p in found] == ["A"]


async def test_search_puts_products_matching_every_word_before_better_ranked_partial_ones(
    backend: Backend,
) -> None:
    """A product with both words only in its description comes before one with one word in
    its name (ts_rank alone would order them the other way)."""
    await stored(
        backend.uow,
        product("A", name="Keyboard Deluxe", description="Mechanical."),
        product("B", name="Nimbus", description="A light laptop with a backlit keyboard."),
        product("C", name="Lamp", description="A light for the desk."),
        product("D", name="Feather", description="Light keyboard, light case."),
    )
    found = await backend.catalogue.search(ProductQuery(words=("keyboard", "light"), limit=10))
    assert {p.sku for p in found[:2]} == {"B", "D"}
    assert [p.sku for p in found[2:]] == ["A", "C"]
    first = await backend.catalogue.search(ProductQuery(words=("keyboard", "light"), limit=2))
    assert {p.sku for p in first} == {"B", "D"}
    # A stop word or a word of no letters does not make "every word" impossible.
    with_stop_word = await backend.catalogue.search(
        ProductQuery(words=("the", "keyboard", "!!", "light"), limit=2)
    )
    assert {p.sku for p in with_stop_word} == {"B", "D"}


async def test_named_finds_products_by_the_key_of_their_name(backend: Backend) -> None:
    await stored(
        backend.uow,
        product("M-2", name="MacBook Pro"),
        product("M-1", name="MacBook Air"),
        product("X", name="MacBook Air Sleeve"),
    )
    keys = names_to_look_up(["macbook air", "MACBOOK PRO", "Nothing"])
    found = await backend.catalogue.named(keys)
    assert [p.sku for p in found] == ["M-1", "M-2"]
    assert await backend.catalogue.named([]) == []


async def test_a_name_finds_and_links_its_product_case_accents_and_spaces_aside(
    backend: Backend,
) -> None:
    """The LLM may drop an accent the catalogue keeps, or write one it does not, in another case
    and spacing: the name still finds its product and is linked to its SKU. ñ is a letter of its
    own, and a renamed product is found by its new name only."""
    await stored(
        backend.uow,
        product("P-14", name="Portátil Pro 14"),
        product("P-15", name="Portatil Pro 15"),
        product("Y", name="Año Pro"),
    )
    for name, sku, catalogue_name in (
        ("portatil  PRO 14", "P-14", "Portátil Pro 14"),
        (" Portátil pro 15", "P-15", "Portatil Pro 15"),
    ):
        found = await backend.catalogue.named(names_to_look_up([name]))
        assert [p.sku for p in found] == [sku]
        (linked,) = link_names([name], found)
        assert (linked.name, linked.sku) == (catalogue_name, sku)
    assert await backend.catalogue.named(names_to_look_up(["Ano Pro"])) == []
    await stored(backend.uow, product("P-14", name="Portátil Pro 14 Max"))
    assert await backend.catalogue.named(names_to_look_up(["Portatil Pro 14"])) == []
    renamed = await backend.catalogue.named(names_to_look_up(["PORTATIL PRO 14 MAX"]))
    assert [p.sku for p in renamed] == ["P-14"]
