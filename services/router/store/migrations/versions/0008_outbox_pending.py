"""router outbox (issue #16): "unsent" is a narrow queue table, not a column of the row

The relay marked each published row ``sent_at = now``: an UPDATE that rewrote the
~1.5 KB row (SQLite rewrites a whole record; on PostgreSQL a new tuple version, and an
index entry in every index since ``sent_at`` is indexed) and moved its
``ix_outbox_unsent`` entry. The router writes ~2.2 outbox rows per interaction, so a
100,000 backlog rewrote ~220,000 of them. Now:

- ``outbox_pending(id)``: the ids of the unsent rows, inserted in the transaction that
  inserts the rows, so the queue holds exactly the committed, unpublished rows,
  including rows committed late below ids already published (PostgreSQL sequences
  commit out of order across transactions and replicas, so no high-water mark can say
  what is unsent). On PostgreSQL a statement trigger over the transition table does it
  (whoever inserts: executemany, COPY, SQL by hand); on SQLite the bulk insert's hop
  (``bulk.SQLITE_QUEUES``: a row trigger made SQLite keep a statement journal for every
  row, ~15 µs per routed interaction). Publishing deletes the entries; the table stays
  small.
- ``outbox_sent_marks(sent_at, last_id)``: at most one row a minute, how far the relay
  had published when; retention's "published more than ``ROUTER_OUTBOX_KEEP_HOURS``
  ago" reads it (``sent_at`` per row is gone).
- ``outbox.sent_at`` and ``ix_outbox_unsent`` are dropped (one B-tree insert less per
  outbox row).

Existing unsent rows are carried into ``outbox_pending``; the published ones get marks
from their ``sent_at`` (the latest id per minute) so retention deletes them on time.
The downgrade sets ``sent_at`` of the published rows from the marks (or now).

Revision ID: 0008_outbox_pending
Revises: 0007_assignee_status_index
Create Date: 2026-11-29 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_outbox_pending"
down_revision = "0007_assignee_status_index"
branch_labels = None
depends_on = None

#: PostgreSQL: one statement per INSERT or COPY over its transition table (a row-level
#: PL/pgSQL trigger would run an INSERT per row; the unit of work COPYs a poll's rows)
POSTGRES_FUNCTION = """
CREATE FUNCTION outbox_pending_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox_pending (id) SELECT id FROM inserted;
    RETURN NULL;
END
$$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER outbox_pending_insert AFTER INSERT ON outbox
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION outbox_pending_insert()
"""


#: the published rows' marks: the latest (sent_at, id) of each minute they were sent in
_MARKS = (
    "INSERT INTO outbox_sent_marks (sent_at, last_id)"
    " SELECT max(sent_at), max(id) FROM outbox WHERE sent_at IS NOT NULL"
    " GROUP BY {minute} ORDER BY 1"
)
POSTGRES_MARKS = _MARKS.format(minute="date_trunc('minute', sent_at)")
SQLITE_MARKS = _MARKS.format(minute="strftime('%Y-%m-%d %H:%M', sent_at)")


def _postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "outbox_pending",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outbox_sent_marks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute("INSERT INTO outbox_pending (id) SELECT id FROM outbox WHERE sent_at IS NULL")
    op.execute(POSTGRES_MARKS if _postgres() else SQLITE_MARKS)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent")
        batch_op.drop_column("sent_at")
    if _postgres():
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)


def downgrade() -> None:
    if _postgres():
        op.execute("DROP TRIGGER IF EXISTS outbox_pending_insert ON outbox")
        op.execute("DROP FUNCTION IF EXISTS outbox_pending_insert()")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_unsent", ["sent_at", "id"], unique=False)
    # published: every row not pending; sent at the first mark covering it, else now
    op.execute(
        "UPDATE outbox SET sent_at = coalesce("
        "(SELECT min(m.sent_at) FROM outbox_sent_marks m WHERE m.last_id >= outbox.id),"
        " CURRENT_TIMESTAMP)"
        " WHERE id NOT IN (SELECT id FROM outbox_pending)"
    )
    op.drop_table("outbox_sent_marks")
    op.drop_table("outbox_pending")
