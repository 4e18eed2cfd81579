"""distillation lease

``conversations.distilling_until``: the lease a distillation takes, compare-and-set, before its
LLM call, so that at most one distillation per conversation runs across every instance.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("distilling_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("conversations", "distilling_until")
