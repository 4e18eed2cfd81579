"""The shipped migrations and the models agree, and they go down and up again."""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, pool

from salesbot_core.errors import DatabaseUnavailable
from salesbot_core.grounding import name_key
from salesbot_postgres import migrations, sqlalchemy_url
from salesbot_postgres.schema import Base
from tests.support.database import create_database, drop_database

pytestmark = pytest.mark.postgres

TABLES = {
    "users",
    "refresh_tokens",
    "conversations",
    "messages",
    "webhook_events",
    "webhook_deliveries",
    "products",
    "distillations",
    "deleted_conversations",
}
TYPES = {"user_role", "message_sender"}
VERSIONS = Path(migrations.__file__).parent / "versions"


def _schema(url: str) -> tuple[set[str], set[str]]:
    with psycopg.connect(url, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
        types = connection.execute(
            "SELECT typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname = 'public' AND t.typtype = 'e'"
        ).fetchall()
    return {t[0] for t in tables}, {t[0] for t in types}


def test_autogenerate_finds_no_difference_from_the_models(database_url: str) -> None:
    engine = create_engine(sqlalchemy_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_a_new_revision_against_an_up_to_date_database_is_empty(
    database_url: str, tmp_path: Path
) -> None:
    written = migrations.revision(database_url, "nothing to do", version_path=tmp_path)
    assert written.parent == tmp_path
    assert written.name.startswith(f"r{int(migrations.head()) + 1:04d}_")
    script = written.read_text()
    assert f'down_revision: str | Sequence[str] | None = "{migrations.head()}"' in script
    body = script.split("def upgrade() -> None:", 1)[1].split("def downgrade", 1)[0]
    statements = [line.strip() for line in body.splitlines() if line.strip()]
    assert [s for s in statements if not s.startswith("#")] == ["pass"]
    assert "op." not in script
    # The script is as lint-clean and formatted as the rest of the project.
    for check in (["check", "--quiet"], ["format", "--check", "--quiet"]):
        done = subprocess.run(  # noqa: S603
            [shutil.which("ruff") or "ruff", *check, str(written)], capture_output=True, check=False
        )
        assert done.returncode == 0, done.stdout


def test_downgrade_to_base_and_upgrade_again(postgres_server_url: str) -> None:
    name, url = create_database(postgres_server_url, prefix="salesbot_m_")
    try:
        assert migrations.current(url) is None
        migrations.upgrade(url)
        assert migrations.current(url) == migrations.head()
        assert _schema(url) == (TABLES | {"alembic_version"}, TYPES)

        migrations.downgrade(url, "base")
        assert migrations.current(url) is None
        assert _schema(url) == ({"alembic_version"}, set())

        migrations.upgrade(url, "head")
        assert migrations.current(url) == migrations.head()
        assert _schema(url)[0] == TABLES | {"alembic_version"}
    finally:
        drop_database(postgres_server_url, name)


def _revision_module(revision: str) -> ModuleType:
    (path,) = VERSIONS.glob(f"r{revision}_*.py")
    spec = importlib.util.spec_from_file_location(f"revision_{revision}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_products_stored_before_0010_get_their_names_key(postgres_server_url: str) -> None:
    """Upgrading keys every stored product by the core's ``name_key`` (more products than one
    of the migration's batches); downgrading takes the key away and brings 0008's index back."""
    stored = _revision_module("0010").BATCH + 2
    name, url = create_database(postgres_server_url, prefix="salesbot_m_")
    try:
        migrations.upgrade(url, "0009")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "INSERT INTO products (sku, name, brand, category, description, price,"
                " currency, stock)"
                " SELECT 'P-' || lpad(n::text, 6, '0'),"
                " CASE WHEN n %% 2 = 0 THEN 'Portátil  PRO ' || n ELSE 'Año ' || n END,"
                " 'Acme', 'laptop', '', 1, 'USD', 1 FROM generate_series(1, %s) AS n",
                (stored,),
            )
        migrations.upgrade(url, "0010")
        with psycopg.connect(url, autocommit=True) as connection:
            keyed = connection.execute("SELECT sku, name, name_key FROM products").fetchall()
            nullable = connection.execute(
                "SELECT is_nullable FROM information_schema.columns"
                " WHERE table_name = 'products' AND column_name = 'name_key'"
            ).fetchone()
            indexes = _product_indexes(connection)
        assert len(keyed) == stored
        assert [(n, k) for _, n, k in keyed if k != name_key(n)] == []
        by_sku = {sku: key for sku, _, key in keyed}
        assert (by_sku["P-000002"], by_sku[f"P-{stored - 1:06d}"]) == (
            "portatil pro 2",
            f"año {stored - 1}",
        )
        assert nullable == ("NO",)
        assert "ix_products_name_key" in indexes
        assert "ix_products_lower_name" not in indexes

        migrations.downgrade(url, "0009")
        with psycopg.connect(url, autocommit=True) as connection:
            columns = connection.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'products'"
            ).fetchall()
            indexes = _product_indexes(connection)
            (count,) = connection.execute("SELECT count(*) FROM products").fetchone() or (0,)
        assert ("name_key",) not in columns
        assert "ix_products_lower_name" in indexes
        assert "ix_products_name_key" not in indexes
        assert count == stored
    finally:
        drop_database(postgres_server_url, name)


def _product_indexes(connection: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    rows = connection.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'products'")
    return {str(row[0]) for row in rows.fetchall()}


@pytest.mark.slow
def test_concurrent_upgrades_of_a_fresh_database_take_turns(postgres_server_url: str) -> None:
    """Several server processes starting at once all migrate the same fresh database."""
    name, url = create_database(postgres_server_url, prefix="salesbot_m_")
    code = "import sys; from salesbot_postgres import migrations; migrations.upgrade(sys.argv[1])"
    try:
        starters = [
            subprocess.Popen(  # noqa: S603 - our own interpreter and code
                [sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        for starter in starters:
            _, errors = starter.communicate(timeout=60)
            assert starter.returncode == 0, errors
        assert migrations.current(url) == migrations.head()
        # In-process callers (threads) are serialised too.
        failures: list[BaseException] = []

        def upgrade_in_thread() -> None:
            try:
                migrations.upgrade(url)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=upgrade_in_thread) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert failures == []
        assert migrations.current(url) == migrations.head()
    finally:
        drop_database(postgres_server_url, name)


def test_history_names_every_revision() -> None:
    lines = migrations.history()
    # Newest first, each revision following the one before it.
    assert lines[-1].startswith("<base> -> 0001")
    assert "initial schema" in lines[-1]
    assert lines[0].split(",")[0].endswith(f" -> {migrations.head()} (head)")
    # A number left free for a branch's revision is allowed: the chain is what must hold.
    chain = [line.split(",")[0].removesuffix(" (head)").split(" -> ") for line in lines]
    for (down, _), (_, up) in itertools.pairwise(chain):
        assert down == up, lines
    assert len(lines) == len(list(VERSIONS.glob("r[0-9][0-9][0-9][0-9]_*.py")))


def test_an_unreachable_database_is_unavailable() -> None:
    with pytest.raises(DatabaseUnavailable):
        migrations.current("postgresql://postgres@127.0.0.1:1/nowhere")
    with pytest.raises(DatabaseUnavailable):
        migrations.upgrade("postgresql://postgres@127.0.0.1:1/nowhere")
