"""products by name

An index on lower(name), so the analytics and the leads find the products their offered and
rejected names are (``Catalogue.named``) without reading the whole catalogue.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_products_lower_name", "products", [sa.text("lower(name)")])


def downgrade() -> None:
    op.drop_index("ix_products_lower_name", table_name="products")
