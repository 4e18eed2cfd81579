"""paging, search, sessions and sales insight

Context-size counters, the derived sale status, and the indexes the new queries use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 08:32:01.323687
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "conversations",
        sa.Column("history_chars", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "conversations",
        sa.Column("context_chars", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "conversations",
        sa.Column(
            "full_history_chars", sa.BigInteger(), server_default=sa.text("0"), nullable=False
        ),
    )
    op.add_column(
        "conversations",
        sa.Column(
            "sale_status",
            sa.String(length=16),
            sa.Computed("COALESCE(metadata ->> 'saleStatus', 'exploring')", persisted=True),
            nullable=False,
        ),
    )
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"], unique=False)
    op.create_index(
        "ix_conversations_sale_status_updated_at",
        "conversations",
        ["sale_status", "updated_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_conversations_title_search",
        "conversations",
        [sa.literal_column("to_tsvector('simple'::regconfig, title)")],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_conversations_updated_at", "conversations", ["updated_at", "id"], unique=False
    )
    op.create_index(
        "ix_messages_content_search",
        "messages",
        [sa.literal_column("to_tsvector('simple'::regconfig, content)")],
        unique=False,
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_index("ix_messages_content_search", table_name="messages", postgresql_using="gin")
    op.drop_index("ix_conversations_updated_at", table_name="conversations")
    op.drop_index(
        "ix_conversations_title_search", table_name="conversations", postgresql_using="gin"
    )
    op.drop_index("ix_conversations_sale_status_updated_at", table_name="conversations")
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_column("conversations", "sale_status")
    op.drop_column("conversations", "full_history_chars")
    op.drop_column("conversations", "context_chars")
    op.drop_column("conversations", "history_chars")
