"""End to end: the embedded start's demo catalogue. ``salesbot serve`` with nothing configured
imports the demo catalogue (the data file) into its empty catalogue; a second start on a
catalogue the shop has changed imports nothing and leaves the change as it is."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from salesbot_core.catalogue import CatalogueFormat, read_products
from salesbot_core.domain import Product
from salesbot_http.cli import demo_catalogue_lines
from tests.support.database import fresh_embedded_home
from tests.support.serve import serve_env, served

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

START_TIMEOUT_S = 90
CLI_TIMEOUT_S = 120


@pytest.fixture
def env() -> Iterator[dict[str, str]]:
    """Zero-setup defaults, on a data directory and an embedded home that outlive one start."""
    with fresh_embedded_home() as home, tempfile.TemporaryDirectory() as data:
        yield serve_env(
            SALESBOT_DATA_DIR=str(Path(data) / "data"),
            SALESBOT_EMBEDDED_HOME=str(home),
            SHUTDOWN_TIMEOUT_S="10",
        )


def _serve_once(env: Mapping[str, str]) -> str:
    """Start ``salesbot serve``, see it healthy, stop it; its log up to then (the catalogue is
    settled before the server answers)."""
    workdir = Path(tempfile.mkdtemp(prefix="salesbot-demo-"))
    with served(env, workdir, start_timeout_s=START_TIMEOUT_S) as running:
        assert httpx.get(f"{running.base_url}/health", timeout=30).status_code == 200
        log = running.output()
    assert running.process.returncode is not None
    return log


def _salesbot(env: Mapping[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-m", "salesbot_http.cli", *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _exported(env: Mapping[str, str]) -> list[Product]:
    text = _salesbot(env, "catalogue", "export")
    return list(read_products(iter(text.encode().splitlines(keepends=True)), CatalogueFormat.CSV))


def test_an_empty_embedded_start_imports_the_demo_catalogue_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    demo = list(read_products(demo_catalogue_lines(), CatalogueFormat.CSV))

    first_log = _serve_once(env)
    assert f"imported the demo catalogue ({len(demo)} products)" in first_log
    assert _exported(env) == sorted(demo, key=lambda p: p.sku)

    # The shop keeps one demo product, at another price, and drops the rest.
    kept = demo[0]
    edited = tmp_path / "edited.csv"
    edited.write_text(
        "sku,name,brand,category,description,price,currency,stock,url\n"
        f'{kept.sku},{kept.name},{kept.brand},{kept.category},"{kept.description}",'
        f"1.23,{kept.currency},{kept.stock},\n",
        encoding="utf-8",
    )
    _salesbot(env, "catalogue", "import", str(edited), "--replace")

    second_log = _serve_once(env)
    assert "imported the demo catalogue" not in second_log
    assert "the demo catalogue not imported" in second_log
    (after,) = _exported(env)
    assert (after.sku, str(after.price)) == (kept.sku, "1.23")
