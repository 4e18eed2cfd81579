"""The ASGI entry point granian loads in each worker."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar

from salesbot_http import asgi

SECRET = "s" * 40


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Leave the suite's own process as it was: nothing frozen."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_a_worker_builds_the_app_from_the_environment_and_freezes_what_it_built(
    unfrozen: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the working tree
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("JWT_REFRESH_SECRET", SECRET)
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none")
    monkeypatch.setattr(asgi, "configure_logging", lambda level: None)  # the suite's logging stays
    assert gc.get_freeze_count() == 0

    served = asgi.app()

    assert isinstance(served, Litestar)
    # The app is among the objects the collector no longer walks: frozen after it was built.
    assert gc.get_freeze_count() > 0
    assert not any(served is tracked for tracked in gc.get_objects())
