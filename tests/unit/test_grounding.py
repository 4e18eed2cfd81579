"""The grounding rules: which of the shop's products a reply may name."""

from __future__ import annotations

import unicodedata
from decimal import Decimal

import pytest

from salesbot_core.domain import SalesMetadata
from salesbot_core.grounding import (
    GroundingPolicy,
    choose,
    is_rejected,
    name_key,
    names_to_look_up,
    product_named,
    retrieval_words,
    stated_budget,
)
from salesbot_core.prompts import PRODUCTS_HEADER, fitting_products, product_line
from salesbot_core.testing import InMemoryCatalogue
from salesbot_core.usecases.grounding import PickProducts
from tests.support.shop import SHOP, product


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("something under 1000", "1000"),
        ("My budget is around 1500 dollars", "1500"),
        ("busco algo de menos de 800 euros", "800"),
        ("about $1,200 please", "1200"),
        ("hasta 900", "900"),
        ("presupuesto de 1.200 €", "1200"),
        ("I can spend 750$", "750"),
    ],
)
def test_a_stated_budget_is_read_in_english_and_spanish(text: str, budget: str) -> None:
    assert stated_budget(text) == Decimal(budget)


@pytest.mark.parametrize(
    "text", ["a 15 inch laptop under 2 kg", "I want a laptop", "hasta 12 horas de batería"]
)
def test_sizes_and_plain_words_are_no_budget(text: str) -> None:
    assert stated_budget(text) is None


def test_retrieval_words_drop_stop_words_and_join_spanish_to_english() -> None:
    assert retrieval_words(["Busco un portátil ligero"]) == (
        "portatil",
        "laptop",
        "notebook",
        "ligero",
        "light",
        "lightweight",
    )
    assert retrieval_words(["Which one has the best keyboard?"]) == ("keyboard",)
    assert retrieval_words(["I want headphones, under 300"]) == ("headphone",)


def test_a_name_is_compared_by_its_key_case_accents_and_spaces_aside() -> None:
    """A name with accents and one without, in another case and spacing, are one name; ñ
    stays a letter of its own."""
    assert name_key("  Portátil  PRO 14 ") == name_key("portatil pro 14") == "portatil pro 14"
    assert name_key("Año Pro") != name_key("Ano Pro")
    # An ñ written as n and a combining tilde (as some exports write it) is the same ñ.
    assert name_key(unicodedata.normalize("NFD", "Año Pro")) == name_key("Año Pro") == "año pro"
    portatil = product(
        "LAP-P14", "Portátil Pro 14", brand="Acme", category="laptop", price="999.00"
    )
    assert product_named("portatil  PRO 14", [portatil]) is portatil
    assert product_named("Portátil Pro 15", [portatil]) is None
    # The store is asked for each key once, in the names' order.
    assert names_to_look_up(["Portátil Pro 14", "portatil pro 14 ", "XPS"]) == [
        "portatil pro 14",
        "xps",
    ]


def test_a_rejected_name_or_brand_removes_its_products_whatever_the_case() -> None:
    chromebook, jabra_8, jabra_10 = (
        next(p for p in SHOP if p.sku == sku) for sku in ("LAP-CB14", "AUD-JAB8", "AUD-JAB10")
    )
    assert is_rejected(chromebook, ["chromebooks"])
    assert is_rejected(chromebook, ["CHROMEBOOK PLUS 14"])
    assert is_rejected(jabra_8, ["Jabra"])
    assert is_rejected(jabra_10, ["jabra"])
    assert not is_rejected(jabra_10, ["Sony", "Elite 8 Active"])


def test_choose_drops_the_rejected_puts_in_stock_first_and_bounds() -> None:
    out = product("X-1", "Out Of Stock One", brand="B", category="laptop", price="10", stock=0)
    first = product("X-2", "Second", brand="B", category="laptop", price="10")
    rejected = product("X-3", "Refused", brand="Acme", category="laptop", price="10")
    last = product("X-4", "Fourth", brand="B", category="laptop", price="10")
    assert choose([out, first, rejected, last], ["acme"], 5) == (first, last, out)
    assert choose([out, first, rejected, last], ["acme"], 2) == (first, last)


def test_the_block_drops_whole_products_that_do_not_fit() -> None:
    lines = [product_line(p) for p in SHOP]
    kept = fitting_products(SHOP, 400)
    assert 0 < len(kept) < len(SHOP)
    assert len(PRODUCTS_HEADER) + sum(1 + len(product_line(p)) for p in kept) <= 400
    assert all(product_line(p) in lines for p in kept)
    assert fitting_products(SHOP, 10) == ()


async def test_picking_grounds_on_the_message_the_turns_and_the_interests() -> None:
    catalogue = InMemoryCatalogue(SHOP)
    pick = PickProducts(catalogue, GroundingPolicy(products=3))
    grounding = await pick(
        "Which one has the best keyboard?",
        ["I need a laptop"],
        SalesMetadata(interests=("budget up to $1,000",), rejected_products=("Acer",)),
    )
    assert grounding.catalogue_loaded
    names = [p.name for p in grounding.products]
    assert names[0] == "ThinkPad T14"  # the keyboard word counts most
    assert len(names) == 3
    assert all(p.price <= Decimal(1500) for p in grounding.products)
    assert "Chromebook Plus 14" not in names
    assert "ROG Strix 16" not in names
    query = catalogue.queries[-1]
    assert query.limit == 12
    assert query.max_price == Decimal(1500)
    assert query.words[:2] == ("keyboard", "laptop")


async def test_a_spanish_request_finds_an_english_catalogue() -> None:
    grounding = await PickProducts(InMemoryCatalogue(SHOP))("¿Tienes un portátil ligero?")
    assert grounding.products
    assert {p.category for p in grounding.products} == {"laptop"}
    assert "light" in grounding.products[0].description.lower()


async def test_the_budget_bound_holds_in_spanish() -> None:
    grounding = await PickProducts(InMemoryCatalogue(SHOP))("Un portátil, menos de 800 euros")
    assert grounding.products
    assert all(p.price <= Decimal(1200) for p in grounding.products)


async def test_out_of_stock_products_come_last() -> None:
    pick = PickProducts(InMemoryCatalogue(SHOP), GroundingPolicy(products=10))
    grounding = await pick("a light laptop")
    stock = [p.in_stock for p in grounding.products]
    assert False in stock
    assert stock == sorted(stock, reverse=True)


async def test_an_empty_catalogue_and_nothing_relevant_differ() -> None:
    empty = await PickProducts(InMemoryCatalogue())("I want a laptop")
    assert empty.products == ()
    assert not empty.catalogue_loaded
    nothing = await PickProducts(InMemoryCatalogue(SHOP))("a garden hose")
    assert nothing.products == ()
    assert nothing.catalogue_loaded


async def test_the_product_count_and_the_block_bound_are_kept() -> None:
    many = [
        product(f"L-{i}", f"Laptop {i}", brand="B", category="laptop", price="500")
        for i in range(30)
    ]
    grounding = await PickProducts(
        InMemoryCatalogue(many), GroundingPolicy(products=5, prompt_chars=10_000)
    )("laptop")
    assert len(grounding.products) == 5
    tight = await PickProducts(
        InMemoryCatalogue(many), GroundingPolicy(products=5, prompt_chars=300)
    )("laptop")
    assert 0 < len(tight.products) < 5


async def test_a_long_message_looks_the_catalogue_up_by_a_bounded_number_of_words() -> None:
    catalogue = InMemoryCatalogue(SHOP)
    pick = PickProducts(catalogue, GroundingPolicy(query_words=8))
    await pick(" ".join(f"laptop{n}word" for n in range(500)))
    assert len(catalogue.queries[-1].words) == 8
