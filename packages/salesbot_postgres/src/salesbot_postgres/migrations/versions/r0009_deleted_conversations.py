"""deleted conversations

The id of every deleted conversation and when it went, written by the deletion itself, so
``salesbot db check`` can tell an outbox event of a conversation deleted since from an event
whose change never committed. Conversations named by an event but gone before this revision
are recorded as deleted now (nothing else is known of them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deleted_conversations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deleted_conversations")),
    )
    op.execute(
        """
        INSERT INTO deleted_conversations (id)
        SELECT DISTINCT (e.data->'conversation'->>'id')::uuid
        FROM webhook_events AS e
        WHERE NOT EXISTS (
            SELECT FROM conversations AS c WHERE c.id::text = e.data->'conversation'->>'id')
        """
    )


def downgrade() -> None:
    op.drop_table("deleted_conversations")
