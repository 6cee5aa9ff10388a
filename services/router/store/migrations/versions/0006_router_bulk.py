"""router bulk writes (issue #16): drop three indexes another index already covers

Each new conversation writes a conversation row and four SLA timers; every index on
those tables is one more B-tree insert per row. These three are the leading column
of a wider index that serves the same lookups:

- ``ix_conversations_contact_id`` — ``ix_conversations_contact_channel``
  (contact_id, channel, last_activity_at);
- ``ix_conversations_queue`` — ``ix_conversations_waiting`` (queue, assignee_id, status);
- ``ix_sla_timers_conversation_id`` — the unique ``uq_timer_cycle``
  (conversation_id, metric, kind, cycle).

Revision ID: 0006_router_bulk
Revises: 0005_privacy
Create Date: 2026-11-28 14:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0006_router_bulk"
down_revision = "0005_privacy"
branch_labels = None
depends_on = None

#: (index, table, columns) dropped here
COVERED = (
    ("ix_conversations_contact_id", "conversations", ["contact_id"]),
    ("ix_conversations_queue", "conversations", ["queue"]),
    ("ix_sla_timers_conversation_id", "sla_timers", ["conversation_id"]),
)


def upgrade() -> None:
    for name, table, _ in COVERED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in COVERED:
        op.create_index(name, table, columns, unique=False)
