"""privacy (issue #18): contact tombstones, retention marker, attachments, append-only audit trail

Revision ID: 0005_privacy
Revises: 0002
Create Date: 2026-11-28 09:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_privacy"
down_revision = "0004_assistant"  # after the assistant columns (parallel branches, re-chained)
branch_labels = None
depends_on = None

#: Refuses UPDATE and DELETE on audit_log: the trail is append-only by the
#: database's own rule, not only because no code path writes one.
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""
_PG_TRIGGER = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""
_SQLITE_TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log"
    " BEGIN SELECT RAISE(ABORT, 'audit_log is append-only (DELETE refused)'); END",
)


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("tombstone_id", sa.String(length=60), nullable=True))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_contacts_tombstone_id", ["tombstone_id"])
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("text_purged_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "erased_contacts",
        sa.Column("contact_id", sa.String(length=36), nullable=False),
        sa.Column("tombstone_id", sa.String(length=60), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contact_id"),
    )
    op.create_index("ix_erased_contacts_tombstone_id", "erased_contacts", ["tombstone_id"])
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("inline", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachments_conversation_id", "attachments", ["conversation_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=120), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "id"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_conversation", "audit_log", ["conversation_id"])
    op.create_index("ix_audit_log_contact", "audit_log", ["contact_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(_PG_TRIGGER)
    else:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table("audit_log")
    op.drop_table("erased_contacts")
    op.drop_table("attachments")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("text_purged_at")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_index("ix_contacts_tombstone_id")
        batch.drop_column("erased_at")
        batch.drop_column("tombstone_id")
