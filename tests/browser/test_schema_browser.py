"""The OpenAPI page at ``/schema``, in a real headless Chromium with no way to the internet:
Swagger UI comes from salesbot itself, so the page draws every route."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import Server, Wait

pytestmark = pytest.mark.browser


def test_the_api_page_draws_every_route_from_salesbots_own_files(
    browser: WebDriver, wait: Wait, server: Server
) -> None:
    document = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=30).json()
    operations = sum(
        method in {"get", "post", "put", "patch", "delete"}
        for methods in document["paths"].values()
        for method in methods
    )

    browser.get(f"{server.base_url}/schema")
    drawn = wait(
        lambda b: (
            found
            if len(found := b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) >= operations
            else None
        )
    )

    paths = {block.get_attribute("data-path") for block in drawn}
    assert paths == set(document["paths"])
    title = browser.find_element(By.CSS_SELECTOR, ".information-container .title").text
    assert title.startswith("salesbot")
