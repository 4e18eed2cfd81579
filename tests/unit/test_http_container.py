"""The composition root picks adapters from settings and builds nothing until asked."""

from __future__ import annotations

import os
import threading

import pytest

from salesbot_core.offline import OfflineSalesAssistant
from salesbot_http.container import build_container, hash_threads
from salesbot_http.passwords import BcryptPasswordHasher
from salesbot_http.settings import Settings
from salesbot_http.tokens import JwtAccessTokens
from salesbot_openai import OpenAISalesAssistant
from salesbot_postgres import Database

SECRET = "s" * 40


def test_without_an_openai_key_the_offline_assistant_answers() -> None:
    container = build_container(Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET))

    assert isinstance(container.assistants.assistant(), OfflineSalesAssistant)


def test_security_adapters_follow_the_settings() -> None:
    container = build_container(
        Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET, bcrypt_rounds=5, hash_threads=1)
    )
    try:
        hasher = container.security.password_hasher()
        assert isinstance(hasher, BcryptPasswordHasher)
        assert hasher._rounds == 5
        assert isinstance(container.security.token_issuer(), JwtAccessTokens)
    finally:
        container.shutdown_resources()


def test_use_cases_are_built_once_per_container() -> None:
    settings = Settings(
        jwt_secret=SECRET, jwt_refresh_secret=SECRET, database_url="postgresql://x@db/shop"
    )
    container = build_container(settings)
    other = build_container(settings)

    assert container.usecases.login() is container.usecases.login()
    assert container.usecases.login() is not other.usecases.login()


async def test_with_an_openai_key_the_openai_assistant_answers_and_is_closed_at_shutdown() -> None:
    settings = Settings(
        jwt_secret=SECRET,
        jwt_refresh_secret=SECRET,
        openai_api_key="sk-test",
        openai_base_url="http://localhost:11434/v1",
        openai_model="llama3.1",
        openai_timeout_s=60.0,
        openai_metadata_format="json_object",
        openai_http_client="httpx",
    )
    container = build_container(settings)

    assistant = container.assistants.assistant()

    assert isinstance(assistant, OpenAISalesAssistant)
    config = assistant.config
    assert (config.api_key, config.base_url, config.model) == (
        "sk-test",
        "http://localhost:11434/v1",
        "llama3.1",
    )
    assert config.timeout_s == 60.0
    assert config.metadata_format == "json_object"
    assert config.http_client == "httpx"
    assert not assistant._client.is_closed()
    await container.shutdown().run()
    assert assistant._client.is_closed()


async def test_persistence_is_postgresql_configured_from_settings() -> None:
    settings = Settings(
        jwt_secret=SECRET,
        jwt_refresh_secret=SECRET,
        database_url="postgresql://app:secret@db.example:5432/shop",
        db_pool_size=3,
        db_statement_timeout_ms=1500,
        health_timeout_s=1.5,
    )
    container = build_container(settings)

    database = container.persistence.database()  # connects to nothing yet

    assert isinstance(database, Database)
    assert database.config.url == settings.database_url
    assert database.config.pool_size == 3
    assert database.config.statement_timeout_ms == 1500
    assert database.config.ping_timeout_s == 1.5
    assert container.persistence.uow_factory() == database.unit_of_work
    await container.shutdown().run()  # disposes of the (empty) pool


def test_without_a_database_url_the_container_says_how_to_get_one() -> None:
    container = build_container(Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET))
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        container.persistence.uow_factory()


@pytest.mark.parametrize("asked", [19, 7])
def test_bcrypt_threads_run_at_the_configured_cpu_priority(asked: int) -> None:
    """Logins hashing on every core must not starve the event loop of CPU."""

    def own_nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before = own_nice()
    nice = max(asked, before)  # an unprivileged thread can only lower its priority
    generator = hash_threads(2, nice)
    executor = next(generator)
    try:
        seen = {executor.submit(own_nice).result() for _ in range(4)}
    finally:
        generator.close()
    assert seen == {nice}
    assert own_nice() == before  # the calling thread keeps its priority


async def test_replies_are_grounded_with_the_catalogue_bounds_from_the_settings() -> None:
    from dependency_injector import providers

    from salesbot_core.testing import InMemoryCatalogue, InMemoryStore
    from salesbot_core.usecases.grounding import PickProducts
    from tests.support.shop import SHOP

    container = build_container(
        Settings(
            jwt_secret=SECRET,
            jwt_refresh_secret=SECRET,
            catalogue_prompt_products=2,
            catalogue_prompt_chars=5000,
        )
    )
    container.persistence.catalogue.override(InMemoryCatalogue(SHOP))
    container.persistence.uow_factory.override(providers.Object(InMemoryStore().uow_factory))
    pick = container.usecases.pick_products()
    assert isinstance(pick, PickProducts)
    assert container.usecases.send_message()._pick_products is pick
    grounding = await pick("a laptop")
    assert len(grounding.products) == 2
