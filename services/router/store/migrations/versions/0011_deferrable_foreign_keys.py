"""router (issue #16): foreign keys DEFERRABLE INITIALLY IMMEDIATE on PostgreSQL

A routed poll on PostgreSQL sends its append-only rows (contacts, identities, message
ids, interaction records, SLA timers, outbox rows) while it is still deciding the rest
of the poll (``UnitOfWork.send_ahead``): the server writes them on its own core while
the router's loop decides, where the whole poll's rows went at the commit and the loop
slept through the server's writing (~27 ms of a 70 ms poll of 400). Those rows point at
conversations the poll opens, which are inserted at the commit (a conversation may still
change until the poll is decided). A routing transaction therefore says ``SET CONSTRAINTS
ALL DEFERRED``: every foreign key is still checked, at its COMMIT, and a violation fails
the whole poll as before. ``INITIALLY IMMEDIATE`` keeps every other transaction as it
was (checked statement by statement).

SQLite is unchanged: its foreign keys already behave as ``DEFERRABLE INITIALLY
IMMEDIATE`` would, and its router does not send ahead (its database thread needs the
GIL for every statement: it would wait out the busy loop, measured slower).

The constraints are found by reflection, whatever their names. ``ALTER CONSTRAINT`` of
a foreign key's deferrability changes the catalog only: no table is scanned or
rewritten, whatever the store's size.

Revision ID: 0011_deferrable_foreign_keys
Revises: 0010_loads_covering_index
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_deferrable_foreign_keys"
down_revision = "0010_loads_covering_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _alter_foreign_keys("DEFERRABLE INITIALLY IMMEDIATE")


def downgrade() -> None:
    _alter_foreign_keys("NOT DEFERRABLE")


def _alter_foreign_keys(mode: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    inspector = sa.inspect(bind)
    preparer = bind.dialect.identifier_preparer
    for table in inspector.get_table_names():
        for key in inspector.get_foreign_keys(table):
            op.execute(
                f"ALTER TABLE {preparer.quote(table)} "
                f"ALTER CONSTRAINT {preparer.quote(key['name'])} {mode}"
            )
