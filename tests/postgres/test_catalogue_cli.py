"""``salesbot catalogue import/export`` as real processes on this session's database: counts,
--replace, the demo catalogue, a bad file (one line naming the line, exit 2, nothing imported),
and an export that imports back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from salesbot_core.catalogue import CatalogueFormat, read_products
from salesbot_http.cli import demo_catalogue_lines
from salesbot_postgres import Database

pytestmark = pytest.mark.postgres

HEADER = "sku,name,brand,category,description,price,currency,stock,url\n"
ROWS = (
    "LT-1,Swift Go 14,Acer,Laptops,Portátil ligero,799.00,USD,5,\n"
    "LT-2,MacBook Air 13,Apple,Laptops,Light laptop,1099.00,USD,12,\n"
)


def salesbot(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "JWT_SECRET": "cli-access-secret-" + "a" * 40,
        "JWT_REFRESH_SECRET": "cli-refresh-secret-" + "b" * 40,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-m", "salesbot_http.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _skus(database: Database) -> dict[str, str]:
    async with database.unit_of_work() as uow:
        return {p.sku: f"{p.price}" async for p in uow.products.every()}


async def test_import_prints_counts_and_replace_removes(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    first_file = tmp_path / "shop.csv"
    first_file.write_text(HEADER + ROWS, encoding="utf-8")
    second_file = tmp_path / "shop.jsonl"
    second_file.write_text(
        '{"sku":"LT-2","name":"MacBook Air 13","brand":"Apple","category":"Laptops",'
        '"description":"d","price":999,"currency":"USD","stock":1}\n',
        encoding="utf-8",
    )
    first = salesbot(database_url, "catalogue", "import", str(first_file))
    second = salesbot(database_url, "catalogue", "import", str(second_file), "--replace")
    assert (first.returncode, first.stdout.strip()) == (0, "2 created, 0 updated"), first.stderr
    assert (second.returncode, second.stdout.strip()) == (0, "0 created, 1 updated, 1 removed")
    assert await _skus(database) == {"LT-2": "999.00"}


async def test_a_bad_file_exits_2_with_one_line_and_imports_nothing(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + ROWS + "LT-3,Zenbook,ASUS,Laptops,d,12.345,USD,1,\n", "utf-8")
    done = salesbot(database_url, "catalogue", "import", str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert "line 4: price" in line
    assert "Traceback" not in done.stderr
    assert await _skus(database) == {}


async def test_the_demo_catalogue_imports_and_an_export_round_trips(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    demo = list(read_products(demo_catalogue_lines(), CatalogueFormat.CSV))
    imported = salesbot(database_url, "catalogue", "import", "--demo")
    exported = {
        file_format: salesbot(database_url, "catalogue", "export", "--format", file_format.value)
        for file_format in CatalogueFormat
    }
    assert imported.stdout.strip() == f"{len(demo)} created, 0 updated", imported.stderr
    assert 25 <= len(demo) <= 40
    assert any(not p.in_stock for p in demo)
    for file_format, done in exported.items():
        assert done.returncode == 0, done.stderr
        back = list(read_products(done.stdout.encode().splitlines(keepends=True), file_format))
        assert sorted(back, key=lambda p: p.sku) == sorted(demo, key=lambda p: p.sku)
    path = tmp_path / "export.jsonl"
    path.write_text(exported[CatalogueFormat.JSONL].stdout, encoding="utf-8")
    again = salesbot(database_url, "catalogue", "import", str(path), "--replace")
    assert again.stdout.strip() == f"0 created, {len(demo)} updated, 0 removed"


def test_import_needs_a_path_or_demo(database_url: str) -> None:
    done = salesbot(database_url, "catalogue", "import")
    assert done.returncode == 2
    assert "PATH or --demo" in done.stderr
