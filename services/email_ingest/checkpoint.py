"""Durable progress per mailbox folder: (UIDVALIDITY, highest UID done).

A SQLite file in the state directory. Beside the per-folder checkpoint we
keep the keys of everything already published (event id) or quarantined
(raw sha256) per mailbox: when a server resets UIDVALIDITY every message
gets a new UID, and this set is what keeps a resync from republishing the
whole folder. Recording a message and advancing the checkpoint happen in
one transaction, after Kafka acknowledged.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

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


@dataclass(frozen=True, slots=True)
class Checkpoint:
    uidvalidity: int
    last_uid: int


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
    ) -> None:
        """Remember the message and advance the checkpoint past it, atomically.

        A message seen again (same key, e.g. after a UIDVALIDITY change) gets
        its new location, so a pending post-action acts on the right UID.
        """
        now = _now()
        await self._transaction(
            [
                (
                    "INSERT INTO handled_message VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                    ),
                ),
                (
                    "UPDATE folder_checkpoint SET last_uid=MAX(last_uid, ?), updated_at=? "
                    "WHERE mailbox=? AND folder=? AND uidvalidity=?",
                    (uid, now, mailbox, folder, uidvalidity),
                ),
            ]
        )

    async def pending_post_actions(
        self, mailbox: str, folder: str, uidvalidity: int
    ) -> list[PendingPostAction]:
        rows = await self._run(
            "SELECT uid, message_key, outcome FROM handled_message WHERE mailbox=? AND folder=? "
            "AND uidvalidity=? AND post_action_pending=1 ORDER BY uid",
            (mailbox, folder, uidvalidity),
        )
        return [PendingPostAction(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def post_action_done(self, mailbox: str, message_key: str) -> None:
        await self._run(
            "UPDATE handled_message SET post_action_pending=0 WHERE mailbox=? AND message_key=?",
            (mailbox, message_key),
        )

    async def _run(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        async with self._lock:
            return await asyncio.to_thread(self._execute, sql, params)

    async def _transaction(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._execute_many, statements)

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._db().execute(sql, params).fetchall()

    def _execute_many(self, statements: list[tuple[str, tuple[object, ...]]]) -> None:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("checkpoint store is not open")
        return self._connection


def _now() -> str:
    return datetime.now(UTC).isoformat()
