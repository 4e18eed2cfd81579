"""The console in a real headless Chromium against ``salesbot serve``: an admin logs in, sees the
overview with the figures of a seeded data set and its chart drawn from them, filters the leads,
opens a conversation and its metadata timeline, downloads the CSV; a customer cannot open it."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
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
    visible,
)

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Seeded:
    admin: Account
    customer: Account
    # The conversation distilled for real (three exchanges with the offline assistant).
    distilled: str
    distilled_title: str
    # Conversations per sale status, conversion per day, and the top interest, as seeded.
    by_status: dict[str, int]
    conversion: dict[str, float]
    conversations: int
    exchanges: int


def _send(server: Server, token: str, content: str, conversation: str | None = None) -> Any:
    body: dict[str, Any] = {"content": content}
    if conversation:
        body["conversationId"] = conversation
    response = httpx.post(
        f"{server.base_url}/chat/send",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _wait_distilled(url: str, conversation: str) -> None:
    deadline = time.monotonic() + WAIT_S
    with psycopg.connect(url, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(
                "SELECT count(*) FROM distillations WHERE conversation_id = %s", (conversation,)
            ).fetchone()
            if row and row[0] >= 1:
                return
            time.sleep(0.1)
    pytest.fail("the distillation did not land")


# Conversations whose metadata the seed sets (sale status, interests, days before today).
PLANTED = [
    ("closed", ["espresso machine", "grinder"], 2),
    ("negotiating", ["espresso machine"], 1),
    ("lost", ["espresso machine"], 1),
    ("closed", ["kettle"], 0),
]


@pytest.fixture(scope="module")
def seeded(server: Server) -> Seeded:
    admin = register(server, "boss@shop.example", "Shop Boss")
    server.cli("users", "grant-admin", admin.email)
    customer = register(server, "ana@shop.example", "Ana <b>Bold</b>")
    token = token_of(server, customer)
    first = _send(server, token, "I need a laptop for programming")
    distilled = first["conversation"]["id"]
    _send(server, token, "Mainly web development, my budget is 1500", distilled)
    _send(server, token, "I like the ThinkPad, not the MacBook", distilled)
    _wait_distilled(server.database_url, distilled)
    planted = [_send(server, token, f"coffee question {n}")["conversation"]["id"] for n in range(4)]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    with psycopg.connect(server.database_url, autocommit=True) as connection:
        for conversation, (status, interests, days_ago) in zip(planted, PLANTED, strict=True):
            metadata = {
                "interests": interests,
                "offeredProducts": ["Barista Pro"],
                "rejectedProducts": [],
                "saleStatus": status,
                "lastIntent": None,
            }
            connection.execute(
                "UPDATE conversations SET metadata = %s::jsonb, created_at = %s WHERE id = %s",
                (json.dumps(metadata), today - timedelta(days=days_ago), conversation),
            )
        # Independent of the app: what the database holds, counted by SQL.
        by_status = dict.fromkeys(["exploring", "interested", "negotiating", "closed", "lost"], 0)
        for status, count in connection.execute(
            "SELECT sale_status, count(*) FROM conversations GROUP BY sale_status"
        ):
            by_status[status] = count
        conversion = {
            str(day): closed / started
            for day, started, closed in connection.execute(
                "SELECT date(timezone('UTC', created_at)), count(*),"
                " count(*) FILTER (WHERE sale_status = 'closed') FROM conversations GROUP BY 1"
            )
        }
        title = connection.execute(
            "SELECT title FROM conversations WHERE id = %s", (distilled,)
        ).fetchone()
    assert title is not None
    return Seeded(
        admin=admin,
        customer=customer,
        distilled=distilled,
        distilled_title=title[0],
        by_status=by_status,
        conversion=conversion,
        conversations=5,
        exchanges=7,
    )


@pytest.fixture
def as_admin(browser: WebDriver, wait: Wait, server: Server, seeded: Seeded) -> Iterator[WebDriver]:
    log_in(browser, wait, server.base_url, "/console", seeded.admin)
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#page[data-page=overview]"))
    yield browser
    assert policy_violations(browser) == []


def _figure(browser: WebDriver, test_id: str) -> str:
    return browser.find_element(By.CSS_SELECTOR, f"[data-testid={test_id}] .value").text


def test_the_overview_shows_the_seeded_figures_and_draws_them(
    as_admin: WebDriver, seeded: Seeded, screenshot: Shoot
) -> None:
    browser = as_admin
    assert _figure(browser, "conversations") == str(seeded.conversations)
    assert _figure(browser, "exchanges") == str(seeded.exchanges)
    for status, count in seeded.by_status.items():
        assert _figure(browser, f"status-{status}") == str(count), status
    assert seeded.by_status["closed"] == 2
    # One point per day, at the day's rate, joined by the line.
    points = browser.find_elements(By.CSS_SELECTOR, "svg.chart circle.point")
    drawn = {
        p.get_attribute("data-label"): float(p.get_attribute("data-value") or "nan") for p in points
    }
    assert drawn == pytest.approx(seeded.conversion, abs=1e-4)
    assert len(drawn) == 3
    line = browser.find_element(By.CSS_SELECTOR, "svg.chart polyline.series")
    assert len((line.get_attribute("points") or "").split()) == 3
    interests = browser.find_element(By.CSS_SELECTOR, "[data-testid=top-interests] tbody tr")
    assert interests.text.split("\n")[0].startswith("espresso machine")
    assert interests.find_elements(By.TAG_NAME, "td")[1].text == "3"
    offered = browser.find_element(By.CSS_SELECTOR, "[data-testid=most-offered] tbody tr td")
    assert offered.text == "barista pro"
    screenshot("console-overview")


def test_the_days_range_redraws_the_chart(as_admin: WebDriver, wait: Wait) -> None:
    Select(as_admin.find_element(By.ID, "days")).select_by_value("7")
    wait(lambda b: "days=7" in b.current_url)
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "svg.chart[aria-label*='last 7 days']"))
    assert len(as_admin.find_elements(By.CSS_SELECTOR, "svg.chart circle.point")) == 3


def _lead_rows(browser: WebDriver) -> list[Any]:
    return browser.find_elements(By.CSS_SELECTOR, "[data-testid=leads] tbody tr[data-conversation]")


def test_leads_filter_by_status_and_search_then_open_the_timeline(
    as_admin: WebDriver, wait: Wait, seeded: Seeded, screenshot: Shoot
) -> None:
    browser = as_admin
    browser.find_element(By.CSS_SELECTOR, "a[data-page=leads]").click()
    wait(lambda b: len(_lead_rows(b)) == seeded.conversations)
    # The customer's name is shown as the text it is.
    assert "Ana <b>Bold</b>" in _lead_rows(browser)[0].text
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=leads] b")
    screenshot("console-leads")

    Select(browser.find_element(By.ID, "lead-status")).select_by_value("closed")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait(lambda b: "status=closed" in b.current_url and len(_lead_rows(b)) == 2)
    assert all("closed" in row.text for row in _lead_rows(browser))

    Select(browser.find_element(By.ID, "lead-status")).select_by_value("")
    # The search runs on the server over the customer's name and email and the title.
    search = browser.find_element(By.ID, "lead-search")
    search.clear()
    search.send_keys(seeded.distilled_title.upper())
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait(
        lambda b: (
            "q=" in b.current_url
            and seeded.distilled in [r.get_attribute("data-conversation") for r in _lead_rows(b)]
            and len(_lead_rows(b)) < seeded.conversations
        )
    )

    search = browser.find_element(By.ID, "lead-search")
    search.clear()
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait(lambda b: len(_lead_rows(b)) == seeded.conversations)
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-conversation='{seeded.distilled}']")
    row.find_element(By.TAG_NAME, "a").click()

    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#page[data-page=conversation]"))
    assert browser.find_element(By.CSS_SELECTOR, "#page h2").text == seeded.distilled_title
    transcript = browser.find_elements(By.CSS_SELECTOR, "[data-testid=transcript] li")
    assert len(transcript) == 6
    assert "I need a laptop for programming" in transcript[0].text
    timeline = browser.find_elements(By.CSS_SELECTOR, "[data-testid=timeline] > li")
    assert len(timeline) == 1
    assert "Distillation 1" in timeline[0].text
    assert "through message 6" in timeline[0].text
    assert "laptop" in timeline[0].find_element(By.CSS_SELECTOR, "dl.metadata").text.lower()
    screenshot("console-conversation")


def test_the_csv_downloads_with_every_lead(
    as_admin: WebDriver, wait: Wait, seeded: Seeded, download_dir: Path
) -> None:
    as_admin.find_element(By.CSS_SELECTOR, "a[data-page=leads]").click()
    wait(lambda b: visible(b, "#download-csv"))
    as_admin.find_element(By.ID, "download-csv").click()

    target = download_dir / "leads.csv"
    wait(lambda _: target.exists() and target.stat().st_size > 0)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert len(rows) == seeded.conversations
    assert {row["conversationId"] for row in rows} >= {seeded.distilled}
    assert sorted(row["saleStatus"] for row in rows).count("closed") == 2


def test_a_customer_cannot_open_the_console(
    browser: WebDriver, wait: Wait, server: Server, seeded: Seeded, screenshot: Shoot
) -> None:
    log_in(browser, wait, server.base_url, "/console", seeded.customer)

    wait(lambda b: visible(b, "#forbidden"))
    assert "403" in browser.find_element(By.ID, "forbidden").text
    assert browser.find_element(By.ID, "page").text == ""
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=conversations]")
    for page, table in (("leads", "leads"), ("products", "products"), ("webhooks", "deliveries")):
        browser.get(f"{server.base_url}/console#/{page}")
        wait(lambda b: visible(b, "#forbidden"))
        assert not browser.find_elements(By.CSS_SELECTOR, f"[data-testid={table}]"), page
    # The data behind the pages is refused by the API itself.
    token = token_of(server, seeded.customer)
    for path in (
        "/admin/analytics",
        "/admin/leads",
        f"/admin/conversations/{seeded.distilled}",
        "/admin/products",
        "/admin/webhooks/deliveries",
    ):
        response = httpx.get(
            f"{server.base_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code == 403, path
    screenshot("console-forbidden")
