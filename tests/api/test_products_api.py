"""``/admin/products``: listing with paging, search and category, create or replace, delete,
and the all-or-nothing file import (CSV and JSON Lines, the size bound); 403 for customers."""

from __future__ import annotations

from typing import Any

import pytest

from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import FakeClock
from salesbot_http.settings import Settings
from tests.api.api_helpers import Customer, error_body, ok_data, replace_settings
from tests.api.conftest import Client, SignUp
from tests.api.test_admin_api import _grant, _log_in

HEADER = "sku,name,brand,category,description,price,currency,stock,url\n"
CSV = HEADER + (
    "LT-1,Swift Go 14,Acer,Laptops,Portátil ligero,799.00,USD,5,\n"
    "LT-2,MacBook Air 13,Apple,Laptops,Light laptop,1099.00,USD,12,https://s.example/lt-2\n"
    "HP-1,Evolve2 65,Jabra,Headphones,Office headset,279.00,USD,0,\n"
)
CSV_TYPE = {"Content-Type": "text/csv"}

PRODUCT: dict[str, Any] = {
    "name": "ThinkPad T14",
    "brand": "Lenovo",
    "category": "Laptops",
    "description": "A superb keyboard",
    "price": "1149.00",
    "currency": "USD",
    "stock": 3,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A small import bound, so the 413 case needs no large file."""
    return replace_settings(settings, catalogue_import_max_bytes=2048)


@pytest.fixture
async def admin(
    client: Client, sign_up: SignUp, uow_factory: UnitOfWorkFactory, clock: FakeClock
) -> Customer:
    staff = await sign_up(email="catalogue-staff@example.com", name="Shop Staff")
    await _grant(uow_factory, clock, staff.email)
    return await _log_in(client, staff)


async def _import(client: Client, who: Customer, body: str, **headers: str) -> Any:
    return await client.post(
        "/admin/products/import",
        content=body.encode(),
        headers={**who.headers, **CSV_TYPE, **headers},
    )


async def _skus(client: Client, who: Customer, query: str = "") -> list[str]:
    data = ok_data(await client.get(f"/admin/products?limit=200{query}", headers=who.headers))
    return [item["sku"] for item in data]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/products"),
        ("PUT", "/admin/products/LT-1"),
        ("DELETE", "/admin/products/LT-1"),
        ("POST", "/admin/products/import"),
    ],
)
async def test_customers_get_403_and_anonymous_401(
    client: Client, customer: Customer, method: str, path: str
) -> None:
    body = PRODUCT if method == "PUT" else None
    refused = await client.request(method, path, json=body, headers=customer.headers)
    anonymous = await client.request(method, path, json=body)
    error_body(refused, 403, path)
    error_body(anonymous, 401, path)


async def test_import_then_list_search_filter_and_page(client: Client, admin: Customer) -> None:
    imported = ok_data(await _import(client, admin, CSV))
    again = ok_data(await _import(client, admin, CSV))
    first = await client.get("/admin/products?limit=2", headers=admin.headers)
    link = first.headers["link"]
    target = link[link.index("<") + 1 : link.index(">")]
    second = await client.get(target, headers=admin.headers)
    assert imported == {"created": 3, "updated": 0, "removed": 0}
    assert again == {"created": 0, "updated": 3, "removed": 0}
    assert [p["sku"] for p in ok_data(first)] == ["HP-1", "LT-1"]
    assert 'rel="next"' in link
    assert "cursor=LT-1" in target
    assert [p["sku"] for p in ok_data(second)] == ["LT-2"]
    assert "link" not in second.headers
    assert await _skus(client, admin, "&q=laptops") == ["LT-1", "LT-2"]
    assert await _skus(client, admin, "&q=port%C3%A1til") == ["LT-1"]
    assert await _skus(client, admin, "&category=headphones") == ["HP-1"]
    (headset,) = ok_data(await client.get("/admin/products?q=evolve2", headers=admin.headers))
    assert headset["price"] == "279.00"
    assert headset["inStock"] is False
    assert headset["url"] is None


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        (CSV + "LT-3,Zenbook,ASUS,Laptops,d,cheap,USD,1,\n", 5, "price"),
        (CSV + ",Zenbook,ASUS,Laptops,d,899.00,USD,1,\n", 5, "sku is missing"),
        (CSV + "LT-1,Zenbook,ASUS,Laptops,d,899.00,USD,1,\n", 5, "already on line 2"),
        (CSV.replace(",stock", ""), 1, "stock"),
        (CSV + "LT-3,Zenbook,ASUS,Laptops,d,899.00,USD,many,\n", 5, "stock"),
        (CSV + "LT-3,Zenbook,ASUS,Laptops,d,899.00,dollars,1,\n", 5, "currency"),
    ],
)
async def test_a_bad_file_is_400_naming_the_line_and_changes_nothing(
    client: Client, admin: Customer, body: str, line: int, problem: str
) -> None:
    ok_data(await _import(client, admin, CSV.replace("799.00", "749.00")))
    refused = await _import(client, admin, body.replace("1099.00", "999.00"))
    message = error_body(refused, 400, "/admin/products/import")["message"]
    listed = ok_data(await client.get("/admin/products", headers=admin.headers))
    assert f"line {line}: " in message
    assert problem in message
    assert {p["sku"]: p["price"] for p in listed} == {
        "HP-1": "279.00",
        "LT-1": "749.00",
        "LT-2": "1099.00",
    }


async def test_jsonl_import_with_replace_removes_what_the_file_lacks(
    client: Client, admin: Customer
) -> None:
    ok_data(await _import(client, admin, CSV))
    jsonl = (
        '{"sku":"LT-1","name":"Swift Go 14","brand":"Acer","category":"Laptops",'
        '"description":"d","price":749.5,"currency":"USD","stock":4}\n'
        '{"sku":"TB-1","name":"iPad Air","brand":"Apple","category":"Tablets",'
        '"description":"d","price":599,"currency":"USD","stock":2,"attributes":{"gb":"128"}}\n'
    )
    response = await client.post(
        "/admin/products/import?replace=true",
        content=jsonl.encode(),
        headers={**admin.headers, "Content-Type": "application/x-ndjson"},
    )
    listed = ok_data(await client.get("/admin/products", headers=admin.headers))
    assert ok_data(response) == {"created": 1, "updated": 1, "removed": 2}
    assert [(p["sku"], p["price"], p["attributes"]) for p in listed] == [
        ("LT-1", "749.50", {}),
        ("TB-1", "599.00", {"gb": "128"}),
    ]


async def test_an_unknown_content_type_is_415(client: Client, admin: Customer) -> None:
    refused = await _import(client, admin, CSV, **{"Content-Type": "application/json"})
    error_body(refused, 415, "/admin/products/import")


async def test_a_file_over_the_size_bound_is_413_and_imports_nothing(
    client: Client, admin: Customer
) -> None:
    rows = "".join(f"S-{n:04},Thing {n},Acme,Gadgets,A thing,1.00,USD,1,\n" for n in range(60))
    small = ok_data(await _import(client, admin, CSV))
    refused = await _import(client, admin, HEADER + rows)
    assert len((HEADER + rows).encode()) > 2048
    assert small["created"] == 3
    error_body(refused, 413, "/admin/products/import")
    assert await _skus(client, admin) == ["HP-1", "LT-1", "LT-2"]


async def test_put_creates_then_replaces_and_validates(client: Client, admin: Customer) -> None:
    path = "/admin/products/LT-9"
    created = await client.put(path, json=PRODUCT, headers=admin.headers)
    replaced = await client.put(
        path, json={**PRODUCT, "price": 1099, "stock": 0}, headers=admin.headers
    )
    bad = await client.put(path, json={**PRODUCT, "price": "12.345"}, headers=admin.headers)
    blank = await client.put(path, json={**PRODUCT, "name": "  "}, headers=admin.headers)
    listed = ok_data(await client.get("/admin/products", headers=admin.headers))
    assert ok_data(created, 201)["sku"] == "LT-9"
    assert ok_data(replaced, 200)["price"] == "1099.00"
    assert "product: price must be a decimal" in error_body(bad, 400, path)["message"]
    assert error_body(blank, 400, path)["message"].endswith("product: name is missing")
    assert [(p["sku"], p["price"], p["stock"]) for p in listed] == [("LT-9", "1099.00", 0)]


async def test_delete_removes_and_a_missing_sku_is_404(client: Client, admin: Customer) -> None:
    ok_data(await _import(client, admin, CSV))
    deleted = await client.delete("/admin/products/LT-1", headers=admin.headers)
    missing = await client.delete("/admin/products/LT-1", headers=admin.headers)
    ok_data(deleted)
    error_body(missing, 404, "/admin/products/LT-1")
    assert await _skus(client, admin) == ["HP-1", "LT-2"]


async def test_the_store_sees_what_the_routes_wrote(
    client: Client, admin: Customer, uow_factory: UnitOfWorkFactory
) -> None:
    ok_data(await _import(client, admin, CSV))
    async with uow_factory() as uow:
        product = await uow.products.get("LT-2")
    assert product is not None
    assert product.url == "https://s.example/lt-2"


async def test_a_sku_with_a_slash_is_edited_and_deleted_as_is_or_percent_encoded(
    client: Client, admin: Customer
) -> None:
    ok_data(await _import(client, admin, HEADER + "ACME/LT-1,Swift,Acer,Laptops,d,799.00,USD,5,\n"))

    replaced = await client.put(
        "/admin/products/ACME%2FLT-1", json={**PRODUCT, "price": "749.00"}, headers=admin.headers
    )
    created = await client.put("/admin/products/ACME/LT-2", json=PRODUCT, headers=admin.headers)
    listed = ok_data(await client.get("/admin/products", headers=admin.headers))
    deleted = await client.delete("/admin/products/ACME/LT-1", headers=admin.headers)
    bad = await client.put("/admin/products/ACME/LT%203", json=PRODUCT, headers=admin.headers)

    assert ok_data(replaced, 200)["sku"] == "ACME/LT-1"
    assert ok_data(created, 201)["sku"] == "ACME/LT-2"
    assert [(p["sku"], p["price"]) for p in listed] == [
        ("ACME/LT-1", "749.00"),
        ("ACME/LT-2", "1149.00"),
    ]
    ok_data(deleted)
    assert await _skus(client, admin) == ["ACME/LT-2"]
    assert "sku" in error_body(bad, 400, "/admin/products/ACME/LT 3")["message"]


@pytest.mark.parametrize("sent", ["ACME%2F", "ACME/", "ACME//LT-1", "ACME%2F%2FLT-1"])
async def test_a_path_that_tidies_into_another_products_sku_names_no_product(
    client: Client, admin: Customer, sent: str
) -> None:
    """Litestar tidies ``ACME%2F`` into ``ACME`` and ``ACME//LT-1`` into ``ACME/LT-1`` before
    routing: such a request must not reach those products."""
    ok_data(
        await _import(
            client,
            admin,
            HEADER + "ACME,A,Acer,L,d,1.00,USD,1,\nACME/LT-1,B,Acer,L,d,2.00,USD,1,\n",
        )
    )

    put = await client.put(f"/admin/products/{sent}", json=PRODUCT, headers=admin.headers)
    deleted = await client.delete(f"/admin/products/{sent}", headers=admin.headers)

    assert (put.status_code, deleted.status_code) == (404, 404), (put.text, deleted.text)
    listed = ok_data(await client.get("/admin/products", headers=admin.headers))
    assert [(p["sku"], p["name"]) for p in listed] == [("ACME", "A"), ("ACME/LT-1", "B")]


@pytest.mark.parametrize("sku", ["ACME/", "A//B", "A/./B", "A/../B", "/A"])
async def test_a_sku_no_path_would_keep_is_refused_on_import(
    client: Client, admin: Customer, sku: str
) -> None:
    refused = await _import(client, admin, HEADER + f"{sku},A,Acer,L,d,1.00,USD,1,\n")

    assert "line 2: sku" in error_body(refused, 400, "/admin/products/import")["message"]
    assert await _skus(client, admin) == []
