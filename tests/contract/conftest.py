"""The persistence port's implementations, for the contract suite: every test runs on each."""

from __future__ import annotations

import pytest

from salesbot_core.ports import UnitOfWorkFactory
from salesbot_core.testing import InMemoryStore


@pytest.fixture(params=["memory", pytest.param("postgres", marks=pytest.mark.postgres)])
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryStore().uow_factory
    database = request.getfixturevalue("database")
    factory: UnitOfWorkFactory = database.unit_of_work
    return factory
