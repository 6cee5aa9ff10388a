"""the assistant's hold on a conversation: status, answers, last article, quiet check

Revision ID: 0004_assistant
Revises: 0002
Create Date: 2026-11-28 09:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_assistant"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("assistant_status", sa.String(length=20), nullable=True))
        batch.add_column(
            sa.Column("assistant_answers", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("assistant_article_id", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("assistant_question", sa.Text(), nullable=True))
        batch.add_column(sa.Column("assistant_outcome", sa.String(length=60), nullable=True))
        batch.add_column(
            sa.Column("assistant_quiet_check_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_index("ix_conversations_assistant_status", "conversations", ["assistant_status"])
    op.create_index(
        "ix_conversations_assistant_quiet_check_at", "conversations", ["assistant_quiet_check_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversations_assistant_quiet_check_at", "conversations")
    op.drop_index("ix_conversations_assistant_status", "conversations")
    with op.batch_alter_table("conversations") as batch:
        for column in (
            "assistant_quiet_check_at",
            "assistant_outcome",
            "assistant_question",
            "assistant_article_id",
            "assistant_answers",
            "assistant_status",
        ):
            batch.drop_column(column)
