"""Durable progress per mailbox folder: (UIDVALIDITY, highest UID done).

A SQLite file in the state directory. Beside the per-folder checkpoint we
keep the keys of everything already published (event id) or quarantined
(raw sha256) per mailbox: when a server resets UIDVALIDITY every message
gets a new UID, and this set is what keeps a resync from republishing the
whole folder. Recording a message and advancing the checkpoint happen in
one transaction, after Kafka acknowledged.

For erasure and retention (issue #18) the same transaction records which
blobs a mail left in the blob store (``mail_blob``) and, for quarantined mail,
what operators need to replay it (``quarantined_mail``); rows carry the keyed
hash of the customer's address (``sender_hash``) so an erasure request finds
them without re-reading any mail. Their SQL lives in ``erasure``,
``retention`` and ``quarantine``, run through :meth:`CheckpointStore.transact`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

_SCHEMA = """
CREATE TABLE IF NOT EXISTS folder_checkpoint (
    mailbox TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    last_uid INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (mailbox, folder)
);
CREATE TABLE IF NOT EXISTS handled_message (
    mailbox TEXT NOT NULL,
    message_key TEXT NOT NULL,
    folder TEXT NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    post_action_pending INTEGER NOT NULL,
    handled_at TEXT NOT NULL,
    fingerprint TEXT,
    PRIMARY KEY (mailbox, message_key)
);
CREATE INDEX IF NOT EXISTS handled_message_pending
    ON handled_message (mailbox, folder, uidvalidity) WHERE post_action_pending = 1;
"""

#: Schema steps by PRAGMA user_version; a file of an older version is brought up
#: to date on open (existing rows keep sender_hash NULL: see docs/privacy.md).
_MIGRATIONS: tuple[str, ...] = (
    """
    ALTER TABLE handled_message ADD COLUMN sender_hash TEXT;
    CREATE INDEX IF NOT EXISTS handled_message_sender ON handled_message (sender_hash);
    CREATE INDEX IF NOT EXISTS handled_message_age ON handled_message (handled_at);
    CREATE TABLE IF NOT EXISTS mail_blob (
        mailbox TEXT NOT NULL,
        message_key TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        role TEXT NOT NULL,
        sender_hash TEXT,
        stored_at TEXT NOT NULL,
        PRIMARY KEY (mailbox, message_key, sha256)
    );
    CREATE INDEX IF NOT EXISTS mail_blob_sha256 ON mail_blob (sha256);
    CREATE INDEX IF NOT EXISTS mail_blob_sender ON mail_blob (sender_hash);
    CREATE TABLE IF NOT EXISTS quarantined_mail (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        mailbox TEXT NOT NULL,
        folder TEXT NOT NULL,
        uidvalidity INTEGER NOT NULL,
        uid INTEGER NOT NULL,
        raw_sha256 TEXT NOT NULL,
        reason TEXT NOT NULL,
        detail TEXT NOT NULL,
        size INTEGER NOT NULL,
        quarantined_at TEXT NOT NULL,
        sender_hash TEXT,
        replayed_event_id TEXT,
        replayed_at TEXT,
        UNIQUE (mailbox, raw_sha256)
    );
    CREATE INDEX IF NOT EXISTS quarantined_mail_sender ON quarantined_mail (sender_hash);
    """,
)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True, slots=True)
class NewQuarantine:
    """A mail quarantined just now, as operators will list and replay it."""

    raw_sha256: str
    reason: str
    detail: str
    size: int


@dataclass(frozen=True, slots=True)
class PendingPostAction:
    """A message already handled whose flag/move/delete did not happen yet."""

    uid: int
    message_key: str
    outcome: str


class CheckpointStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # a checkpoint must survive power loss
        connection.executescript(_SCHEMA)
        _migrate(connection)
        self._connection = connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def load(self, mailbox: str, folder: str) -> Checkpoint | None:
        row = await self._run(
            "SELECT uidvalidity, last_uid FROM folder_checkpoint WHERE mailbox=? AND folder=?",
            (mailbox, folder),
        )
        return Checkpoint(*row[0]) if row else None

    async def reset(self, mailbox: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        """Start (or restart after a UIDVALIDITY change) a folder's checkpoint."""
        await self._run(
            "INSERT INTO folder_checkpoint VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (mailbox, folder) DO UPDATE SET uidvalidity=excluded.uidvalidity, "
            "last_uid=excluded.last_uid, updated_at=excluded.updated_at",
            (mailbox, folder, uidvalidity, last_uid, _now()),
        )

    async def advance(self, mailbox: str, folder: str, uidvalidity: int, uid: int) -> None:
        await self._run(
            "UPDATE folder_checkpoint SET last_uid=MAX(last_uid, ?), updated_at=? "
            "WHERE mailbox=? AND folder=? AND uidvalidity=?",
            (uid, _now(), mailbox, folder, uidvalidity),
        )

    async def handled(self, mailbox: str, message_key: str) -> bool:
        rows = await self._run(
            "SELECT 1 FROM handled_message WHERE mailbox=? AND message_key=?",
            (mailbox, message_key),
        )
        return bool(rows)

    async def fingerprint_of(self, mailbox: str, message_key: str) -> str | None:
        """The content fingerprint recorded with a handled message ("" if none)."""
        rows = await self._run(
            "SELECT fingerprint FROM handled_message WHERE mailbox=? AND message_key=?",
            (mailbox, message_key),
        )
        return None if not rows else str(rows[0][0] or "")

    async def record(
        self,
        *,
        mailbox: str,
        folder: str,
        uidvalidity: int,
        uid: int,
        message_key: str,
        outcome: str,
        post_action_pending: bool,
        fingerprint: str | None = None,
        sender_hash: str | None = None,
        blobs: Sequence[tuple[str, str]] = (),
        quarantine: NewQuarantine | None = None,
    ) -> None:
        """Remember the message and advance the checkpoint past it, atomically.

        A message seen again (same key, e.g. after a UIDVALIDITY change) gets
        its new location, so a pending post-action acts on the right UID; its
        other columns stay (an erased row stays erased). ``blobs`` are the
        (sha256, role) pairs the mail wrote to the blob store.
        """
        now = _now()
        statements: list[tuple[str, tuple[object, ...]]] = [
            (
                "INSERT INTO handled_message (mailbox, message_key, folder, uidvalidity, uid,"
                " outcome, post_action_pending, handled_at, fingerprint, sender_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (mailbox, message_key) DO UPDATE SET folder=excluded.folder, "
                "uidvalidity=excluded.uidvalidity, uid=excluded.uid, "
                "post_action_pending=excluded.post_action_pending",
                (
                    mailbox,
                    message_key,
                    folder,
                    uidvalidity,
                    uid,
                    outcome,
                    int(post_action_pending),
                    now,
                    fingerprint,
                    sender_hash,
                ),
            ),
            (
                "UPDATE folder_checkpoint SET last_uid=MAX(last_uid, ?), updated_at=? "
                "WHERE mailbox=? AND folder=? AND uidvalidity=?",
                (uid, now, mailbox, folder, uidvalidity),
            ),
        ]
        statements.extend(
            (
                "INSERT INTO mail_blob VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (mailbox, message_key, sha256, role, sender_hash, now),
            )
            for sha256, role in blobs
        )
        if quarantine is not None:
            statements.append(
                (
                    "INSERT INTO quarantined_mail (mailbox, folder, uidvalidity, uid, raw_sha256,"
                    " reason, detail, size, quarantined_at, sender_hash)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        mailbox,
                        folder,
                        uidvalidity,
                        uid,
                        quarantine.raw_sha256,
                        quarantine.reason,
                        quarantine.detail,
                        quarantine.size,
                        now,
                        sender_hash,
                    ),
                )
            )
        await self._transaction(statements)

    async def pending_post_actions(
        self, mailbox: str, folder: str, uidvalidity: int
    ) -> list[PendingPostAction]:
        rows = await self._run(
            "SELECT uid, message_key, outcome FROM handled_message WHERE mailbox=? AND folder=? "
            "AND uidvalidity=? AND post_action_pending=1 ORDER BY uid",
            (mailbox, folder, uidvalidity),
        )
        return [PendingPostAction(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def post_actions_done(self, mailbox: str, message_keys: Sequence[str]) -> None:
        """Post-actions done, in one transaction."""
        await self._transaction(
            [
                (
                    "UPDATE handled_message SET post_action_pending=0"
                    " WHERE mailbox=? AND message_key=?",
                    (mailbox, key),
                )
                for key in message_keys
            ]
        )

    async def transact(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one write transaction, off the loop; it commits unless
        ``work`` raises (then nothing of it happened)."""
        async with self._lock:
            return await asyncio.to_thread(self._in_transaction, work)

    async def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return await self._run(sql, params)

    def _in_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        async with self._lock:
            return await asyncio.to_thread(self._execute, sql, params)

    async def _transaction(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._execute_many, statements)

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._db().execute(sql, params).fetchall()

    def _execute_many(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        def run_all(db: sqlite3.Connection) -> None:
            for sql, params in statements:
                db.execute(sql, params)

        self._in_transaction(run_all)

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("checkpoint store is not open")
        return self._connection


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _migrate(connection: sqlite3.Connection) -> None:
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
        # executescript commits first; one step and its version bump go together.
        connection.executescript(
            f"BEGIN IMMEDIATE;\n{script}\nPRAGMA user_version={number};\nCOMMIT;"
        )
