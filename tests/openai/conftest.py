"""The real SDK over real HTTP against the fake OpenAI-compatible server, exchanges driven through
the core's ``SendMessage`` on the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from openai_support import TEST_KEY, TEST_MODEL, Chat, MakeAssistant

from salesbot_openai import HttpClient, OpenAIConfig, OpenAISalesAssistant
from salesbot_openai.testing import FakeOpenAIServer


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def server(fake_openai: FakeOpenAIServer) -> FakeOpenAIServer:
    """The shared fake server, with no requests, queues or defaults left by an earlier test."""
    fake_openai.reset()
    return fake_openai


@pytest.fixture(params=["aiohttp", "httpx"])
def http_client(request: pytest.FixtureRequest) -> HttpClient:
    """Every adapter test runs on both HTTP transports the SDK offers: their errors differ."""
    transport: HttpClient = request.param
    return transport


@pytest.fixture
async def make_assistant(
    server: FakeOpenAIServer, http_client: HttpClient
) -> AsyncIterator[MakeAssistant]:
    """Build adapters on the fake server (small timeouts so failures are quick); closes them."""
    made: list[OpenAISalesAssistant] = []

    def make(**overrides: Any) -> OpenAISalesAssistant:
        settings: dict[str, Any] = {
            "api_key": TEST_KEY,
            "base_url": server.base_url,
            "model": TEST_MODEL,
            "timeout_s": 2.0,
            "max_retries": 1,
            "deadline_s": 5.0,
            "http_client": http_client,
            **overrides,
        }
        assistant = OpenAISalesAssistant.from_config(OpenAIConfig(**settings))
        made.append(assistant)
        return assistant

    yield make
    for assistant in made:
        await assistant.aclose()


@pytest.fixture
def chat(make_assistant: MakeAssistant) -> Chat:
    return Chat(make_assistant())
