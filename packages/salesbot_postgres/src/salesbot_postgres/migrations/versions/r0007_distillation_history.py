"""distillation history

Each applied distillation is kept (the metadata it left, the last message it covered, its
tokens), written in the unit of work that applies it, so staff can follow a conversation's
metadata as it changed. Conversations distilled before this revision have no history.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "distillations",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("conversation_id", sa.Uuid(), nullable=False),
        sa.Column("distilled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("through_seq", sa.Integer(), nullable=False),
        sa.Column("covered_messages", sa.Integer(), nullable=False),
        sa.Column("metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_distillations_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_distillations")),
    )
    op.create_index(
        "ix_distillations_conversation_id_through_seq",
        "distillations",
        ["conversation_id", "through_seq"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_distillations_conversation_id_through_seq", table_name="distillations")
    op.drop_table("distillations")
