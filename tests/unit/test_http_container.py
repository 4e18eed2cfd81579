"""The composition root picks adapters from settings and builds nothing until asked."""

from __future__ import annotations

from salesbot_core.offline import OfflineSalesAssistant
from salesbot_http.container import build_container
from salesbot_http.passwords import BcryptPasswordHasher
from salesbot_http.settings import Settings
from salesbot_http.tokens import JwtAccessTokens
from salesbot_openai import OpenAISalesAssistant

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
    container = build_container(Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET))
    other = build_container(Settings(jwt_secret=SECRET, jwt_refresh_secret=SECRET))

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
    assert not assistant._client.is_closed()
    await container.shutdown().run()
    assert assistant._client.is_closed()
