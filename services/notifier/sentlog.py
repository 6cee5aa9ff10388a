"""The sent-log: one row per (event id, recipient, template), unique.

Crash-window choice — *claim before send, confirm after*:

1. ``claim`` inserts the row as ``sending`` (the primary key makes a second
   insert fail) or takes over a row in ``retry``/``failed``, or a ``sending``
   row whose claim is older than the lease (its sender died).
2. The mail or webhook goes out.
3. ``mark_sent`` records ``sent`` with the Message-ID / delivery id.

A redelivered event finds ``sent``/``suppressed`` and sends nothing. The only
window left is a crash between the server's "250 OK" and step 3: after the
lease the row is taken over and the mail is sent again — with the *same*
deterministic Message-ID (webhooks: the same delivery id), so receivers that
dedupe by it collapse it. We prefer that rare, recognisable duplicate to the
alternative (insert after send), whose crash window silently loses the mail.

The rate window is durable too: ``notifier_rate_slot`` holds, per customer
address, the event whose automatic reply last used the slot. Taking it is
one conditional UPDATE, so two replicas cannot both take it.

Works on SQLite (aiosqlite, the default) and PostgreSQL (asyncpg). Tables
are created at start (``create_all``); they are the notifier's own.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import aiosqlite
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Update,
    and_,
    bindparam,
    event,
    func,
    inspect,
    literal_column,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind, InvalidIdentifier
from libs.common.records import tuple_constructor
from libs.common.sqlite_thread import in_thread
from services.notifier.prepared import QMARK_VALUES, Prepared
from services.notifier.statement_shapes import insert_chunks, padded_size

log = logging.getLogger(__name__)

T = TypeVar("T")

metadata = MetaData()

sent_log = Table(
    "notifier_sent_log",
    metadata,
    Column("event_id", String(200), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("template", String(100), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("conversation_id", String(200), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("locale", String(16)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("message_id", String(300)),
    Column("reason", Text),
    Column("claimed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Keyed hash of the recipient (PRIVACY_HASH_KEY; issue #18): erasure matches on it.
    Column("recipient_hash", String(64), index=True),
    PrimaryKeyConstraint("event_id", "recipient", "template", name="pk_notifier_sent_log"),
)

rate_slot = Table(
    "notifier_rate_slot",
    metadata,
    Column("sender", String(320), primary_key=True),
    Column("event_id", String(200), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)


webchat_outbox = Table(
    "notifier_webchat_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("integration", String(64), nullable=False),
    Column("visitor", String(200), nullable=False),
    Column("idempotency_key", String(200), nullable=False, unique=True),
    Column("purpose", String(20), nullable=False),
    Column("body", Text, nullable=False),  # JSON: text, quick_replies, locale
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class Status(StrEnum):
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"


FINAL = (Status.SENT.value, Status.SUPPRESSED.value)


class ClaimResult(StrEnum):
    CLAIMED = "claimed"  # go and send
    DONE = "done"  # already sent or suppressed: send nothing
    BUSY = "busy"  # another sender holds a fresh claim


# The sent-log's values are NamedTuples, not frozen dataclasses: a poll makes several
# per notice and hashes each key ~8 times (dict and set lookups of the claim, the
# group commit and the outcomes); a tuple is built and hashed in C, a frozen dataclass
# sets each field through ``object.__setattr__`` and hashes in Python.


class SendKey(NamedTuple):
    event_id: str
    recipient: str
    template: str


class SendInfo(NamedTuple):
    event_type: str
    conversation_id: str
    channel: str
    locale: str | None


class SentRecord(NamedTuple):
    status: Status
    attempts: int
    message_id: str | None
    reason: str | None
    locale: str | None
    claimed_at: datetime | None
    updated_at: datetime


class Claim(NamedTuple):
    result: ClaimResult
    record: SentRecord


class Finish(NamedTuple):
    """The final state of one claimed notice, written with the others of its batch."""

    key: SendKey
    status: Status
    at: datetime  # when the other side answered: the row's updated_at
    message_id: str | None = None
    reason: str | None = None


#: a key from its three values (one tuple) without SendKey's Python __new__ (records.py):
#: one a notice inserted
_new_send_key = tuple_constructor(SendKey)


class SentLog:
    def __init__(
        self, url: str, *, lease_s: float = 120.0, hasher: IdentifierHasher | None = None
    ) -> None:
        self._url = url
        self._lease = timedelta(seconds=lease_s)
        self._engine: AsyncEngine | None = None
        self._sql: _Statements | None = None
        self.hasher = hasher
        # Agents and our own addresses recur in every poll: each recipient's keyed hash
        # (normalise + HMAC-SHA256, ~5 µs) is computed once while it recurs.
        self._hashes: dict[str, str | None] = {}
        # SQLite: the rowid of each row claim_many inserted, until finish_many records it
        # (an UPDATE by rowid walks the table's B-tree only, not the key's index too).
        self._rowids: dict[SendKey, int] = {}
        #: SQLite: the connection of the one-trip transactions (see _sqlite_transaction).
        self._poll_db: aiosqlite.Connection | None = None
        #: SQLite: the same database on the event loop's own thread, for the small
        #: transactions of a small poll (see _sqlite_transaction); never waits for a lock.
        self._inline_db: sqlite3.Connection | None = None
        #: Transactions committed inline since the last checkpoint (see _inline_pragmas).
        self._inline_commits = 0

    async def open(self) -> None:
        self._engine = _engine(self._url)
        self._sql = _Statements(self._engine.dialect)
        async with self._engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.run_sync(_add_recipient_hash)
        if self.hasher is not None:
            await self.backfill_hashes()
        database = make_url(self._url).database
        if self._sql.sqlite and database and database != ":memory:":
            self._poll_db = await aiosqlite.connect(database, timeout=30, check_same_thread=False)
            await in_thread(self._poll_db, _sqlite_pragmas_of)
            self._inline_db = sqlite3.connect(database, timeout=0)
            _inline_pragmas(self._inline_db)

    async def backfill_hashes(self, *, batch: int = 1000) -> int:
        """Hash the recipients of rows written before the hash column (or the key) existed."""
        hasher = self.hasher
        if hasher is None:
            return 0
        done = 0
        seen: set[str] = set()  # recipients that hash to nothing (not an identifier)
        while True:
            async with self._db.begin() as conn:
                recipients = list(
                    await conn.scalars(
                        select(sent_log.c.recipient)
                        .where(
                            sent_log.c.recipient_hash.is_(None),
                            sent_log.c.recipient.not_in(seen) if seen else text("1=1"),
                        )
                        .distinct()
                        .limit(batch)
                    )
                )
                if not recipients:
                    return done
                for recipient in recipients:
                    digest = recipient_hash(hasher, recipient)
                    if digest is None:
                        seen.add(recipient)
                        continue
                    result = await conn.execute(
                        update(sent_log)
                        .where(sent_log.c.recipient == recipient)
                        .values(recipient_hash=digest)
                    )
                    done += result.rowcount

    async def close(self) -> None:
        if self._inline_db is not None:
            inline_db, self._inline_db = self._inline_db, None
            inline_db.close()
        if self._poll_db is not None:
            poll_db, self._poll_db = self._poll_db, None
            await poll_db.close()
        if self._engine is not None:
            engine, self._engine = self._engine, None
            self._sql = None
            await engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        """For the notifier's own other tables (the web-chat outbox) in the same database."""
        return self._db

    async def ping(self) -> bool:
        async with self._db.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    @property
    def _statements(self) -> _Statements:
        if self._sql is None:
            raise RuntimeError("sent-log is not open")
        return self._sql

    @property
    def _db(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("sent-log is not open")
        return self._engine

    async def get(self, key: SendKey) -> SentRecord | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(select(sent_log).where(_match(key)))).mappings().first()
        return _record(row) if row else None

    async def claim(self, key: SendKey, info: SendInfo, *, now: datetime) -> Claim:
        if await self._insert(key, info, Status.SENDING, now=now, attempts=1, claimed=True):
            fresh = SentRecord(Status.SENDING, 1, None, None, info.locale, now, now)
            return Claim(ClaimResult.CLAIMED, fresh)
        taken = await self._take_over(key, now=now)
        if taken is not None:
            return Claim(ClaimResult.CLAIMED, taken)
        record = await self._require(key)
        done = record.status.value in FINAL
        return Claim(ClaimResult.DONE if done else ClaimResult.BUSY, record)

    async def claim_many(
        self, jobs: list[tuple[SendKey, SendInfo]], *, now: datetime
    ) -> dict[SendKey, Claim]:
        """Claim a whole poll's notices: one multi-row insert, one read of the rest.

        New keys are inserted as ``sending`` in one statement (conflicts skipped);
        keys that already had a row are read back in one query and, where the
        row is claimable (``retry``/``failed``, or a stale ``sending`` lease),
        taken over one by one — only redeliveries and replays get there.
        """
        infos = dict(jobs)  # one claim per key, even if a poll repeats an event
        if not infos:
            return {}
        # Rows in key order: two replicas claiming overlapping polls (a rebalance) wait
        # for each other on PostgreSQL instead of deadlocking.
        # (A SendKey is a tuple of those three: sorting the items compares their keys in C.)
        jobs = sorted(infos.items())
        if self._statements.sqlite:
            # The insert commits in aiosqlite's thread (one trip); the rows that were
            # there already (a redelivery, a replay) are read after, in a read of their
            # own: what the take-over below does with each does not need the insert's
            # transaction (SQLite has one writer; a row finished meanwhile reads DONE).
            # The insert returns each new row's rowid, which finish_many updates by.
            new_rows = self._new_rows(
                [(key, info, None) for key, info in jobs],
                now,
                status=Status.SENDING,
                attempts=1,
                claimed=True,
            )
            inserted = await self._sqlite_transaction(_fetch_each, new_rows, rows=len(jobs))
            fresh = self._remember_rowids(inserted)
            seen = [key for key, _ in jobs if key not in fresh]
            existing = {}
            if seen:
                async with self._db.connect() as conn:
                    existing = await self._read_many(conn, seen)
        else:
            rows = [
                self._row(key, info, Status.SENDING, now=now, attempts=1) | {"claimed_at": now}
                for key, info in jobs
            ]
            async with self._db.begin() as conn:
                fresh = await self._insert_returning_keys(conn, rows)
                seen = [key for key, _ in jobs if key not in fresh]
                existing = await self._read_many(conn, seen)
        # A fresh claim's value depends on its locale only: one (immutable) per locale.
        claimed: dict[str | None, Claim] = {}
        claims = {}
        for key, info in jobs:
            if key in fresh:
                claim = claimed.get(info.locale)
                if claim is None:
                    record = SentRecord(Status.SENDING, 1, None, None, info.locale, now, now)
                    claim = claimed[info.locale] = Claim(ClaimResult.CLAIMED, record)
                claims[key] = claim
        for key in seen:
            record = existing.get(key)
            if record is None:  # deleted meanwhile (erasure): claim it the slow way
                claims[key] = await self.claim(key, infos[key], now=now)
            elif record.status.value in FINAL:
                claims[key] = Claim(ClaimResult.DONE, record)
            else:
                taken = await self._take_over(key, now=now)
                claims[key] = (
                    Claim(ClaimResult.CLAIMED, taken)
                    if taken is not None
                    else Claim(ClaimResult.BUSY, record)
                )
        return claims

    async def finish_many(self, finishes: list[Finish]) -> None:
        """Record the outcome of many claimed notices: one UPDATE, executed many (one commit)."""
        if not finishes:
            return
        if self._statements.sqlite:
            await self._finish_sqlite(finishes)
            return
        params = [
            {
                "k_event": f.key.event_id,
                "k_recipient": f.key.recipient,
                "k_template": f.key.template,
                "v_status": f.status._value_,
                "v_message_id": f.message_id,
                "v_reason": f.reason[:2000] if f.reason else None,
                "v_at": f.at,
            }
            for f in sorted(finishes, key=lambda f: _key_order((f.key,)))
        ]
        finish = self._statements.finish
        rows = [finish.params(p) for p in params]
        async with self._db.begin() as conn:
            rowcount = (await conn.exec_driver_sql(finish.sql, rows)).rowcount
        if rowcount not in (-1, len(params)):
            raise RuntimeError(f"sent-log: {len(params) - rowcount} of {len(params)} rows vanished")

    async def _finish_sqlite(self, finishes: list[Finish]) -> None:
        """finish_many on SQLite: each row claim_many inserted by its rowid (and its key,
        checked on the row: a VACUUM may renumber rowids), the others by their key; the
        parameters laid out in the statements' order (checked in :class:`_Statements`)."""
        statements = self._statements
        rowids = self._rowids
        stamps: dict[datetime, str] = {}
        by_rowid: list[tuple[Any, ...]] = []
        by_key: list[tuple[Any, ...]] = []
        for key, status, at, message_id, reason in finishes:
            stamp = stamps.get(at)
            if stamp is None:
                stamp = stamps[at] = statements.sqlite_datetime(at)
            # ``_value_``: the enum's ``value`` property is a Python getter, once a row
            values = (status._value_, message_id, reason[:2000] if reason else None, None, stamp)
            rowid = rowids.pop(key, None)
            if rowid is None:
                by_key.append((*values, *key))
            else:
                by_rowid.append((*values, rowid, *key))
        by_rowid.sort(key=_ROWID_OF)  # the table's pages in order
        by_key.sort(key=_KEY_OF)
        updated = await self._sqlite_transaction(
            _finish_rows,
            statements.finish_by_rowid_sql,
            by_rowid,
            statements.finish.sql,
            by_key,
            rows=len(finishes),
        )
        if updated != len(finishes):
            # A row renumbered (VACUUM) or gone: by key, as the rest (idempotent: the same
            # values again), and a row that is not there at all is an error, as it was.
            every = sorted([row[:5] + row[-3:] for row in by_rowid] + by_key, key=_KEY_OF)
            updated = await self._sqlite_transaction(
                _executemany, statements.finish.sql, every, rows=len(every)
            )
            if updated != len(finishes):
                missing = len(finishes) - updated
                raise RuntimeError(f"sent-log: {missing} of {len(finishes)} rows vanished")

    async def record_suppressed_many(
        self, suppressions: list[tuple[SendKey, SendInfo, str]], *, now: datetime
    ) -> dict[SendKey, SentRecord]:
        """:meth:`record_suppressed` for a whole poll: one insert, one read back (on
        SQLite only of the rows that were there already: see below)."""
        if not suppressions:
            return {}
        ordered = sorted(suppressions, key=_key_order)
        if self._statements.sqlite:
            # As claim_many: the insert (… RETURNING the keys it wrote) commits in
            # aiosqlite's thread in one trip, and a row it wrote is known without reading
            # it back — the read through SQLAlchemy (a Core select, its datetime
            # processing) cost more than the insert; in a backlog a third of the notices
            # are suppressed (web-chat acks without a reply path, repeat customers).
            # Only rows that were there already (a redelivery) are read.
            new_rows = self._new_rows(
                ordered, now, status=Status.SUPPRESSED, attempts=0, claimed=False
            )
            inserted = await self._sqlite_transaction(_fetch_each, new_rows, rows=len(ordered))
            fresh = {_new_send_key(row[:3]) for row in inserted}  # (the rowid not needed)
            records: dict[SendKey, SentRecord] = {}
            for key, info, reason in ordered:
                if key in fresh and key not in records:  # a key twice: the first row won
                    records[key] = SentRecord(
                        Status.SUPPRESSED, 0, None, reason, info.locale, None, now
                    )
            seen = [key for key, _, _ in ordered if key not in fresh]
            if seen:
                async with self._db.connect() as conn:
                    records |= await self._read_many(conn, seen)
        else:
            rows = [
                self._row(key, info, Status.SUPPRESSED, now=now, attempts=0, reason=reason)
                for key, info, reason in ordered
            ]
            async with self._db.begin() as conn:
                insert_new = self._statements.insert_new
                await conn.exec_driver_sql(insert_new.sql, insert_new.params_many(rows))
                records = await self._read_many(conn, [key for key, _, _ in suppressions])
        missing = [key for key, _, _ in suppressions if key not in records]
        if missing:
            raise RuntimeError(f"sent-log rows {missing[:3]} vanished")
        return records

    async def _sqlite_transaction(self, work: Callable[..., T], *args: Any, rows: int) -> T:
        """``work(sqlite3_connection, *args)`` and its commit in one trip to aiosqlite's
        thread (see :func:`_in_sqlite_thread`); rolled back if it raises. ``rows``: how
        many rows the work writes — up to :data:`_INLINE_ROWS`, on the event loop's thread
        instead, unless another connection is writing (see :meth:`_inline_transaction`).

        On a connection of their own, not the engine's pooled one: checking that one out
        and back in (SQLAlchemy's Connection, the pool's fairy, greenlet switches) cost
        ~110-190 CPU-us a transaction here, against ~20-50 for the trip itself, and a
        poll of one POST in the pipeline makes five of these. A trip is a whole
        transaction in one call on that connection's thread, so trips never interleave;
        a transaction of the engine's (the per-event path, replays, retention, erasure)
        and a trip each wait in SQLite's busy handler while the other writes (WAL:
        reads never wait), and a commit of either is seen by the other's next read."""
        if self._inline_db is not None and rows <= _INLINE_ROWS:
            done, result = self._inline_transaction(work, *args)
            if done:
                if self._inline_commits >= _INLINE_CHECKPOINT_EVERY:
                    self._inline_commits = 0
                    await in_thread(self._poll_db, _checkpoint)  # type: ignore[arg-type]
                return result  # type: ignore[return-value]
        if self._poll_db is not None:
            return await in_thread(self._poll_db, _committed, work, *args)
        async with self._db.connect() as conn:  # an in-memory database: one connection
            return await _in_sqlite_thread(conn, _committed, work, *args)

    def _inline_transaction(self, work: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """``work`` and its commit on the event loop's thread: (True, its result), or
        (False, None) when another connection held the write lock (nothing written: the
        caller then takes the trip, whose connection waits for the lock in its thread).

        A trip to aiosqlite's thread and back (a future, a queue put, the worker's
        wake-up, ``call_soon_threadsafe``) is ~40 CPU-µs of both threads, the GIL
        handed over twice, more than a small transaction itself (a 1-row insert and
        commit: 28 µs inline, 93 µs as a trip; ``bench/sentlog_trip_cpu.py``), and a
        one-POST poll of the pipeline makes five: its CPU 4,545 → 3,803 µs (means of 3
        interleaved runs, 4,159-4,830 / 3,639-3,928, load 12; instructions 3.12 → 2.90 M,
        callgrind). Inline, the loop is held for the
        statements only: never for a lock (``busy_timeout`` 0: a busy database raises
        at once) and never for a checkpoint (``wal_autocheckpoint`` 0 on this
        connection: every :data:`_INLINE_CHECKPOINT_EVERY` inline commits, one passive
        checkpoint takes the trip, as the automatic one did in the trip's commit)."""
        db = self._inline_db
        assert db is not None
        try:
            result = _committed(db, work, *args)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in _BUSY:
                raise
            return False, None
        self._inline_commits += 1
        return True, result

    async def _insert_returning_keys(self, conn: Any, rows: list[dict[str, Any]]) -> set[SendKey]:
        """PostgreSQL: insert the rows whose key is new; the keys inserted. The Core
        statement, whose executemany SQLAlchemy sends as multi-row batches."""
        returning = self._insert_new().returning(
            sent_log.c.event_id, sent_log.c.recipient, sent_log.c.template
        )
        return {_new_send_key(row) for row in (await conn.execute(returning, rows)).all()}

    def _new_rows(
        self,
        rows: list[tuple[SendKey, SendInfo, str | None]],
        now: datetime,
        *,
        status: Status,
        attempts: int,
        claimed: bool,
    ) -> list[tuple[str, list[Any]]]:
        """SQLite: multi-row INSERTs of new sent-log rows (key, info, reason), their
        parameters laid out in the statement's column order here (checked in
        :class:`_Statements`) rather than through a dict per row and
        :meth:`Prepared.params_many` (~3 µs a notice); ``now`` converted once."""
        statements = self._statements
        stamp = statements.sqlite_datetime(now)
        hashed = self._recipient_hash if self.hasher is not None else None
        queries = []
        start = 0
        for size in insert_chunks(len(rows), _INSERT_CHUNK):  # sizes that recur: see there
            chunk = rows[start : start + size]
            start += size
            values: list[Any] = [stamp]  # ?1: claimed_at (when claimed), created_at, updated_at
            for key, info, reason in chunk:
                event_id, recipient, template = key
                values += (
                    event_id,
                    recipient,
                    template,
                    *info,  # event_type, conversation_id, channel, locale
                    reason,
                    hashed(recipient) if hashed is not None else None,
                )
            sql = statements.insert_returning_sql(len(chunk), status, attempts, claimed)
            queries.append((sql, values))
        return queries

    def _remember_rowids(self, inserted: list[Any]) -> set[SendKey]:
        """The keys claim_many's insert wrote; their rowids kept for finish_many."""
        rowids = self._rowids
        if len(rowids) > _ROWIDS_KEPT:
            rowids.clear()  # claims never finished (released, a crash): start over
        fresh = set()
        for event_id, recipient, template, rowid in inserted:
            key = _new_send_key((event_id, recipient, template))
            rowids[key] = rowid
            fresh.add(key)
        return fresh

    def _insert_new(self) -> Any:
        """INSERT that skips rows whose key exists (ON CONFLICT DO NOTHING, both dialects)."""
        dialect = postgresql if self._db.dialect.name == "postgresql" else sqlite
        return dialect.insert(sent_log).on_conflict_do_nothing(
            index_elements=[sent_log.c.event_id, sent_log.c.recipient, sent_log.c.template]
        )

    async def _read_many(self, conn: Any, keys: list[SendKey]) -> dict[SendKey, SentRecord]:
        records: dict[SendKey, SentRecord] = {}
        columns = (sent_log.c.event_id, sent_log.c.recipient, sent_log.c.template)
        for start in range(0, len(keys), _READ_CHUNK):
            chunk = keys[start : start + _READ_CHUNK]
            wanted = [(k.event_id, k.recipient, k.template) for k in chunk]
            rows = await conn.execute(select(sent_log).where(tuple_(*columns).in_(wanted)))
            for row in rows.mappings():
                key = SendKey(row["event_id"], row["recipient"], row["template"])
                records[key] = _record(row)
        return records

    def lease_expires_at(self, record: SentRecord) -> datetime | None:
        return record.claimed_at + self._lease if record.claimed_at else None

    async def touch(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        """Another attempt under the same claim: renew the lease, keep the last error."""
        return await self._set(
            key,
            now,
            claimed_at=now,
            reason=reason[:2000],
            attempts=sent_log.c.attempts + 1,
        )

    async def renew_claim(
        self, key: SendKey, *, claimed_at: datetime, now: datetime
    ) -> SentRecord | None:
        """Renew a claim that is still ours — still ``sending`` under the claim time we
        took it with — or None: its lease ran out and another sender took it over.

        A poll claims its chat messages at once; one that waits behind its conversation's
        earlier messages (a provider's Retry-After) renews here before it is sent, so an
        expired lease is noticed instead of sending a message someone else now owns.
        """
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(sent_log)
                .where(
                    _match(key),
                    sent_log.c.status == Status.SENDING.value,
                    sent_log.c.claimed_at == claimed_at,
                )
                .values(claimed_at=now, updated_at=now)
                .returning(*sent_log.c)
            )
            row = result.mappings().first()
        return _record(row) if row else None

    async def mark_sent(self, key: SendKey, *, message_id: str, now: datetime) -> SentRecord:
        return await self._set(
            key, now, status=Status.SENT.value, message_id=message_id, reason=None
        )

    async def mark_retry(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return await self._set(key, now, status=Status.RETRY.value, reason=reason[:2000])

    async def mark_failed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return await self._set(key, now, status=Status.FAILED.value, reason=reason[:2000])

    async def mark_suppressed(self, key: SendKey, *, reason: str, now: datetime) -> SentRecord:
        return await self._set(key, now, status=Status.SUPPRESSED.value, reason=reason[:2000])

    async def record_suppressed(
        self, key: SendKey, info: SendInfo, *, reason: str, now: datetime
    ) -> SentRecord:
        """Record a suppression once; a redelivery gets the first record back."""
        await self._insert(key, info, Status.SUPPRESSED, now=now, attempts=0, reason=reason)
        return await self._require(key)

    async def take_rate_slot(
        self, sender: str, *, event_id: str, now: datetime, cutoff: datetime | None
    ) -> bool:
        """True if this event may send an automatic reply to ``sender`` now."""
        sender = sender.lower()
        try:
            async with self._db.begin() as conn:
                await conn.execute(
                    rate_slot.insert().values(sender=sender, event_id=event_id, claimed_at=now)
                )
            return True
        except IntegrityError:
            pass
        async with self._db.begin() as conn:
            if cutoff is not None:
                taken = await conn.execute(
                    update(rate_slot)
                    .where(and_(rate_slot.c.sender == sender, rate_slot.c.claimed_at <= cutoff))
                    .values(event_id=event_id, claimed_at=now)
                )
                if taken.rowcount == 1:
                    return True
            holder = await conn.scalar(
                select(rate_slot.c.event_id).where(rate_slot.c.sender == sender)
            )
        return holder == event_id

    async def take_rate_slots(
        self, requests: list[tuple[str, str]], *, now: datetime, cutoff: datetime | None
    ) -> set[tuple[str, str]]:
        """:meth:`take_rate_slot` for a whole poll: which ``(sender, event id)`` may send.

        One upsert for every sender (a new row, or a slot whose holder is older than
        ``cutoff`` changes hands) and one read of the holders: a request is allowed
        when its event holds the sender's slot afterwards — exactly the per-notice
        rule. Several events of one poll for one sender: the first asks, so the first
        gets the slot (the others find it held). Senders in key order, so replicas
        taking overlapping slots wait for each other instead of deadlocking.
        """
        wanted = [(sender.lower(), event_id) for sender, event_id in requests]
        first: dict[str, str] = {}
        for sender, event_id in wanted:
            first.setdefault(sender, event_id)
        if not first:
            return set()
        senders = sorted(first)
        # One prepared upsert executed for every sender (executemany): a multi-row VALUES
        # would be a statement per poll size.
        statements = self._statements
        upsert = statements.take_slot if cutoff is not None else statements.new_slot
        slots = upsert.params_many(
            [
                {"sender": s, "event_id": first[s], "claimed_at": now, "cutoff": cutoff}
                for s in senders
            ]
        )
        reads = [
            statements.holders(senders[start : start + _READ_CHUNK])
            for start in range(0, len(senders), _READ_CHUNK)
        ]
        if statements.sqlite:
            rows = await self._sqlite_transaction(
                _executemany_then_fetch, upsert.sql, slots, reads, rows=len(slots)
            )
        else:
            async with self._db.begin() as conn:
                await conn.exec_driver_sql(upsert.sql, slots)
                rows = [row for sql, params in reads for row in await _fetch(conn, sql, params)]
        holders = {sender: event_id for sender, event_id in rows}
        return {
            (sender, event_id) for sender, event_id in wanted if holders.get(sender) == event_id
        }

    async def store_webchat(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Store web-chat outbox rows (a poll's, in order) unless their idempotency key
        is there already, in one transaction; every key's outbox id (a stored key keeps
        its first id).

        On SQLite the insert and the read of the ids are one trip to aiosqlite's thread
        (the statements compiled once, the values converted by the columns' own bind
        processors, so the rows are the Core insert's): through SQLAlchemy's Core
        statements they were a transaction of ~10 trips plus each statement's cache-key
        and parameter processing, ~1.9 ms of a 1-POST poll's wall time in
        ``bench.notify_instructions --mix pipeline --batch 3`` (cProfile)."""
        if not rows:
            return {}
        keys = [row["idempotency_key"] for row in rows]
        statements = self._statements
        reads = [
            statements.outbox_ids(keys[start : start + _READ_CHUNK])
            for start in range(0, len(keys), _READ_CHUNK)
        ]
        if statements.sqlite:
            found = await self._sqlite_transaction(
                _executemany_then_fetch,
                statements.store_webchat.sql,
                statements.store_webchat.params_many(rows),
                reads,
                rows=len(rows),
            )
        else:
            async with self._db.begin() as conn:
                await conn.execute(statements.store_webchat_core, rows)
                found = [row for sql, params in reads for row in await _fetch(conn, sql, params)]
        return {key: id_ for key, id_ in found}

    async def count(self, status: Status | None = None) -> int:
        query = select(func.count()).select_from(sent_log)
        if status is not None:
            query = query.where(sent_log.c.status == status.value)
        async with self._db.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def for_event(self, event_id: str) -> list[tuple[SendKey, SentRecord]]:
        """Every notice of one routing event, for operators."""
        query = select(sent_log).where(sent_log.c.event_id == event_id)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query.order_by(sent_log.c.created_at))).mappings().all()
        return [(SendKey(r["event_id"], r["recipient"], r["template"]), _record(r)) for r in rows]

    async def prune(self, *, before: datetime) -> int:
        """Delete finished rows last touched before ``before``; returns how many.

        Keep rows at least as long as a routing event can come back (topic
        retention, dead-letter replays): a pruned row no longer stops a resend.
        """
        finished = sent_log.c.status.in_([*FINAL, Status.FAILED.value])
        async with self._db.begin() as conn:
            deleted = await conn.execute(
                sent_log.delete().where(and_(finished, sent_log.c.updated_at < before))
            )
            await conn.execute(rate_slot.delete().where(rate_slot.c.claimed_at < before))
        return deleted.rowcount

    async def _insert(
        self,
        key: SendKey,
        info: SendInfo,
        status: Status,
        *,
        now: datetime,
        attempts: int,
        claimed: bool = False,
        reason: str | None = None,
    ) -> bool:
        values = self._row(key, info, status, now=now, attempts=attempts, reason=reason)
        values["claimed_at"] = now if claimed else None
        try:
            async with self._db.begin() as conn:
                await conn.execute(sent_log.insert().values(**values))
        except IntegrityError:
            return False
        return True

    def _row(
        self,
        key: SendKey,
        info: SendInfo,
        status: Status,
        *,
        now: datetime,
        attempts: int,
        reason: str | None = None,
    ) -> dict[str, Any]:
        return {
            "event_id": key.event_id,
            "recipient": key.recipient,
            "template": key.template,
            "event_type": info.event_type,
            "conversation_id": info.conversation_id,
            "channel": info.channel,
            "locale": info.locale,
            "status": status.value,
            "attempts": attempts,
            "message_id": None,
            "reason": reason,
            "claimed_at": None,
            "created_at": now,
            "updated_at": now,
            "recipient_hash": self._recipient_hash(key.recipient) if self.hasher else None,
        }

    def _recipient_hash(self, recipient: str) -> str | None:
        hashes = self._hashes
        if recipient not in hashes:
            if len(hashes) >= _HASHES_KEPT:
                hashes.clear()  # a backlog of new customers: start over, keep it small
            assert self.hasher is not None
            hashes[recipient] = recipient_hash(self.hasher, recipient)
        return hashes[recipient]

    async def _take_over(self, key: SendKey, *, now: datetime) -> SentRecord | None:
        stale = now - self._lease
        claimable = or_(
            sent_log.c.status.in_([Status.RETRY.value, Status.FAILED.value]),
            and_(sent_log.c.status == Status.SENDING.value, sent_log.c.claimed_at <= stale),
        )
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(sent_log)
                .where(and_(_match(key), claimable))
                .values(
                    status=Status.SENDING.value,
                    claimed_at=now,
                    updated_at=now,
                    attempts=sent_log.c.attempts + 1,
                )
                .returning(*sent_log.c)
            )
            row = result.mappings().first()
        return _record(row) if row else None

    async def _set(self, key: SendKey, now: datetime, **values: Any) -> SentRecord:
        """Update one row and return it as stored (UPDATE … RETURNING: one round trip)."""
        values.setdefault("claimed_at", None)
        async with self._db.begin() as conn:
            result = await conn.execute(
                update(sent_log)
                .where(_match(key))
                .values(updated_at=now, **values)
                .returning(*sent_log.c)
            )
            row = result.mappings().first()
        if row is None:
            raise RuntimeError(f"sent-log row {key} vanished")
        return _record(row)

    async def _require(self, key: SendKey) -> SentRecord:
        record = await self.get(key)
        if record is None:
            raise RuntimeError(f"sent-log row {key} vanished")
        return record


def _finish_statement(*first: ColumnElement[bool]) -> Update:
    """``finish_many``'s UPDATE of a row by its key, with ``first`` conditions before the
    key's (the order the hand-laid parameters follow)."""
    return (
        update(sent_log)
        .where(
            *first,
            sent_log.c.event_id == bindparam("k_event"),
            sent_log.c.recipient == bindparam("k_recipient"),
            sent_log.c.template == bindparam("k_template"),
        )
        .values(
            status=bindparam("v_status"),
            message_id=bindparam("v_message_id"),
            reason=bindparam("v_reason"),
            claimed_at=None,
            updated_at=bindparam("v_at"),
        )
    )


#: The record statement of :meth:`SentLog.finish_many`, built once (a plain value:
#: building it per call was a fifth of the statement's cost in the profile).
_FINISH = _finish_statement()
#: finish_many's statement by rowid (SQLite): the key's columns are checked on the row.
_FINISH_BY_ROWID = _finish_statement(literal_column("rowid") == bindparam("k_rowid"))


class _Statements:
    """The statements of every poll, prepared once for the database's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._postgres = dialect.name == "postgresql"
        #: run on aiosqlite's thread in one hop per transaction (see _in_sqlite_thread)
        self.sqlite = dialect.name == "sqlite"
        self.finish = Prepared(_FINISH, dialect)
        #: (query, marks) → the SQLite ``IN (…)`` read of that many marks (_among)
        self._among_sql: dict[tuple[str, int], str] = {}
        upsert = (postgresql if self._postgres else sqlite).insert(rate_slot)
        self.new_slot = Prepared(
            upsert.on_conflict_do_nothing(index_elements=[rate_slot.c.sender]), dialect
        )
        self.take_slot = Prepared(
            upsert.on_conflict_do_update(
                index_elements=[rate_slot.c.sender],
                set_={
                    "event_id": upsert.excluded.event_id,
                    "claimed_at": upsert.excluded.claimed_at,
                },
                where=rate_slot.c.claimed_at <= bindparam("cutoff", type_=DateTime(timezone=True)),
            ),
            dialect,
        )
        outbox = (postgresql if self._postgres else sqlite).insert(webchat_outbox)
        self.store_webchat_core = outbox.on_conflict_do_nothing(
            index_elements=[webchat_outbox.c.idempotency_key]
        )
        every_column = [c.key for c in sent_log.c]
        insert_new = (postgresql if self._postgres else sqlite).insert(sent_log)
        insert_new = insert_new.on_conflict_do_nothing(
            index_elements=[sent_log.c.event_id, sent_log.c.recipient, sent_log.c.template]
        )
        self.insert_new = Prepared(insert_new, dialect, column_keys=every_column)
        if self.sqlite:
            # The insert of new rows returning each one's key and rowid; SentLog._new_rows and
            # _finish_sqlite lay their parameters out in these orders themselves.
            self._insert_returning = Prepared(
                insert_new.returning(
                    sent_log.c.event_id,
                    sent_log.c.recipient,
                    sent_log.c.template,
                    literal_column("rowid"),
                ),
                dialect,
                column_keys=every_column,
            )
            self._insert_returning_sql: dict[tuple[int, Status, int, bool], str] = {}
            self.store_webchat = Prepared(
                self.store_webchat_core, dialect, column_keys=_OUTBOX_COLUMNS
            )
            by_rowid = Prepared(_FINISH_BY_ROWID, dialect)
            self.finish_by_rowid_sql = by_rowid.sql
            _require_order(self._insert_returning, every_column)
            _require_order(self.finish, [*_FINISHED, "k_event", "k_recipient", "k_template"])
            _require_order(
                by_rowid, [*_FINISHED, "k_rowid", "k_event", "k_recipient", "k_template"]
            )
            self.sqlite_datetime = sent_log.c.updated_at.type.dialect_impl(dialect).bind_processor(
                dialect
            )

    def insert_returning_sql(self, rows: int, status: Status, attempts: int, claimed: bool) -> str:
        """SQLite: the INSERT of ``rows`` new rows of one status (made once per shape).

        What is the same in every row of a poll is not bound per row: the status,
        attempts and empty message id are literals (our own constants), the poll's one
        timestamp is parameter ``?1`` in each of its columns; a row binds its nine
        values (``?2``…). Each bound value is a call into SQLite under its mutex and the
        module's type dispatch: 15 a row before, 9 now."""
        shape = (rows, status, attempts, claimed)
        sql = self._insert_returning_sql.get(shape)
        if sql is None:
            fixed = {
                "status": f"'{status.value}'",
                "attempts": str(int(attempts)),
                "message_id": "NULL",
                "claimed_at": "?1" if claimed else "NULL",
                "created_at": "?1",
                "updated_at": "?1",
            }
            # The first row's marks are numbered (?2…), the rest plain "?" — each the
            # next number after the largest so far, so the same numbers: SQLite compiles
            # a numbered mark by a search of every name before it (quadratic: a 190-row
            # statement ~6-10 ms against ~1-2), a plain one without.
            groups, number = [], 2
            for row in range(rows):
                values = []
                for name in self._insert_returning.names:
                    if name in fixed:
                        values.append(fixed[name])
                    elif row == 0:
                        values.append(f"?{number}")
                        number += 1
                    else:
                        values.append("?")
                groups.append(f"({', '.join(values)})")
            single = self._insert_returning.sql
            match = QMARK_VALUES.search(single)
            if match is None:
                raise RuntimeError(f"not a single-row INSERT: {single[:80]}")
            sql = f"{single[: match.start()]} VALUES {', '.join(groups)}{single[match.end() :]}"
            if len(self._insert_returning_sql) >= _SHAPES_KEPT:
                self._insert_returning_sql.clear()  # polls of ever new sizes: keep it small
            self._insert_returning_sql[shape] = sql
        return sql

    def outbox_ids(self, keys: list[str]) -> tuple[str, tuple[Any, ...]]:
        """The outbox ids of these idempotency keys: SQL and parameters."""
        return self._among(_OUTBOX_IDS_POSTGRES, _OUTBOX_IDS_SQLITE, keys)

    def holders(self, senders: list[str]) -> tuple[str, tuple[Any, ...]]:
        """Who holds each sender's slot: SQL and parameters (the senders are parameters)."""
        return self._among(_HOLDERS_POSTGRES, _HOLDERS_SQLITE, senders)

    def _among(
        self, postgres_sql: str, sqlite_sql: str, values: list[str]
    ) -> tuple[str, tuple[Any, ...]]:
        """A query over ``values``: PostgreSQL's takes them as one array parameter,
        SQLite's ends in ``IN`` and gets a "?" mark for each."""
        if self._postgres:
            return postgres_sql, (values,)
        # padded with its last value to a size that recurs (statement_shapes)
        marks = padded_size(len(values))
        padding = (values[-1],) * (marks - len(values)) if values else ()
        sql = self._among_sql.get((sqlite_sql, marks))
        if sql is None:
            sql = f"{sqlite_sql} ({', '.join('?' * marks)})"  # only "?" marks interpolated
            self._among_sql[(sqlite_sql, marks)] = sql
        return sql, (*values, *padding)


#: The web-chat outbox columns a stored message sets (the id is the table's own).
_OUTBOX_COLUMNS = [
    "integration",
    "visitor",
    "idempotency_key",
    "purpose",
    "body",
    "created_at",
]
_OUTBOX_IDS_POSTGRES = (
    "SELECT idempotency_key, id FROM notifier_webchat_outbox"
    " WHERE idempotency_key = ANY($1::VARCHAR[])"
)
_OUTBOX_IDS_SQLITE = (
    "SELECT idempotency_key, id FROM notifier_webchat_outbox WHERE idempotency_key IN"
)

_HOLDERS_POSTGRES = (
    "SELECT sender, event_id FROM notifier_rate_slot WHERE sender = ANY($1::VARCHAR[])"
)
_HOLDERS_SQLITE = "SELECT sender, event_id FROM notifier_rate_slot WHERE sender IN"

#: The SET columns of both finish statements, in their compiled order.
_FINISHED = ["v_status", "v_message_id", "v_reason", "claimed_at", "v_at"]


def _require_order(statement: Prepared, names: list[str]) -> None:
    """Parameters laid out by hand must match the compiled statement's order (and
    ``claimed_at`` of the finish statements is their fixed NULL, laid out as such)."""
    if statement.names != names:
        raise RuntimeError(f"sent-log statement parameters {statement.names}, expected {names}")


def _finish_rows(
    db: sqlite3.Connection,
    by_rowid_sql: str,
    by_rowid: list[tuple[Any, ...]],
    by_key_sql: str,
    by_key: list[tuple[Any, ...]],
) -> int:
    updated = _executemany(db, by_rowid_sql, by_rowid) if by_rowid else 0
    return updated + (_executemany(db, by_key_sql, by_key) if by_key else 0)


#: Sort keys of _finish_sqlite's parameter tuples: the rowid, the key.
_ROWID_OF = itemgetter(5)
_KEY_OF = itemgetter(-3, -2, -1)


#: Claimed rows' rowids a sent-log remembers until they are finished (a few MB at most).
_ROWIDS_KEPT = 50_000

#: Recipients whose keyed hash a sent-log remembers (< 1 MB).
_HASHES_KEPT = 4096

#: INSERT statements of new rows kept by shape (a poll of 500 is ~20 KB of SQL): 21 sizes
#: (statement_shapes) of each of the two kinds, claimed and suppressed.
_SHAPES_KEPT = 64

#: SQLite transactions of up to this many rows run on the event loop's thread (see
#: SentLog._inline_transaction): a pipeline poll's are 1-3 rows; a backlog poll's 500
#: (some ms of statements) keep the trip, in which the loop goes on meanwhile.
_INLINE_ROWS = 64
#: Inline commits between two checkpoints: a small poll's transaction dirties a few
#: pages (~5-10), so ~5,000-10,000 WAL pages between them, as wal_autocheckpoint=10000.
_INLINE_CHECKPOINT_EVERY = 1000
#: SQLITE_BUSY, SQLITE_LOCKED (primary codes; the error carries the extended one).
_BUSY = frozenset({5, 6})

#: Rows per multi-row claim INSERT on SQLite at most (a power of two: statement_shapes):
#: 9 parameters each, well under its 32,766.
_INSERT_CHUNK = 512

#: Keys per ``(event_id, recipient, template) IN (…)`` read: 3 parameters each, well under
#: SQLite's 32,766 and PostgreSQL's 32,767 bound parameters per statement.
_READ_CHUNK = 2000


async def _in_sqlite_thread(conn: AsyncConnection, work: Callable[..., T], *args: Any) -> T:
    """``work(sqlite3_connection, *args)`` in aiosqlite's worker thread, in the
    transaction SQLAlchemy began on ``conn`` (which commits after).

    Through SQLAlchemy each statement is four trips to that thread and back; a poll's
    claim, rate slots and finish were 20 trips. Here a transaction's statements are
    one trip (the commit another): only for prepared statements whose rows need no
    type processing (:mod:`services.notifier.prepared`).
    """
    raw = await conn.get_raw_connection()
    return await in_thread(raw.driver_connection, work, *args)  # type: ignore[arg-type]


def _committed(db: sqlite3.Connection, work: Callable[..., T], *args: Any) -> T:
    try:
        result = work(db, *args)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return result


def _checkpoint(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


def _executemany(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    cursor = db.executemany(sql, rows)
    try:
        return cursor.rowcount
    finally:
        cursor.close()


def _fetch_each(db: sqlite3.Connection, queries: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
    rows: list[Any] = []
    for sql, params in queries:
        cursor = db.execute(sql, params)
        try:
            rows.extend(cursor.fetchall())
        finally:
            cursor.close()
    return rows


def _executemany_then_fetch(
    db: sqlite3.Connection,
    sql: str,
    rows: list[tuple[Any, ...]],
    queries: list[tuple[str, tuple[Any, ...]]],
) -> list[Any]:
    _executemany(db, sql, rows)
    return _fetch_each(db, queries)


async def _fetch(conn: AsyncConnection, sql: str, params: Any) -> list[Any]:
    return list((await conn.exec_driver_sql(sql, params)).all())


def _key_order(item: tuple[Any, ...]) -> tuple[str, str, str]:
    """Sort key of ``(SendKey, …)`` tuples: the primary key's order."""
    key: SendKey = item[0]
    return (key.event_id, key.recipient, key.template)


def recipient_hash(hasher: IdentifierHasher, recipient: str) -> str | None:
    """The keyed hash of an e-mail address or phone number; None for anything else
    (an agent webhook, a chat handle's opaque id), which names no customer here."""
    kind = IdentifierKind.EMAIL if "@" in recipient else IdentifierKind.PHONE
    try:
        return hasher.digest(kind, recipient)
    except InvalidIdentifier:
        return None


def _add_recipient_hash(connection: Any) -> None:
    """Sent-logs created before issue #18 lack the column (create_all adds no columns)."""
    columns = {c["name"] for c in inspect(connection).get_columns(sent_log.name)}
    if "recipient_hash" not in columns:
        connection.execute(
            text(f"ALTER TABLE {sent_log.name} ADD COLUMN recipient_hash VARCHAR(64)")
        )
        connection.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS ix_{sent_log.name}_recipient_hash"
                f" ON {sent_log.name} (recipient_hash)"
            )
        )


def _match(key: SendKey) -> Any:
    return and_(
        sent_log.c.event_id == key.event_id,
        sent_log.c.recipient == key.recipient,
        sent_log.c.template == key.template,
    )


def _record(row: Any) -> SentRecord:
    return SentRecord(
        status=Status(row["status"]),
        attempts=row["attempts"],
        message_id=row["message_id"],
        reason=row["reason"],
        locale=row["locale"],
        claimed_at=_aware(row["claimed_at"]),
        updated_at=_aware(row["updated_at"]) or row["updated_at"],
    )


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; we only ever store UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return create_async_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # One connection: SQLite has one writer anyway, and concurrent writers on
    # separate connections would sleep in SQLite's busy handler instead of queueing.
    # No rollback when a connection goes back to the pool: every use ends its own
    # transaction (``begin()`` commits or rolls back; ``connect()`` rolls back what it
    # began; the statements run in aiosqlite's thread commit or roll back there), and
    # that rollback was one more trip to aiosqlite's thread per transaction.
    engine = create_async_engine(
        url,
        connect_args={"timeout": 30},
        pool_size=1,
        max_overflow=0,
        pool_timeout=60,
        pool_reset_on_return=None,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas_of(db: sqlite3.Connection) -> None:
    _sqlite_pragmas(db, None)


def _inline_pragmas(db: sqlite3.Connection) -> None:
    """The event loop thread's connection (see SentLog._inline_transaction): as the
    others, but it never waits for a lock and never checkpoints by itself."""
    _sqlite_pragmas(db, None)
    db.execute("PRAGMA busy_timeout=0").close()
    db.execute("PRAGMA wal_autocheckpoint=0").close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    # WAL + NORMAL: a commit survives a process crash; only an OS crash or power
    # loss can lose the last commits, and then a mail is re-sent with the same
    # Message-ID rather than lost.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoint every 10,000 WAL pages (~40 MB), not 1,000: a poll's claim insert
    # alone dirties ~1,700 pages (random keys in the primary-key and recipient-hash
    # indexes), so the default checkpointed after about every poll and wrote the same
    # index pages back again and again; a checkpoint writes each page once, however
    # often it changed since the last. Sent-log CPU per notice at 60,000-77,000 rows
    # (claim + group-commit finish, polls of 550, interleaved): 46.4 / 50.3 → 43.0 /
    # 43.8 µs. The WAL file keeps its largest size on disk (~43 MB).
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    # The default 4 KiB pages, unlike the router's store: 8 KiB measured more bytes for the
    # same CPU (the sent-log's writes are single-entry inserts into random index pages;
    # services/notifier/README.md, the sent-log per notice).
    cursor.close()
