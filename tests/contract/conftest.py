"""The persistence port's implementations, for the contract suite: every test runs on each."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from salesbot_core.ports import SalesInsightReader, UnitOfWorkFactory
from salesbot_core.ports.catalogue import Catalogue
from salesbot_core.testing import InMemoryStore


@dataclass(frozen=True)
class Backend:
    uow: UnitOfWorkFactory
    insight: SalesInsightReader
    catalogue: Catalogue


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        store = InMemoryStore()
        return Backend(uow=store.uow_factory, insight=store.insight(), catalogue=store.catalogue())
    database = request.getfixturevalue("database")
    return Backend(
        uow=database.unit_of_work, insight=database.insight(), catalogue=database.catalogue()
    )


@pytest.fixture
def uow(backend: Backend) -> UnitOfWorkFactory:
    return backend.uow
