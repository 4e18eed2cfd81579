"""products name key

Each product keeps the key its name is compared by (``products.name_key``: the core's
``grounding.name_key``, case, accents and spaces aside), written by the adapter with the name,
and ``Catalogue.named`` finds products by it (index ix_products_name_key, replacing 0008's
index on lower(name)), so a name the LLM wrote without the catalogue's accent still finds its
product. The key is a Python rule, so the rows already stored get theirs here from the same
function, computed in Python a batch at a time. The function is imported, not written out:
keys must be the ones the adapter writes, and a change to the rule needs a revision that keys
the stored products again, as this one does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from salesbot_core.grounding import name_key

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Products keyed per round trip: 100,000 take 20 reads and 20 updates.
BATCH = 5000

_FIRST = sa.text("SELECT sku, name FROM products ORDER BY sku LIMIT :batch")
_NEXT = sa.text("SELECT sku, name FROM products WHERE sku > :after ORDER BY sku LIMIT :batch")
_KEYED = sa.text(
    """
    UPDATE products AS p SET name_key = k.name_key
    FROM unnest(CAST(:skus AS text[]), CAST(:keys AS text[])) AS k(sku, name_key)
    WHERE p.sku = k.sku
    """
)


def _key_stored_products() -> None:
    """Every stored product gets its name's key, read and written ``BATCH`` rows at a time in
    sku order (the primary key), so no statement holds the whole catalogue."""
    connection = op.get_bind()
    rows = connection.execute(_FIRST, {"batch": BATCH}).all()
    while rows:
        connection.execute(
            _KEYED, {"skus": [r.sku for r in rows], "keys": [name_key(r.name) for r in rows]}
        )
        rows = connection.execute(_NEXT, {"after": rows[-1].sku, "batch": BATCH}).all()


def upgrade() -> None:
    op.add_column("products", sa.Column("name_key", sa.Text(), nullable=True))
    _key_stored_products()
    op.alter_column("products", "name_key", existing_type=sa.Text(), nullable=False)
    op.drop_index("ix_products_lower_name", table_name="products")
    op.create_index("ix_products_name_key", "products", ["name_key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_products_name_key", table_name="products")
    op.create_index("ix_products_lower_name", "products", [sa.text("lower(name)")])
    op.drop_column("products", "name_key")
