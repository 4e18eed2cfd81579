"""The catalogue file's rules (both formats) and the all-or-nothing import, on the fakes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from salesbot_core.catalogue import CatalogueFormat, read_products, write_products
from salesbot_core.errors import InvalidCatalogue
from salesbot_core.ports.catalogue import ImportCounts
from salesbot_core.testing import InMemoryStore
from salesbot_core.usecases import ImportCatalogue

HEADER = "sku,name,brand,category,description,price,currency,stock,url"
GOOD = [
    "LT-1,Swift Go 14,Acer,Laptops,Light laptop (portátil ligero),799.00,USD,5,https://s.example/1",
    'HP-1,Evolve2 65,Jabra,Headphones,"Wireless, with a mic",199.5,USD,0,',
    "LT-2,MacBook Air 13,Apple,Laptops,M3 chip,1099,USD,12,",
]


def csv_lines(*rows: str, header: str = HEADER) -> list[bytes]:
    return [f"{line}\n".encode() for line in (header, *rows)]


def test_a_csv_file_reads_as_products_with_exact_prices() -> None:
    products = list(read_products(csv_lines(*GOOD), CatalogueFormat.CSV))
    assert [p.sku for p in products] == ["LT-1", "HP-1", "LT-2"]
    assert [p.price for p in products] == [Decimal("799.00"), Decimal("199.50"), Decimal("1099.00")]
    assert products[1].description == "Wireless, with a mic"
    assert products[1].url is None
    assert products[1].stock == 0
    assert products[0].url == "https://s.example/1"


def test_extra_csv_columns_become_attributes() -> None:
    lines = csv_lines(f"{GOOD[0]},1.2", header=f"{HEADER},weight_kg")
    (product,) = read_products(lines, CatalogueFormat.CSV)
    assert product.attributes == {"weight_kg": "1.2"}


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        ([GOOD[0], GOOD[1], GOOD[2].replace("1099", "10,99")], 4, "cells"),
        ([GOOD[0], GOOD[2].replace("1099", "cheap")], 3, "price"),
        ([GOOD[0], GOOD[1], GOOD[2].replace("1099", "-5")], 4, "price"),
        ([GOOD[0], GOOD[1], GOOD[2].replace("1099", "10.999")], 4, "price"),
        ([GOOD[0], GOOD[1].replace("HP-1", "")], 3, "sku is missing"),
        ([GOOD[0], GOOD[1], GOOD[0]], 4, "already on line 2"),
        ([GOOD[0], GOOD[1].replace(",0,", ",two,")], 3, "stock"),
        ([GOOD[0], GOOD[1].replace(",0,", ",-1,")], 3, "stock"),
        ([GOOD[0].replace("USD", "usd")], 2, "currency"),
        ([GOOD[0].replace("https://s.example/1", "javascript:x")], 2, "url"),
    ],
)
def test_a_broken_csv_line_is_named_with_its_problem(
    rows: list[str], line: int, problem: str
) -> None:
    with pytest.raises(InvalidCatalogue) as raised:
        list(read_products(csv_lines(*rows), CatalogueFormat.CSV))
    assert raised.value.line == line
    assert raised.value.message.startswith(f"line {line}: ")
    assert problem in raised.value.message


def test_a_missing_column_is_named_on_line_1() -> None:
    header = HEADER.replace(",price", "")
    with pytest.raises(InvalidCatalogue, match=r"^line 1: .*price"):
        list(read_products(csv_lines("LT-1,a,b,c,d,USD,1,", header=header), CatalogueFormat.CSV))


def test_not_utf8_and_empty_files_are_refused() -> None:
    with pytest.raises(InvalidCatalogue, match="line 3: is not UTF-8"):
        list(read_products([*csv_lines(GOOD[0]), b"\xff\xfe,\n"], CatalogueFormat.CSV))
    with pytest.raises(InvalidCatalogue, match="line 1: the file is empty"):
        list(read_products([], CatalogueFormat.CSV))


def test_a_multi_line_csv_cell_keeps_the_line_numbers_of_the_file() -> None:
    rows = ['A-1,n,b,c,"two\nlines",1.00,USD,1,', "A-2,n,b,c,d,oops,USD,1,"]
    text = "".join(f"{line}\n" for line in (HEADER, *rows))  # as a file iterates: by line
    with pytest.raises(InvalidCatalogue, match=r"^line 4: price"):
        list(read_products(text.encode().splitlines(keepends=True), CatalogueFormat.CSV))


def test_jsonl_lines_read_with_json_numbers_and_attributes() -> None:
    lines = [
        b'{"sku":"A-1","name":"n","brand":"b","category":"c","description":"d","price":12.5,'
        b'"currency":"EUR","stock":3,"attributes":{"colour":"red","ram_gb":16}}\n',
        b"\n",
        b'{"sku":"A-2","name":"n","brand":"b","category":"c","description":"d","price":1299,'
        b'"currency":"EUR","stock":0,"url":null}\n',
    ]
    products = list(read_products(lines, CatalogueFormat.JSONL))
    assert [p.price for p in products] == [Decimal("12.50"), Decimal("1299.00")]
    assert products[0].attributes == {"colour": "red", "ram_gb": "16"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            b'{"sku":"A-9","name":"n","brand":"b","category":"c","price":"x","currency":"EUR",'
            b'"stock":1}',
            "price",
        ),
        (b"[1, 2]", "JSON object"),
        (b"{not json", "not JSON"),
        (b'{"name":"n","brand":"b","category":"c","price":1,"currency":"EUR","stock":1}', "sku"),
        (
            b'{"sku":"A-9","name":"n","brand":"b","category":"c","price":1,"currency":"EUR",'
            b'"stock":1.5}',
            "stock",
        ),
    ],
)
def test_a_broken_jsonl_line_is_named(line: bytes, problem: str) -> None:
    good = (
        b'{"sku":"A-1","name":"n","brand":"b","category":"c","description":"d","price":1,'
        b'"currency":"EUR","stock":1}'
    )
    with pytest.raises(InvalidCatalogue, match=f"^line 2: .*{problem}"):
        list(read_products([good, line], CatalogueFormat.JSONL))


@pytest.mark.parametrize("file_format", list(CatalogueFormat))
def test_an_export_reads_back_as_the_same_products(file_format: CatalogueFormat) -> None:
    lines = csv_lines(f"{GOOD[0]},1.2", GOOD[1] + ",", GOOD[2] + ",", header=f"{HEADER},weight_kg")
    products = list(read_products(lines, CatalogueFormat.CSV))
    text = "".join(write_products(products, file_format))
    back = list(read_products(text.encode().splitlines(keepends=True), file_format))
    assert back == products


async def test_an_import_counts_and_a_bad_line_after_the_first_batch_imports_nothing() -> None:
    store = InMemoryStore()
    imported = ImportCatalogue(store.uow_factory, batch_size=2)
    first = await imported(read_products(csv_lines(*GOOD), CatalogueFormat.CSV))
    rows = [GOOD[0].replace("799.00", "699.00"), "N-1,n,b,c,d,1,USD,1,", "N-2,n,b,c,d,1,USD,1,"]
    bad = [*rows, "N-3,n,b,c,d,oops,USD,1,"]
    with pytest.raises(InvalidCatalogue, match="line 5"):
        await imported(read_products(csv_lines(*bad), CatalogueFormat.CSV))
    assert first == ImportCounts(created=3, updated=0)
    assert sorted(store.state.products) == ["HP-1", "LT-1", "LT-2"]
    assert store.state.products["LT-1"].price == Decimal("799.00")
    replaced = await imported(read_products(csv_lines(*rows), CatalogueFormat.CSV), replace=True)
    assert replaced == ImportCounts(created=2, updated=1, removed=2)
    assert sorted(store.state.products) == ["LT-1", "N-1", "N-2"]
