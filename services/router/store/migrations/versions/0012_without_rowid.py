"""router (issue #16): SQLite keeps contact_identities and message_ids WITHOUT ROWID

Both are narrow rows keyed by text: a contact's identity (kind, value) and a Message-ID
with its conversation. As rowid tables each row was written twice, in the table (by
its rowid) and in the primary key's index (``sqlite_autoindex_…``: the key and the
rowid); and the owners' lookup (``repositories._OWNERS``) found a key in that index and
then read the row from the table for its contact. WITHOUT ROWID the primary key's
b-tree is the table (https://www.sqlite.org/withoutrowid.html): a new customer writes
one b-tree fewer for its identity and one for each Message-ID, and the lookup reads the
contact from the key's own entry. ``ix_contact_identities_contact_id`` now holds the
contact and the key instead of the contact and a rowid. No query reads a rowid of
either table, and no table refers to them.

Callgrind, aiosqlite's thread (``bench.router_db_thread_callgrind``, polls of 400 and
200, two each, the difference / 400; base 244bdf8 and this change started together,
12:42 UTC): 260.1 → 258.7 K instructions an interaction. The interactions table too
(keyed by event id; its rows hold the message text): 262.6 K, so it keeps its rowid.

SQLite: each table is made again from its own CREATE TABLE (with or without ``WITHOUT
ROWID``), its rows copied, the old one dropped, the new one renamed, and its indexes
made again from their own CREATE INDEX, in the migration's transaction; the foreign
keys are the table's own, unchanged. The downgrade does the same the other way.
PostgreSQL has no rowid: nothing changes.

Revision ID: 0012_without_rowid
Revises: 0011_deferrable_foreign_keys
Create Date: 2026-12-02 13:00:00
"""

from __future__ import annotations

import re

from alembic import op

revision = "0012_without_rowid"
down_revision = "0011_deferrable_foreign_keys"
branch_labels = None
depends_on = None

#: tables rebuilt WITHOUT ROWID on SQLite (``models``: ``sqlite_with_rowid=False``)
TABLES = ("contact_identities", "message_ids")
#: the clause closing a WITHOUT ROWID table's CREATE TABLE
_WITHOUT_ROWID = re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.IGNORECASE)


def upgrade() -> None:
    for table in TABLES:
        _rebuild(table, rowid=False)


def downgrade() -> None:
    for table in TABLES:
        _rebuild(table, rowid=True)


def _rebuild(table: str, *, rowid: bool) -> None:
    """SQLite: ``table`` made again from its own CREATE TABLE, with or without its rowid,
    its rows copied and its indexes made again from their own CREATE INDEX (nothing else
    of the schema changes; no table refers to these). PostgreSQL has no rowid: nothing."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    [(sql,)] = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchall()
    indexes = [
        index_sql
        for (index_sql,) in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            " AND sql IS NOT NULL ORDER BY name",
            (table,),
        ).fetchall()
    ]
    body = sql[sql.index("(") :].rstrip()
    body = _WITHOUT_ROWID.sub(")", body)
    if not rowid:
        body += " WITHOUT ROWID"
    rebuilt = f"{table}__rebuilt"
    op.execute(f'CREATE TABLE "{rebuilt}" {body}')
    op.execute(f'INSERT INTO "{rebuilt}" SELECT * FROM "{table}"')  # noqa: S608 (own tables)
    op.execute(f'DROP TABLE "{table}"')
    op.execute(f'ALTER TABLE "{rebuilt}" RENAME TO "{table}"')
    for index_sql in indexes:
        op.execute(index_sql)
