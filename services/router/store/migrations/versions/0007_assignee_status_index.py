"""router agents' loads (issue #16): index conversations by (assignee_id, status)

Every poll counts the agents' open conversations (``repositories._LOADS``: assignee
IN the agents, status IN the active ones). With an index on each column alone SQLite
planned the status index: it walked every open conversation of the desk — a backlog's
tens of thousands, once per poll — to count a few agents' handful. The composite
index bounds the lookup by both keys; it replaces ``ix_conversations_assignee_id``,
its leading column (the same number of B-tree inserts per row).

Revision ID: 0007_assignee_status_index
Revises: 0006_router_bulk
Create Date: 2026-11-28 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007_assignee_status_index"
down_revision = "0006_router_bulk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_conversations_assignee_status",
        "conversations",
        ["assignee_id", "status"],
        unique=False,
    )
    op.drop_index("ix_conversations_assignee_id", table_name="conversations")


def downgrade() -> None:
    op.create_index("ix_conversations_assignee_id", "conversations", ["assignee_id"], unique=False)
    op.drop_index("ix_conversations_assignee_status", table_name="conversations")
