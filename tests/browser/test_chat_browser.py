"""The chat to try, in a real headless Chromium against ``salesbot serve`` with the offline
assistant: register, talk with the reply streaming in, the conversation listed beside it, and
a message with markup shown as the text it is."""

from __future__ import annotations

import httpx
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import (
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


def _register_in_the_page(browser: WebDriver, wait: Wait, server: Server, email: str) -> Account:
    browser.get(server.base_url)
    wait(lambda b: visible(b, "#register-name"))
    account = Account(email=email, name="Sam Tester")
    browser.find_element(By.ID, "register-name").send_keys(account.name)
    browser.find_element(By.ID, "register-email").send_keys(account.email)
    browser.find_element(By.ID, "register-password").send_keys(account.password)
    browser.find_element(By.CSS_SELECTOR, "#register-form button[type=submit]").click()
    wait(lambda b: visible(b, "#message"))
    return account


def _say(browser: WebDriver, wait: Wait, text: str) -> None:
    before = len(browser.find_elements(By.CSS_SELECTOR, "li.message.bot[data-done]"))
    box = browser.find_element(By.ID, "message")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)
    wait(lambda b: len(b.find_elements(By.CSS_SELECTOR, "li.message.bot[data-done]")) > before)


def test_the_reply_streams_in_and_the_conversation_is_listed(
    browser: WebDriver, wait: Wait, server: Server, screenshot: Shoot
) -> None:
    account = _register_in_the_page(browser, wait, server, "sam.stream@shop.example")

    _say(browser, wait, "Hi, I am looking for a laptop for programming")

    reply = browser.find_elements(By.CSS_SELECTOR, "li.message.bot[data-done]")[-1]
    # The page showed the reply piece by piece, as the SSE route sent it.
    assert int(reply.get_attribute("data-pieces") or "0") > 1
    shown = reply.find_element(By.TAG_NAME, "p").text
    listed = wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#conversation-list button"))
    assert len(listed) == 1
    title = browser.find_element(By.ID, "talk-title").text
    assert listed[0].text == title
    # What the page shows is what was stored.
    token = token_of(server, account)
    conversation = listed[0].get_attribute("data-id")
    history = httpx.get(
        f"{server.base_url}/chat/conversations/{conversation}/history",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["data"]
    assert history["title"] == title
    assert [m["content"] for m in history["messages"]][-1].strip() == shown.strip()
    assert history["messages"][-1]["id"] == reply.get_attribute("data-message-id")

    _say(browser, wait, "Mainly web development")
    assert len(browser.find_elements(By.CSS_SELECTOR, "li.message")) == 4
    screenshot("chat")

    # A new conversation, then back to the first from the list.
    browser.find_element(By.ID, "new-conversation").click()
    _say(browser, wait, "Do you sell phones?")
    wait(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#conversation-list button")) == 2)
    browser.find_element(
        By.CSS_SELECTOR, f"#conversation-list button[data-id='{conversation}']"
    ).click()
    wait(lambda b: b.find_element(By.ID, "talk-title").text == title)
    wait(lambda b: len(b.find_elements(By.CSS_SELECTOR, "li.message")) == 4)
    assert policy_violations(browser) == []


def test_markup_in_a_message_shows_as_text(browser: WebDriver, wait: Wait, server: Server) -> None:
    _register_in_the_page(browser, wait, server, "sam.markup@shop.example")
    hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

    _say(browser, wait, hostile)

    mine = browser.find_elements(By.CSS_SELECTOR, "li.message.user p")[0]
    assert mine.text == hostile
    assert browser.execute_script("return window.__pwned === undefined") is True
    assert not browser.find_elements(By.CSS_SELECTOR, "#messages script, #messages img")
    # Read back from the server (the list, the history), it is still text.
    browser.refresh()
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "#conversation-list button"))
    browser.find_element(By.CSS_SELECTOR, "#conversation-list button").click()
    wait(lambda b: b.find_elements(By.CSS_SELECTOR, "li.message.user p"))
    assert browser.find_elements(By.CSS_SELECTOR, "li.message.user p")[0].text == hostile
    assert browser.execute_script("return window.__pwned === undefined") is True
    assert not browser.find_elements(By.CSS_SELECTOR, "#messages script, #messages img")


def test_a_wrong_password_is_said_and_nothing_is_kept(
    browser: WebDriver, wait: Wait, server: Server
) -> None:
    account = register(server, "sam.wrong@shop.example", "Sam Wrong")
    log_in(
        browser,
        wait,
        server.base_url,
        "/",
        Account(email=account.email, name="x", password="not the one"),
    )
    wait(lambda b: b.find_element(By.ID, "auth-error").text != "")
    assert "Invalid email or password" in browser.find_element(By.ID, "auth-error").text
    assert browser.execute_script("return sessionStorage.length") == 0
    assert not visible(browser, "#message")


def test_the_chat_fits_a_phone(
    browser: WebDriver, wait: Wait, server: Server, screenshot: Shoot
) -> None:
    browser.set_window_size(390, 844)
    _register_in_the_page(browser, wait, server, "sam.phone@shop.example")
    _say(browser, wait, "I need a phone with a good camera")

    # Nothing wider than the screen: no sideways scrolling.
    assert browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth"
    )
    composer = browser.find_element(By.ID, "message")
    assert composer.rect["x"] >= 0
    assert composer.rect["x"] + composer.rect["width"] <= 390
    screenshot("chat-phone")
