"""router (issue #16): index only the rows that have a value in mostly-empty columns, and
no conversation's last activity

Every new row writes an entry into every index of its table, NULL keys included
(SQLite and PostgreSQL B-trees both keep them). These five columns are empty in
nearly every row the router inserts, and every query that reads them by index asks
for a value (``=``, ``<=``, ``IN``/``= ANY``, ``IS NOT NULL``), never for NULL:

- ``conversations.call_group_key``: phone calls only (routing's candidates);
- ``conversations.thread_key``: chats only (routing's candidates);
- ``conversations.assistant_status``: conversations the assistant was offered (the
  quiet check, the assistant report);
- ``conversations.assistant_quiet_check_at``: the assistant awaiting feedback (the
  quiet check);
- ``contacts.tombstone_id``: erased contacts (read by no query today; kept partial so
  that an erased contact can be found by its tombstone cheaply).

Each becomes a partial index ``WHERE column IS NOT NULL`` under the same name: a new
conversation writes 3-4 index entries fewer, a new contact one fewer, and each index
holds only the rows it can answer for. Both stores use a partial index when the query
implies its condition (a comparison, ``IN`` or ``= ANY`` on the column does: it is never
true for NULL); ``tests/integration/router/test_partial_indexes.py`` holds each reader's
plan to its index on both stores (on PostgreSQL the generic plan of the prepared
statement, which asyncpg's statement cache may run).

Measured on a SQLite store of ~109,000 conversations, polls of 500 (the database
thread's CPU per table, interleaved with the previous schema, load ~3.8): conversations
4.60-4.80 → 4.27-4.51 ms a poll, contacts 0.77-0.82 → 0.64-0.69 ms; WAL frames a poll
1,031 → 1,007 (``bench.store_growth --snapshot``).

And ``ix_conversations_contact_channel`` loses its third column, ``last_activity_at``:
a repeat customer's message changes only that and columns no index holds
(``customer_last_inbound_at``, ``last_message_id``, ``references``), yet moved the
conversation's entry in this index (SQLite), and made the row's new version a non-HOT
one with an entry in every index of the table (PostgreSQL). Its readers bound their
reads by (contact, channel) as before and filter or sort a contact's few conversations
by time: routing's recent candidates (``last_activity_at >= since``), the contacts'
latest assignees and previous agent (ordered by it). PostgreSQL, polls of 500 on a new
store (server CPU of all its processes, interleaved, load ~5-6): 48.3 → 43.3 ms a
poll, the two conversation UPDATEs 9.0-10.6 → 4.1-4.8 ms; SQLite at ~109,000
conversations: WAL frames 1,008 → 986 a poll.

On PostgreSQL the indexes are rebuilt in the migration's transaction (writes to the
table wait for it: seconds for a few hundred thousand conversations).

Revision ID: 0009_partial_indexes
Revises: 0008_outbox_pending
Create Date: 2026-11-29 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_partial_indexes"
down_revision = "0008_outbox_pending"
branch_labels = None
depends_on = None

#: (index, table, column) made partial here
PARTIAL = (
    ("ix_conversations_call_group_key", "conversations", "call_group_key"),
    ("ix_conversations_thread_key", "conversations", "thread_key"),
    ("ix_conversations_assistant_status", "conversations", "assistant_status"),
    ("ix_conversations_assistant_quiet_check_at", "conversations", "assistant_quiet_check_at"),
    ("ix_contacts_tombstone_id", "contacts", "tombstone_id"),
)


#: (index, table, columns before, columns after) narrowed here
NARROWED = (
    (
        "ix_conversations_contact_channel",
        "conversations",
        ["contact_id", "channel", "last_activity_at"],
        ["contact_id", "channel"],
    ),
)


def upgrade() -> None:
    for name, table, column in PARTIAL:
        op.drop_index(name, table_name=table)
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)
    for name, table, _, after in NARROWED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after, unique=False)


def downgrade() -> None:
    for name, table, column in PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], unique=False)
    for name, table, before, _ in NARROWED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before, unique=False)
