"""The API suite: the real app from ``create_app`` through Litestar's async test client.

Everything is real (PostgreSQL, bcrypt at cost 4, JWT, routing, envelope) except what the
container's overrides swap: the unit of work and the insight reader (to the test session's
database, see the ``uow_factory`` and ``insight`` fixtures), the assistant (scripted) and the
clock (moved by hand).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from salesbot_core.ports import SalesInsightReader, UnitOfWorkFactory
from salesbot_core.ports.catalogue import Catalogue
from salesbot_core.testing import FakeClock, ScriptedAssistant
from salesbot_http.app import create_app
from salesbot_http.container import Container, build_container
from salesbot_http.lifecycle import ShutdownSteps
from salesbot_http.settings import Settings
from salesbot_postgres import Database
from tests.api.api_helpers import PASSWORD, Customer

Client = AsyncTestClient[Litestar]


@pytest.fixture
def settings() -> Settings:
    return Settings(
        database_url="postgresql://unused@localhost/unused",
        jwt_secret="test-access-secret-" + "a" * 64,
        jwt_refresh_secret="test-refresh-secret-of-at-least-32-bytes",
        bcrypt_rounds=4,
        hash_threads=2,
        health_timeout_s=0.5,
    )


@pytest.fixture
def app_database(database: Database) -> Database | None:
    """The ``Database`` the app's persistence runs on, if any: the app closes the connections
    it opened when it stops (a psycopg pool belongs to the event loop that opened it, and the
    test client serves the app in a loop of its own)."""
    return database


@pytest.fixture
def uow_factory(database: Database) -> UnitOfWorkFactory:
    """The persistence backend under test, the one place to switch it: PostgreSQL (the
    ``database`` fixture of ``tests/support/database.py``: this session's migrated database,
    emptied before each test). ``InMemoryStore().uow_factory`` runs the suite without it."""
    return database.unit_of_work


@pytest.fixture
def insight(database: Database) -> SalesInsightReader:
    """The sales insight reader over the same backend (``InMemoryStore().insight()`` with it)."""
    return database.insight()


@pytest.fixture
def catalogue(database: Database) -> Catalogue:
    """The shop's catalogue over the same backend (``InMemoryStore().catalogue()`` with it)."""
    return database.catalogue()


@pytest.fixture
def assistant() -> ScriptedAssistant:
    return ScriptedAssistant()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class _DisposingAtEveryShutdown(ShutdownSteps):
    def __init__(self, database: Database) -> None:
        super().__init__()
        self._database = database

    async def run(self) -> None:
        await super().run()
        await self._database.dispose()


@pytest.fixture
def container(
    settings: Settings,
    uow_factory: UnitOfWorkFactory,
    insight: SalesInsightReader,
    catalogue: Catalogue,
    assistant: ScriptedAssistant,
    clock: FakeClock,
    app_database: Database | None,
) -> Container:
    container = build_container(settings)
    if app_database is not None:
        # Every lifespan of an app on this container (some tests run two) closes the session
        # database's pool of its loop: a psycopg pool left open keeps its loop from ending.
        container.shutdown.override(providers.Object(_DisposingAtEveryShutdown(app_database)))
    container.persistence.uow_factory.override(providers.Object(uow_factory))
    container.persistence.insight.override(providers.Object(insight))
    container.persistence.catalogue.override(providers.Object(catalogue))
    container.assistants.assistant.override(providers.Object(assistant))
    container.clock.override(providers.Object(clock))
    return container


@pytest.fixture
async def client(container: Container) -> AsyncIterator[Client]:
    async with AsyncTestClient(app=create_app(container)) as test_client:
        yield test_client


Settle = Callable[[], Awaitable[None]]


@pytest.fixture
def settle(container: Container, client: Client) -> Settle:
    """Wait for the app's background distillations (generously bounded; none may be cut).
    They run on the app's own event loop, in the test client's portal thread."""

    async def settle() -> None:
        drain = container.usecases.distillations().drain
        cut_short = await asyncio.to_thread(client.blocking_portal.call, drain, 60)
        assert cut_short == 0

    return settle


SignUp = Callable[..., Awaitable[Customer]]


@pytest.fixture
def sign_up(client: Client) -> SignUp:
    """Register and log in a customer."""
    counter = 0

    async def sign_up(
        email: str | None = None, password: str = PASSWORD, name: str = "Jane Doe"
    ) -> Customer:
        nonlocal counter
        counter += 1
        address = email or f"customer{counter}@example.com"
        registered = await client.post(
            "/users/register", json={"email": address, "password": password, "name": name}
        )
        assert registered.status_code == 201, registered.text
        logged_in = await client.post("/auth/login", json={"email": address, "password": password})
        assert logged_in.status_code == 200, logged_in.text
        data = logged_in.json()["data"]
        return Customer(
            id=data["user"]["id"],
            email=address,
            password=password,
            access_token=data["accessToken"],
            refresh_token=data["refreshToken"],
        )

    return sign_up


@pytest.fixture
async def customer(sign_up: SignUp) -> Customer:
    return await sign_up()
