"""The browser suite: a real ``salesbot serve`` (offline assistant, a database of its own) and
Debian's headless Chromium driven by Selenium through the system chromedriver.

Marked ``browser`` and left out of the default run (``uv run pytest``); run it with
``uv run pytest -m browser``. With ``SALESBOT_SCREENSHOT_DIR`` set, tests that show a page save
a screenshot of it there (the README's come from ``docs/screenshots``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.database import migrated_database
from tests.support.serve import TEST_SECRETS, serve_env, served

START_TIMEOUT_S = 90
# Generous: the machine is shared; every wait ends as soon as its condition holds.
WAIT_S = 30
PASSWORD = "correct horse battery"
CHROMIUM = os.environ.get("SALESBOT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SALESBOT_CHROMEDRIVER", "/usr/bin/chromedriver")


@dataclass(frozen=True)
class Server:
    base_url: str
    database_url: str
    env: dict[str, str]

    def cli(self, *args: str) -> str:
        """Run ``salesbot`` against the server's database (as an operator would)."""
        done = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "salesbot_http.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Settings a module adds to its server's environment (none by default)."""
    return {}


# One server and database per module, so each module knows exactly what is stored.
@pytest.fixture(scope="module")
def server(postgres_server_url: str, server_env: dict[str, str]) -> Iterator[Server]:
    with migrated_database(postgres_server_url, prefix="salesbot_browser_") as url:
        env = serve_env(**TEST_SECRETS, DATABASE_URL=url, **server_env)
        workdir = Path(tempfile.mkdtemp(prefix="salesbot-browser-"))
        with served(env, workdir, start_timeout_s=START_TIMEOUT_S) as running:
            yield Server(base_url=running.base_url, database_url=url, env=env)


@dataclass(frozen=True)
class Account:
    email: str
    name: str
    password: str = PASSWORD


def register(server: Server, email: str, name: str) -> Account:
    response = httpx.post(
        f"{server.base_url}/users/register",
        json={"email": email, "password": PASSWORD, "name": name},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return Account(email=email, name=name)


def token_of(server: Server, account: Account) -> str:
    response = httpx.post(
        f"{server.base_url}/auth/login",
        json={"email": account.email, "password": account.password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["accessToken"]
    return token


@pytest.fixture
def download_dir(tmp_path: Path) -> Path:
    path = tmp_path / "downloads"
    path.mkdir()
    return path


@pytest.fixture
def browser(download_dir: Path) -> Iterator[WebDriver]:
    if not Path(CHROMIUM).exists() or not Path(CHROMEDRIVER).exists():
        pytest.fail(
            f"the browser suite needs Debian's chromium and chromium-driver ({CHROMIUM}, "
            f"{CHROMEDRIVER}): apt-get install -y chromium chromium-driver"
        )
    profile = tempfile.mkdtemp(prefix="salesbot-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        # No way out: anything a page asked of another host would fail (the loopback, where
        # the server under test listens, is never proxied), so a page that works here works
        # offline.
        "--proxy-server=http://127.0.0.1:9",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(download_dir),
            "download.prompt_for_download": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd(
            "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(download_dir)}
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


Wait = Callable[[Callable[[WebDriver], Any]], Any]


@pytest.fixture
def wait(browser: WebDriver) -> Wait:
    def until(condition: Callable[[WebDriver], Any]) -> Any:
        # A page drawn again replaces its elements: one found just before is stale, not an error.
        return WebDriverWait(
            browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)

    return until


def visible(browser: WebDriver, css: str) -> WebElement | bool:
    found = browser.find_elements(By.CSS_SELECTOR, css)
    return found[0] if found and found[0].is_displayed() else False


Shoot = Callable[[str], None]


@pytest.fixture
def screenshot(browser: WebDriver) -> Shoot:
    directory = os.environ.get("SALESBOT_SCREENSHOT_DIR")

    def shoot(name: str) -> None:
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(Path(directory) / f"{name}.png"))

    return shoot


def log_in(browser: WebDriver, wait: Wait, base_url: str, path: str, account: Account) -> None:
    browser.get(f"{base_url}{path}")
    wait(lambda b: visible(b, "#login-email"))
    browser.find_element(By.ID, "login-email").send_keys(account.email)
    browser.find_element(By.ID, "login-password").send_keys(account.password)
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()


def policy_violations(browser: WebDriver) -> list[str]:
    """Console messages of Content-Security-Policy refusals: none is expected."""
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]
