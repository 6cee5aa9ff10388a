"""replies with delivery states, reply reports, latest reply path per conversation

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 08:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("reply_path", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("customer_last_inbound_at", sa.DateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "replies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("provider_message_id", sa.String(length=300), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_detail", sa.String(length=1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_replies_conversation_id", "replies", ["conversation_id"])
    op.create_index("ix_replies_provider_message_id", "replies", ["provider_message_id"])
    op.create_table(
        "reply_reports",
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("reply_id", sa.String(length=36), nullable=True),
        sa.Column("provider_message_id", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_detail", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_reply_reports_reply_id", "reply_reports", ["reply_id"])
    op.create_index(
        "ix_reply_reports_provider_message_id", "reply_reports", ["provider_message_id"]
    )


def downgrade() -> None:
    op.drop_table("reply_reports")
    op.drop_table("replies")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("customer_last_inbound_at")
        batch.drop_column("reply_path")
