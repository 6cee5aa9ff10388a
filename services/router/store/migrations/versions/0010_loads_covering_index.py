"""router agents' loads (issue #16): the (assignee_id, status) index also holds the channel

Every poll counts the agents' open conversations per channel (``repositories._LOADS``).
With ``ix_conversations_assignee_status`` SQLite found them by the index, then read each
one's row from the table for its channel and grouped them in a temporary B-tree. That is
one table read per open conversation of the agents, every poll: in the backlog bench
(agents of unbounded capacity: every conversation stays open and assigned, 100,000 by
the end) its cost grows with the store the whole run. With the
channel in the index the count is read from the index alone (covering), and grouped
by (assignee, status, channel), the index's own order, needs no temporary B-tree (the
statuses are summed in Python). CPU a lookup on a migrated SQLite store with N open
conversations of 6 agents (median of 4 interleaved runs, load 13-18 on the slow VM;
``python -m bench.agent_loads``): N = 20,000 35.7 → 4.6 ms, 50,000 117.8 →
13.3 ms, 100,000 219.7 → 20.1 ms. Over a backlog of 100,000 (~250 polls of 400 while
the store grows to 100,000 conversations) that is ~29 → ~3 CPU-s of the SQLite thread
on this VM. The covering index alone with the old grouping: 80 ms at 100,000 (the temp
B-tree); (assignee, channel, status): 31 ms, and it loses the status seek of
``active_for_agent``. Same leading columns as the index it replaces, so every other
reader of it is served as before.

Whole polls of 500 (``bench.store_growth --sizes 100000 --snapshot``, a store grown to
~108,000 conversations with the default roster given unbounded capacity and online, as
the backlog bench's agents are; interleaved, 4 runs before / 3 after, load 7-14): the
database thread 254-290 → 111-121 CPU-ms a poll, the whole process 488-621 → 378-397
CPU-ms (a poll on a fresh store of 3,000 conversations: 363 and 78).

On PostgreSQL the index is rebuilt in the migration's transaction (writes to the table
wait for it: seconds for a few hundred thousand conversations).

Revision ID: 0010_loads_covering_index
Revises: 0009_partial_indexes
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_loads_covering_index"
down_revision = "0009_partial_indexes"
branch_labels = None
depends_on = None

BEFORE = ("ix_conversations_assignee_status", ["assignee_id", "status"])
AFTER = ("ix_conversations_assignee_status_channel", ["assignee_id", "status", "channel"])


def upgrade() -> None:
    op.create_index(AFTER[0], "conversations", AFTER[1], unique=False)
    op.drop_index(BEFORE[0], table_name="conversations")


def downgrade() -> None:
    op.create_index(BEFORE[0], "conversations", BEFORE[1], unique=False)
    op.drop_index(AFTER[0], table_name="conversations")
