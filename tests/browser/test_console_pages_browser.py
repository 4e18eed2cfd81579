"""The console's products and webhook pages and its server-side leads search, in headless
Chromium against ``salesbot serve``: an admin searches, edits, deletes and imports products (a
bad file's line shown), sees the webhook deliveries filtered by status and retries a dead one,
and finds a lead that is not on the first page. The server sends its webhooks to a receiver of
the test's that fails the first request; with a retry window of one second that delivery is
dead after one attempt, as a real one is after a day."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.browser.conftest import (
    WAIT_S,
    Account,
    Server,
    Shoot,
    Wait,
    log_in,
    policy_violations,
    register,
    token_of,
)
from tests.support.receiver import Receiver, receiving

pytestmark = pytest.mark.browser

# More leads than the console's first page (50) holds.
FILLER_LEADS = 52
CATALOGUE = (
    "sku,name,brand,category,description,price,currency,stock,url\r\n"
    "KET-1,Kettle <i>Pro</i>,Brewco,kettle,A gooseneck kettle.,39.90,USD,4,\r\n"
    "KET-2,Travel kettle,Brewco,kettle,Small and light.,19.00,USD,0,\r\n"
    "GRI-1,Burr grinder,Millhaus,grinder,Conical burrs.,129.00,USD,2,\r\n"
    "ESP-1,Barista Pro,Brewco,espresso machine,Pressure and steam.,699.00,USD,1,\r\n"
    "DES-1,Descaler,Brewco,care,Citric acid.,8.00,USD,30,\r\n"
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with receiving(answers=[500]) as running:
        yield running


@pytest.fixture(scope="module")
def server_env(receiver: Receiver) -> dict[str, str]:
    return {
        "WEBHOOK_URLS": receiver.url,
        "WEBHOOK_SECRET": "browser-webhook-secret-" + "w" * 20,
        "WEBHOOK_POLL_INTERVAL_S": "0.2",
        "WEBHOOK_RETRY_FOR": "1s",
    }


@dataclass(frozen=True)
class Shop:
    admin: Account
    admin_token: str
    # The oldest lead: past the first page of the leads.
    needle: str
    needle_customer: str


def _api(server: Server, token: str, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(
        method,
        f"{server.base_url}{path}",
        headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
        timeout=60,
        **kwargs,
    )
    assert response.is_success, response.text
    return response.json()["data"]


def _until(condition: Callable[[], Any], what: str) -> Any:
    """Poll ``condition`` until it is truthy (a generous bound: the machine is shared)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"never happened: {what}")


@pytest.fixture(scope="module")
def shop(server: Server) -> Shop:
    admin = register(server, "owner@shop.example", "Shop Owner")
    server.cli("users", "grant-admin", admin.email)
    admin_token = token_of(server, admin)
    _api(
        server,
        admin_token,
        "POST",
        "/admin/products/import",
        content=CATALOGUE.encode(),
        headers={"Content-Type": "text/csv"},
    )
    needle = register(server, "zed.needle@shop.example", "Zed Needle")
    needle_token = token_of(server, needle)
    sent = _api(server, needle_token, "POST", "/chat/send", json={"content": "Hello there"})
    filler = register(server, "filler@shop.example", "Fran Filler")
    filler_token = token_of(server, filler)
    for n in range(FILLER_LEADS):
        _api(server, filler_token, "POST", "/chat/send", json={"content": f"question {n}"})
    return Shop(
        admin=admin,
        admin_token=admin_token,
        needle=sent["conversation"]["id"],
        needle_customer=needle.name,
    )


@pytest.fixture
def as_admin(browser: WebDriver, wait: Wait, server: Server, shop: Shop) -> Iterator[WebDriver]:
    log_in(browser, wait, server.base_url, "/console", shop.admin)
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#page[data-page=overview]"))
    yield browser
    assert policy_violations(browser) == []


def _open(browser: WebDriver, wait: Wait, page: str) -> None:
    browser.find_element(By.CSS_SELECTOR, f"#console-nav a[data-page={page}]").click()
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, f"#page[data-page={page}]"))


def _rows(browser: WebDriver, table: str, key: str) -> list[WebElement]:
    return browser.find_elements(By.CSS_SELECTOR, f"[data-testid={table}] tbody tr[{key}]")


def _skus(browser: WebDriver) -> list[str]:
    return [row.get_attribute("data-sku") or "" for row in _rows(browser, "products", "data-sku")]


def _unlabelled(browser: WebDriver) -> list[str]:
    """The page's controls that have neither a <label for> nor an aria-label."""
    found: list[str] = browser.execute_script(
        """
        return [...document.querySelectorAll('#page input, #page select, #page textarea')]
          .filter((c) => !c.getAttribute('aria-label')
            && !(c.id && document.querySelector(`label[for="${c.id}"]`)))
          .map((c) => c.outerHTML);
        """
    )
    return found


def _fits(browser: WebDriver) -> bool:
    fits: bool = browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    return fits


def _product(server: Server, shop: Shop, sku: str) -> dict[str, Any] | None:
    found = _api(server, shop.admin_token, "GET", "/admin/products", params={"limit": 200})
    return next((p for p in found if p["sku"] == sku), None)


def test_products_are_searched_by_words_and_category_and_shown_as_text(
    as_admin: WebDriver, wait: Wait, shop: Shop, screenshot: Shoot
) -> None:
    browser = as_admin
    _open(browser, wait, "products")
    # By sku; the other tests of the module may have changed the rest of the catalogue.
    assert {"ESP-1", "GRI-1", "KET-1", "KET-2"} <= set(_skus(browser))
    assert _skus(browser) == sorted(_skus(browser))
    # The product's name is shown as the text it is, never as markup.
    assert "Kettle <i>Pro</i>" in browser.find_element(By.CSS_SELECTOR, "tr[data-sku=KET-1]").text
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=products] i")
    assert _unlabelled(browser) == []
    screenshot("console-products")

    browser.find_element(By.ID, "product-search").send_keys("kettle", Keys.ENTER)
    wait(lambda b: "q=kettle" in b.current_url and _skus(b) == ["KET-1", "KET-2"])

    search = browser.find_element(By.ID, "product-search")
    search.clear()
    browser.find_element(By.ID, "product-category-filter").send_keys("Grinder", Keys.ENTER)
    wait(lambda b: "category=Grinder" in b.current_url and _skus(b) == ["GRI-1"])


def test_a_product_is_edited_with_the_servers_errors_shown_then_deleted(
    as_admin: WebDriver, wait: Wait, server: Server, shop: Shop, screenshot: Shoot
) -> None:
    browser = as_admin
    _open(browser, wait, "products")
    # The keyboard opens the editor: Enter on the row's Edit button.
    browser.find_element(By.CSS_SELECTOR, "tr[data-sku=GRI-1] button[data-action=edit]").send_keys(
        Keys.ENTER
    )
    wait(lambda b: b.find_elements(By.ID, "product-editor"))
    assert browser.switch_to.active_element.get_attribute("id") == "product-name"
    assert _unlabelled(browser) == []
    price = browser.find_element(By.ID, "product-price")
    price.clear()
    price.send_keys("12.345")
    browser.find_element(By.CSS_SELECTOR, "#product-editor button[type=submit]").click()
    wait(lambda b: "price" in b.find_element(By.ID, "product-error").text)
    assert (_product(server, shop, "GRI-1") or {})["price"] == "129.00"  # nothing saved

    price.clear()
    price.send_keys("119.50")
    stock = browser.find_element(By.ID, "product-stock")
    stock.clear()
    stock.send_keys("7")
    browser.find_element(By.CSS_SELECTOR, "#product-editor button[type=submit]").click()
    wait(lambda b: "Product updated: GRI-1" in b.find_element(By.ID, "notice").text)
    assert not browser.find_elements(By.ID, "product-editor")
    assert "119.50 USD" in browser.find_element(By.CSS_SELECTOR, "tr[data-sku=GRI-1]").text
    saved = _product(server, shop, "GRI-1")
    assert saved is not None
    assert (saved["price"], saved["stock"], saved["name"]) == ("119.50", 7, "Burr grinder")

    # Delete asks first; Cancel keeps the product.
    browser.find_element(By.CSS_SELECTOR, "tr[data-sku=DES-1] button[data-action=delete]").click()
    row = browser.find_element(By.CSS_SELECTOR, "tr[data-sku=DES-1]")
    assert "Delete this product?" in row.text
    row.find_element(By.CSS_SELECTOR, "button.secondary").click()
    assert _product(server, shop, "DES-1") is not None
    browser.find_element(By.CSS_SELECTOR, "tr[data-sku=DES-1] button[data-action=delete]").click()
    browser.find_element(
        By.CSS_SELECTOR, "tr[data-sku=DES-1] button[data-action=confirm-delete]"
    ).click()
    wait(lambda b: "Product deleted: DES-1" in b.find_element(By.ID, "notice").text)
    assert "DES-1" not in _skus(browser)
    assert _product(server, shop, "DES-1") is None


def test_a_catalogue_file_is_imported_and_a_bad_one_names_its_line(
    as_admin: WebDriver, wait: Wait, server: Server, shop: Shop, tmp_path: Path
) -> None:
    browser = as_admin
    _open(browser, wait, "products")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sku,name,brand,category,description,price,currency,stock,url\n"
        "MUG-1,Mug,Brewco,mug,A mug.,9.00,USD,10,\n"
        "MUG-2,Big mug,Brewco,mug,A big mug.,cheap,USD,10,\n",
        encoding="utf-8",
    )
    browser.find_element(By.ID, "import-file").send_keys(str(bad))
    browser.find_element(By.CSS_SELECTOR, "#import-form button[type=submit]").click()
    wait(lambda b: "line 3" in b.find_element(By.ID, "import-error").text)
    assert "bad.csv" in browser.find_element(By.ID, "import-error").text
    assert _product(server, shop, "MUG-1") is None  # all or nothing

    good = tmp_path / "more.jsonl"
    good.write_text(
        '{"sku": "MUG-1", "name": "Mug", "brand": "Brewco", "category": "mug", '
        '"description": "A mug.", "price": "9.00", "currency": "USD", "stock": 10}\n'
        '{"sku": "MUG-2", "name": "Big mug", "brand": "Brewco", "category": "mug", '
        '"description": "A big mug.", "price": "12.00", "currency": "USD", "stock": 3}\n'
        '{"sku": "ESP-1", "name": "Barista Pro", "brand": "Brewco", "category": '
        '"espresso machine", "description": "Now with a grinder.", "price": "749.00", '
        '"currency": "USD", "stock": 1}\n',
        encoding="utf-8",
    )
    browser.find_element(By.ID, "import-file").send_keys(str(good))
    browser.find_element(By.CSS_SELECTOR, "#import-form button[type=submit]").click()
    wait(lambda b: "2 created, 1 updated" in b.find_element(By.ID, "notice").text)
    assert {"MUG-1", "MUG-2"} <= set(_skus(browser))
    assert (_product(server, shop, "ESP-1") or {})["price"] == "749.00"


def test_products_come_a_page_at_a_time(
    as_admin: WebDriver, wait: Wait, server: Server, shop: Shop
) -> None:
    # Fifty more, sorted after every other sku of the module: the first page cannot hold them.
    bulk = "".join(
        f"ZZ-{n:02},Filter paper {n},Brewco,paper,Paper.,1.00,USD,100,\r\n" for n in range(50)
    )
    _api(
        server,
        shop.admin_token,
        "POST",
        "/admin/products/import",
        content=(CATALOGUE.splitlines(keepends=True)[0] + bulk).encode(),
        headers={"Content-Type": "text/csv"},
    )
    browser = as_admin
    _open(browser, wait, "products")
    first = _skus(browser)
    assert len(first) == 50
    assert not browser.find_elements(By.ID, "first-page")
    browser.find_element(By.ID, "next-page").click()
    wait(lambda b: "cursor=" in b.current_url and _skus(b) and _skus(b)[0] > first[-1])
    second = _skus(browser)
    every = _api(server, shop.admin_token, "GET", "/admin/products", params={"limit": 200})
    assert first + second == [p["sku"] for p in every]
    assert second[-1] == "ZZ-49"
    assert not browser.find_elements(By.ID, "next-page")
    browser.find_element(By.ID, "first-page").click()
    wait(lambda b: "cursor=" not in b.current_url and _skus(b) == first)


def _deliveries(server: Server, shop: Shop, status: str | None = None) -> list[dict[str, Any]]:
    params = {"limit": 200, **({"status": status} if status else {})}
    found: list[dict[str, Any]] = _api(
        server, shop.admin_token, "GET", "/admin/webhooks/deliveries", params=params
    )
    return found


def test_deliveries_are_filtered_by_status_and_a_dead_one_retried(
    as_admin: WebDriver,
    wait: Wait,
    server: Server,
    shop: Shop,
    receiver: Receiver,
    screenshot: Shoot,
) -> None:
    browser = as_admin
    # The receiver failed its first request: that delivery is dead after its one attempt.
    failed = receiver.wait_for(lambda got: any(r.answered == 500 for r in got))
    dead_id = next(r.delivery for r in failed if r.answered == 500)
    _until(lambda: _deliveries(server, shop, "dead"), "a dead delivery")
    _open(browser, wait, "webhooks")
    assert _unlabelled(browser) == []

    Select(browser.find_element(By.ID, "delivery-status")).select_by_value("dead")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()

    # The hash changes first, then the page is drawn again: wait for the filtered rows.
    def only_dead(b: WebDriver) -> bool:
        shown = _rows(b, "deliveries", "data-delivery")
        return bool(shown) and all(r.get_attribute("data-status") == "dead" for r in shown)

    wait(lambda b: "status=dead" in b.current_url and only_dead(b))
    rows = _rows(browser, "deliveries", "data-delivery")
    assert [row.get_attribute("data-delivery") for row in rows] == [dead_id]
    assert "500" in rows[0].text  # the last error
    assert "conversation.created" in rows[0].text
    screenshot("console-webhooks")

    rows[0].find_element(By.CSS_SELECTOR, "button[data-action=retry]").click()
    wait(lambda b: "Webhook delivery queued again" in b.find_element(By.ID, "notice").text)
    assert _rows(browser, "deliveries", "data-delivery") == []
    # Queued again, it is sent again (the receiver answers 200 now) and is delivered.
    receiver.wait_for(lambda got: [r.delivery for r in got].count(dead_id) == 2)
    delivered = _until(
        lambda: [
            d
            for d in _deliveries(server, shop, "delivered")
            if d["id"] == dead_id and d["attempts"] == 1
        ],
        "the retried delivery delivered",
    )
    assert delivered[0]["lastStatus"] == 200


def test_the_leads_search_finds_a_lead_past_the_first_page(
    as_admin: WebDriver, wait: Wait, shop: Shop
) -> None:
    browser = as_admin
    _open(browser, wait, "leads")
    first_page = {
        r.get_attribute("data-conversation") for r in _rows(browser, "leads", "data-conversation")
    }
    assert len(first_page) == 50
    assert shop.needle not in first_page
    assert browser.find_elements(By.ID, "next-page")

    browser.find_element(By.ID, "lead-search").send_keys("NEEDLE", Keys.ENTER)
    wait(lambda b: "q=NEEDLE" in b.current_url)
    wait(
        lambda b: (
            [r.get_attribute("data-conversation") for r in _rows(b, "leads", "data-conversation")]
            == [shop.needle]
        )
    )
    assert (
        shop.needle_customer
        in browser.find_element(By.CSS_SELECTOR, "[data-testid=leads] tbody").text
    )
    assert not browser.find_elements(By.ID, "next-page")


def test_the_products_and_webhooks_pages_fit_a_phone(as_admin: WebDriver, wait: Wait) -> None:
    browser = as_admin
    browser.set_window_size(390, 844)
    for page in ("products", "webhooks"):
        _open(browser, wait, page)
        assert _fits(browser), page
