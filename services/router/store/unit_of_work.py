"""Unit of work: one transaction; rolls back unless told to commit.

Routing events added through ``uow.outbox`` are inserted in the same
transaction as the state change that caused them (transactional outbox).
SQLite has one writer: writes in this process are serialised by a lock so
transactions never fight over the database file.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import JSON, TypeDecorator, bindparam, inspect, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import (
    NO_VALUE,
    PASSIVE_NO_INITIALIZE,
    PASSIVE_NO_RESULT,
    _ScalarAttributeImpl,
    instance_state,
    manager_of_class,
)
from sqlalchemy.orm.base import DEFAULT_STATE_ATTR
from sqlalchemy.types import TypeEngine

from services.router.store.bulk import (
    COPY_FROM,
    SQLITE_DRIVER,
    BulkInserter,
    KeyedUpdates,
    NewObjects,
    SqliteWrite,
    execute_mutex,
)
from services.router.store.lookups import DRIVER_WATCHERS
from services.router.store.models import (
    Agent,
    AttachmentRow,
    AuditRow,
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SlaTimer,
)
from services.router.store.outbox import OutboxWriter, PublishedRows
from services.router.store.persistent import row_maker
from services.router.store.pg_begin import begin_with
from services.router.store.repositories import (
    AgentRepository,
    ApiKeyRepository,
    ContactRepository,
    ConversationRepository,
    CounterRepository,
    InteractionRepository,
    TimerRepository,
)

T = TypeVar("T")
ASSIGNMENT_LOCK = 7226459
_TAKE_ASSIGNMENT_LOCK = f"SELECT pg_advisory_xact_lock({ASSIGNMENT_LOCK})"
#: appended to the lock's statement (one round trip): ``send_ahead`` needs it
_DEFER_FOREIGN_KEYS = "; SET CONSTRAINTS ALL DEFERRED"
#: Append-only rows written with one multi-row INSERT each, after the ORM flush
#: (their foreign keys point at conversations the flush inserts).
BULK_ORDER = (MessageIndex, InteractionRecord, AttachmentRow, SlaTimer, OutboxRow, AuditRow)
#: Insert-only rows that the ORM's rows point at: written before the ORM flush.
BULK_FIRST = (Contact, ContactIdentity)
#: Loaded rows whose changes the commit writes with Core executemany UPDATEs (on
#: PostgreSQL the rest, a few agents per poll, stay with the ORM's flush; the counters
#: are queued by ``update_later``).
CORE_UPDATED = frozenset({Conversation})
#: SQLite: the agents too (an assignment sets its agent's ``last_assigned_at``), so the
#: ORM's flush has nothing left to write and a poll's flush and COMMIT stay one hop.
CORE_UPDATED_SQLITE = CORE_UPDATED | {Agent}
#: Runs inside every committing transaction, just before it commits (the composition
#: root passes the audit trail's: an action's audit row commits with the action).
BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]
#: Receives the outbox rows a transaction wrote, right after it committed (the relay's
#: ``CommittedOutbox.hand_over``: it then publishes them without reading them back).
HandOver = Callable[[list[dict[str, object]]], None]


class UnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        postgres: bool,
        write_lock: asyncio.Lock | None,
        on_commit: Callable[[], None] | None = None,
        before_commit: BeforeCommit | None = None,
        hand_over: HandOver | None = None,
        published: PublishedRows | None = None,
        bulk: BulkInserter,
    ) -> None:
        self._sessions = sessions
        self._published = published
        self._inserter = bulk
        self.postgres = postgres
        self._write_lock = write_lock
        self._on_commit = on_commit
        self._before_commit = before_commit
        self._hand_over = hand_over
        self._session: AsyncSession | None = None
        self._committed = False

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use `async with uow:`"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            self._session = self._sessions()
            self._session.info[DRIVER_WATCHERS] = self._inserter.watchers  # lookups' too
            self._committed = False
            #: per-transaction caches of the service layer (agent pool, batch lookups)
            self.cache: dict[str, object] = {}
            self._bulk: dict[type, list[dict[str, object]]] = {}
            self._new: list[object] = []
            self._updates: dict[type, dict[object, dict[str, object]]] = {}
            #: (conversation id, metric) -> when the first queued cancellation covers it
            self._cancels: dict[tuple[str, str], datetime] = {}
            #: SLA timers queued in this flush, per conversation (cancel_timers_later)
            self._new_timers: dict[str, list[dict[str, object]]] = {}
            #: outbox rows inserted by this transaction, handed over once it commits
            self._outbox_written: list[dict[str, object]] = []
            #: SQLite: the flush's statements, sent together in one hop (``_send_writes``)
            self._writes: list[SqliteWrite] = []
            #: PostgreSQL: the last of the rows sent ahead (``send_ahead``), each send
            #: awaiting the one before; the commit awaits it first
            self._ahead: asyncio.Future[None] | None = None
            self._foreign_keys_deferred = False
            self.contacts = ContactRepository(self.session)
            self.conversations = ConversationRepository(self.session, postgres=self.postgres)
            self.interactions = InteractionRepository(self.session)
            self.agents = AgentRepository(self.session, postgres=self.postgres)
            self.timers = TimerRepository(self.session, postgres=self.postgres)
            self.api_keys = ApiKeyRepository(self.session)
            self.counters = CounterRepository(
                self.session, postgres=self.postgres, update_later=self.update_later
            )
            self.outbox = OutboxWriter(self)
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._ahead_settled()
            self.session.info.pop(SQLITE_DRIVER, None)
            # close() rolls back anything uncommitted and detaches objects without
            # expiring them, so read results stay usable after the block.
            await self.session.close()
        finally:
            self._session = None
            self._release()

    def _release(self) -> None:
        if self._write_lock is not None and self._write_lock.locked():
            self._write_lock.release()

    async def serialise_assignment(self, *, defer_foreign_keys: bool = False) -> None:
        """Call first in a transaction that may assign (PostgreSQL, several replicas).

        Assignment reads every online agent's load; taking this advisory lock before
        any row lock gives all such transactions one lock order (no deadlocks) and
        keeps capacity exact across replicas. SQLite is already serialised. As the
        transaction's first statement it goes with its BEGIN, one round trip
        (``pg_begin.begin_with``).

        ``defer_foreign_keys``: the transaction's foreign keys are checked at its COMMIT
        (``SET CONSTRAINTS ALL DEFERRED``, in the same round trip), so that it may send
        rows ahead of the rows they point at (``send_ahead``).
        """
        if not self.postgres:
            return
        sql = _TAKE_ASSIGNMENT_LOCK + (_DEFER_FOREIGN_KEYS if defer_foreign_keys else "")
        if not await begin_with(self.session, sql):
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": ASSIGNMENT_LOCK}
            )
            if defer_foreign_keys:
                await self.session.execute(text(_DEFER_FOREIGN_KEYS.lstrip("; ")))
        self._foreign_keys_deferred = defer_foreign_keys

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        """Queue an append-only row; written at flush/commit in one INSERT per table."""
        self._bulk.setdefault(model, []).append(values)
        if model is SlaTimer:
            self._new_timers.setdefault(str(values["conversation_id"]), []).append(values)

    def insert_timers_later(
        self, conversation_id: object, rows: tuple[dict[str, object], ...]
    ) -> None:
        """``insert_later(SlaTimer, row)`` of each of ``rows`` (one conversation's), in
        one call: a started clock's warning and breach."""
        self._bulk.setdefault(SlaTimer, []).extend(rows)
        self._new_timers.setdefault(str(conversation_id), []).extend(rows)

    def cancel_timers_later(
        self, conversation_id: str, *, metrics: Iterable[str], at: datetime
    ) -> None:
        """What ``flush()`` then ``timers.cancel_pending(...)`` do, without a round trip:
        pending timers of these metrics are cancelled at ``at`` — those started earlier in
        this transaction and not written yet here and now, the stored ones at the next
        flush (one executemany for all queued cancellations, before that flush's inserts,
        so a timer started after this call is not cancelled). A timer already cancelled
        keeps its first cancellation time, as with ``cancel_pending`` called in order."""
        wanted = set(metrics)
        for row in self._new_timers.get(conversation_id, ()):
            if row["metric"] in wanted and row["fired_at"] is None and row["cancelled_at"] is None:
                row["cancelled_at"] = at
        for metric in wanted:
            self._cancels.setdefault((conversation_id, metric), at)

    def add_new(self, row: object) -> None:
        """A new ORM object (e.g. a conversation opened by routing), inserted at the next
        flush in one multi-row INSERT per table, then tracked by the session like a loaded
        row (later changes in this transaction are UPDATEs). Cheaper than ``session.add``,
        whose per-object INSERT bookkeeping dominated routing a batch.

        Not visible to queries before that flush (routing runs without autoflush anyway).
        """
        self._new.append(row)

    async def flush(self) -> None:
        await self._flush(last=False)

    async def send_ahead(self) -> None:
        """PostgreSQL, a transaction whose foreign keys are deferred: the append-only rows
        queued so far (contacts, identities, message ids, interaction records, attachments,
        SLA timers, outbox and audit rows), after the stored timers' cancellations queued
        before them (as ``flush`` orders them), sent now and not awaited: the server writes
        them on its own core while the caller goes on deciding (routing a poll), where
        the loop slept through all of a poll's writing at its commit. The conversations
        and the changed rows stay for the commit (they may change until then), which
        awaits these sends first: an error of theirs fails the commit, and the
        transaction rolls back as before. Each send waits for the one before (one
        statement at a time on a connection) and holds the adapter's lock while it
        sends (``bulk.execute_mutex``: the session's own statements wait for it).

        SQLite: nothing. Its statements run on aiosqlite's thread, which needs the GIL
        for each one and waits out the busy loop's switch interval (5 ms): sent ahead,
        a poll of 400 took 54.8 -> 59.1 ms (``route_batch``, medians of 15 polls).
        """
        if not self._foreign_keys_deferred:
            return
        cancels = self._take_cancels()
        self._new_timers = {}  # cancelled from now on by the stored path, in order
        groups = self._take_bulk(BULK_FIRST + BULK_ORDER)
        if not groups and not cancels:
            return
        connection = await self.session.connection()
        self._ahead = asyncio.ensure_future(
            self._sent_ahead(self._ahead, connection, cancels, groups)
        )

    @property
    def sending_ahead(self) -> bool:
        """Rows sent ahead are still in flight."""
        return self._ahead is not None and not self._ahead.done()

    async def _sent_ahead(
        self,
        before: asyncio.Future[None] | None,
        connection: AsyncConnection,
        cancels: list[dict[str, object]],
        groups: list[tuple[Any, list[dict[str, object]]]],
    ) -> None:
        if before is not None:
            await before  # its error is this one's too: the commit raises the first
        async with execute_mutex(connection):
            if cancels:
                await self._inserter.update_many_on(
                    connection, "cancel_timers", _cancel_timers, cancels
                )
            await self._inserter.insert_together_on(connection, groups)

    async def _ahead_sent(self) -> None:
        """The rows sent ahead, written (raises the first error of their sends)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await ahead

    async def _ahead_settled(self) -> None:
        """The rows sent ahead, done with, whatever their outcome (before a rollback or a
        close: nothing is sent on the connection while one of them is in flight)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            await asyncio.gather(ahead, return_exceptions=True)

    def update_later(self, model: type, key: object, values: dict[str, object]) -> None:
        """Queue an UPDATE of the row with primary key ``key`` (plain data, no ORM object);
        written at the next flush, after its inserts, as one executemany per table and
        set of columns. Several updates of one row before a flush merge (later values win).
        """
        self._updates.setdefault(model, {}).setdefault(key, {}).update(values)

    async def _flush(self, *, last: bool) -> None:
        """Writes what this transaction queued, in this order. On SQLite the statements
        are queued in ``_writes`` and sent in one hop to aiosqlite's thread: at the end
        of the flush, or with the COMMIT when ``commit()`` flushes (``last``), and before
        the ORM's own flush when it has rows to write (they may point at these)."""
        await self._cancel_queued()  # stored timers only: before this flush's inserts
        self._new_timers = {}
        if self.postgres and not self.session.new:
            await self._flush_postgres(last=last)
            return
        with self.session.no_autoflush:  # the ORM rows must wait for these
            await self._insert_bulk(BULK_FIRST)
            await self._insert_new(last=last)
            if last:
                await self._update_changed()
        session = self.session
        if self._writes and (session.new or session.dirty or session.deleted):
            await self._send_writes(commit=False)
        await session.flush()
        await self._insert_bulk(BULK_ORDER)
        await self._update_queued()
        if not last:
            await self._send_writes(commit=False)

    async def _flush_postgres(self, *, last: bool) -> None:
        """PostgreSQL, the ORM having no new row to insert (none that this flush's rows
        could point at): every queued insert in one ``insert_together`` (one statement
        for a small poll), before the changed rows' UPDATEs and the ORM's flush (which
        may point at the new rows), as ``_flush`` orders them otherwise."""
        session = self.session
        with session.no_autoflush:
            groups = self._take_bulk(BULK_FIRST)
            new = self._new_rows()
            groups.extend(new.groups)
            groups.extend(self._take_bulk(BULK_ORDER))
            # the changed rows' and the queued UPDATEs in the inserts' statement (rows that
            # exist before it, see ``insert_together``): a poll of 5, 8 → 6 statements
            updates: list[KeyedUpdates] = []
            if last:
                await self._update_changed(together=updates)
            updates.extend(self._take_queued_apart({id(table) for table, _ in groups}, updates))
            await self._inserter.insert_together(session, groups, updates)
            if not last:
                self._track_new(new.rows)
        await session.flush()
        await self._update_queued()

    def _take_queued_apart(
        self, inserted: set[int], updates: list[KeyedUpdates]
    ) -> list[KeyedUpdates]:
        """The queued updates (``update_later``) that may go in one statement with these
        inserts and ``updates``, taken: those of a table none of them writes (one
        inserted by them is not visible to an UPDATE of the same statement, and a row
        updated twice in one statement keeps one change); the rest stay queued."""
        taken: list[KeyedUpdates] = []
        apart = inserted | {id(table) for table, _ in updates}
        for model in list(self._updates):
            table = model.__table__  # type: ignore[attr-defined]
            if id(table) in apart:
                continue
            shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
            for key, values in self._updates.pop(model).items():
                shapes.setdefault(tuple(sorted(values)), []).append({"_pk": key, **values})
            taken.append((table, sorted(shapes.items(), key=lambda shape: shape[0])))
        return taken

    async def _send_writes(self, *, commit: bool) -> None:
        """SQLite: the queued statements (then COMMIT if ``commit``) in one hop. Without
        statements the session's commit ends the transaction (no hop if none is open)."""
        writes, self._writes = self._writes, []
        if writes:
            await self._inserter.send_sqlite(self.session, writes, commit=commit)

    def _take_cancels(self) -> list[dict[str, object]]:
        """The queued cancellations of stored timers (``cancel_timers_later``), taken, as
        the parameters of ``_cancel_timers``."""
        cancels, self._cancels = self._cancels, {}
        return [
            {"_conversation": conversation, "_metric": metric, "_at": at}
            for (conversation, metric), at in cancels.items()
        ]

    async def _cancel_queued(self) -> None:
        params = self._take_cancels()
        if not params:
            return
        if not self.postgres:
            self._writes.append(
                self._inserter.sqlite_update(
                    "cancel_timers", _cancel_timers, params, label="sla_timers", expect=None
                )
            )
            return
        await self._inserter.update_many(self.session, "cancel_timers", _cancel_timers, params)

    async def _update_queued(self) -> None:
        updates, self._updates = self._updates, {}
        for model, rows in updates.items():
            table = model.__table__  # type: ignore[attr-defined]
            [key_column] = table.primary_key.columns
            shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
            for key, values in rows.items():
                shapes.setdefault(tuple(sorted(values)), []).append({"_pk": key, **values})
            for columns, params in shapes.items():
                await self._update_rows(table, key_column, columns, params)

    async def _update_changed(self, *, together: list[KeyedUpdates] | None = None) -> None:
        """The commit's flush: changed conversations (on SQLite agents too) as one
        executemany UPDATE per set of changed columns, then let go by the session (the
        transaction ends here).

        The ORM's flush batches only consecutive rows that changed the same columns; a
        poll interleaves mail and chat, assigned and queued conversations, so it sent one
        UPDATE for every ~4 conversations. Like the ORM, only changed columns are written
        (a column another transaction changed meanwhile is not overwritten).

        ``together`` (PostgreSQL): each model's shapes are added to it, for the caller to
        write (``insert_together``), instead of written here."""
        shapes: dict[tuple[type, tuple[str, ...]], list[dict[str, object]]] = {}
        done = []
        core_updated = CORE_UPDATED if self.postgres else CORE_UPDATED_SQLITE
        for row in self.session.dirty:
            model = type(row)
            if model not in core_updated:
                continue
            # instance_state, not inspect (a Python walk of the class's MRO), and the key
            # from the row's dict, not through the ORM's descriptor (~3 K instructions)
            changed = _changed_values(instance_state(row), _equality(model))
            done.append(row)
            if changed:
                shape = (model, tuple(sorted(changed)))
                key = row.__dict__.get("id", NO_VALUE)
                if key is NO_VALUE:  # not loaded (expired): the ORM loads it
                    key = row.id
                shapes.setdefault(shape, []).append({"_pk": key, **changed})
        if together is not None:
            # in the order of their columns, not of the session's dirty set: one statement
            # text (one prepared statement) for one set of shapes
            for (model, keys), params in sorted(shapes.items(), key=_by_columns):
                table = model.__table__  # type: ignore[attr-defined]
                for written, same_model in together:
                    if written is table:
                        same_model.append((keys, params))
                        break
                else:
                    together.append((table, [(keys, params)]))
        elif self.postgres and len(shapes) > 1:
            # one statement for every shape of each model (bulk.update_by_key_together)
            by_model: dict[type, list[tuple[tuple[str, ...], list[dict[str, object]]]]] = {}
            for (model, keys), params in shapes.items():
                by_model.setdefault(model, []).append((keys, params))
            for model, same_model in by_model.items():
                table = model.__table__  # type: ignore[attr-defined]
                await self._inserter.update_by_key_together(self.session, table, same_model)
        else:
            for (model, keys), params in shapes.items():
                table = model.__table__  # type: ignore[attr-defined]
                await self._update_rows(table, table.c.id, keys, params)
        # written: the session's own flush must not repeat them. What ``expunge(row)``
        # does for each, in one call: ``expunge`` first walks the row's mapper for
        # relationships to cascade to, all ~45 attributes of a conversation each time
        # (~8 µs a row, ~2 % of a poll's CPU), and these models have none
        # (``_without_relationships``), so the cascade adds no row.
        for model in core_updated:
            _without_relationships(model)  # cached: checked once per model
        self.session.sync_session._expunge_states([instance_state(row) for row in done])

    async def _update_rows(
        self, table: Any, key: Any, columns: tuple[str, ...], params: list[dict[str, object]]
    ) -> None:
        """One executemany UPDATE of ``columns`` by primary key (``_pk`` in each params)."""

        def statement() -> Any:
            return (
                update(table)
                .where(key == bindparam("_pk"))
                .values({table.c[column]: bindparam(column) for column in columns})
            )

        shape = ("update", table.name, columns)
        if not self.postgres:  # the row count is checked in the flush's hop, before COMMIT
            self._writes.append(
                self._inserter.sqlite_update(
                    shape, statement, params, label=table.name, expect=len(params)
                )
            )
            return
        rowcount = await self._inserter.update_many(self.session, shape, statement, params)
        if rowcount not in (-1, None, len(params)):  # -1: the driver does not say
            raise RuntimeError(f"{table.name}: {rowcount} of {len(params)} rows updated")

    async def _insert_new(self, *, last: bool) -> None:
        """The new rows (``add_new``) inserted; unless this is the commit's flush
        (``last``), then made detached as if loaded and added to the session so that
        later changes in this transaction are UPDATEs. At the commit nothing can change
        them any more
        (their changes so far are in their INSERT; ``_update_changed`` looks only at
        rows the session tracks): ``session.add`` would be bookkeeping for nothing,
        ~18 µs per new conversation profiled, and so would making them detached (~1 %
        of routing a 500-interaction poll): those of the commit's flush stay transient
        objects holding what was inserted (routing drops them with its poll's cache)."""
        new = self._new_rows()
        for table, same_shape in new.groups:
            await self._insert(table, same_shape)
        if not last:
            self._track_new(new.rows)

    def _new_rows(self) -> _NewRows:
        """The new rows (``add_new``), taken: their values per table and shape (one
        executemany each: a JSON column left None is omitted, SQL NULL as the ORM
        writes it, rather than sent as None, JSON 'null'), and the rows by model.

        The rows holding every column (a conversation routing opened: all of them) go
        as they are, their dicts (``bulk.NewObjects``: a JSON column's None there gives
        what leaving it out gives): their parameters made once, from their dicts, where
        their values were copied (``_column_values``), grouped by a tuple of their keys,
        then read by the plan's function and on SQLite once more by the lean plan's.
        Callgrind (``bench.router_rows_callgrind --part new_params_*``, PYTHONHASHSEED=0,
        (300 - 100) / 200 new conversations of a routed poll): SQLite's INSERTs 92.0 ->
        72.5 K instructions a new conversation, PostgreSQL's COPY records 79.1 -> 65.7 K,
        its executemany / unnest tuples 75.4 -> 62.1 K.
        The rest (a column missing: Python defaults to apply) as before."""
        new, self._new = self._new, []
        by_model: dict[type, list[object]] = {}
        for row in new:
            by_model.setdefault(type(row), []).append(row)
        groups: list[tuple[Any, list[dict[str, object]]]] = []
        for model, rows in by_model.items():
            table = model.__table__  # type: ignore[attr-defined]
            columns = _insert_columns(model)
            names = columns.names
            whole = NewObjects()
            shapes: dict[tuple[str, ...], list[dict[str, object]]] = {}
            for row in rows:
                state = row.__dict__
                if names is not None and state.keys() >= names:
                    whole.append(state)
                else:
                    values = _column_values(row, columns)
                    shapes.setdefault(tuple(values), []).append(values)
            if whole:
                groups.append((table, whole))
            groups.extend((table, same_shape) for same_shape in shapes.values())
        return _NewRows(groups, by_model)

    def _track_new(self, by_model: dict[type, list[object]]) -> None:
        """Inserted new rows made detached as if loaded (every attribute present) and
        added to the session: later changes in this transaction are UPDATEs."""
        for rows in by_model.values():
            for row in rows:
                make_transient_to_detached(row)
            self.session.add_all(rows)

    async def _insert_bulk(self, models: tuple[type, ...]) -> None:
        for table, rows in self._take_bulk(models):
            await self._insert(table, rows)

    def _take_bulk(self, models: tuple[type, ...]) -> list[tuple[Any, list[dict[str, object]]]]:
        """The queued append-only rows of ``models``, taken: (table, rows) in that order;
        the outbox's recorded as written (the relay is handed them after the commit)."""
        groups: list[tuple[Any, list[dict[str, object]]]] = []
        for model in models:
            rows = self._bulk.pop(model, None)
            if rows:
                groups.append((model.__table__, rows))  # type: ignore[attr-defined]
                if model is OutboxRow:
                    self._outbox_written.extend(rows)
        return groups

    async def _insert(self, table: Any, rows: list[dict[str, object]]) -> None:
        if self.postgres:
            await self._inserter.insert(self.session, table, rows)
        else:
            self._writes.extend(self._inserter.sqlite_inserts(table, rows))

    @property
    def committed(self) -> bool:
        return self._committed

    async def commit(self) -> None:
        await self._ahead_sent()
        if self._before_commit is not None:
            await self._before_commit(self)
        await self._flush(last=True)
        marks: list[int] = []
        if not self.postgres:
            marks = self._mark_published()
            try:
                # the flush's statements and COMMIT: one hop; the session's commit then has
                # nothing left to end (OneHopConnection.commit: no hop either)
                await self._send_writes(commit=True)
            except BaseException:
                if marks:
                    assert self._published is not None
                    self._published.put_back(marks)
                raise
            if marks:
                assert self._published is not None
                self._published.marked(marks)
        self.session.info.pop(SQLITE_DRIVER, None)  # the transaction ends: its connection too
        await self.session.commit()
        self._committed = True
        written, self._outbox_written = self._outbox_written, []
        if self._hand_over is not None and written:
            self._hand_over(written)
        if self._on_commit is not None and (self.outbox.added or written):
            self._on_commit()

    def _mark_published(self) -> list[int]:
        """SQLite, a transaction that writes anyway: the rows the relay published meanwhile
        are marked sent in it (``PublishedRows``), in its hop; returns their ids."""
        if self._published is None or not self._writes or not len(self._published):
            return []
        ids = self._published.take()
        sql, runs = self._published.mark_write(ids)
        # first: it can only match published rows, never the ones this transaction inserts
        self._writes.insert(0, SqliteWrite(sql, runs, "outbox_pending", None))
        return ids

    async def rollback(self) -> None:
        await self._ahead_settled()
        self._writes = []
        self.session.info.pop(SQLITE_DRIVER, None)
        await self.session.rollback()
        self._outbox_written = []


def _by_columns(shape: tuple[tuple[type, tuple[str, ...]], object]) -> tuple[str, ...]:
    (model, columns), _ = shape
    return (model.__name__, *columns)


def _changed_values(state: Any, equal: dict[str, Callable[[Any, Any], bool]]) -> dict[str, Any]:
    """The values of a loaded row's changed columns: what ``state.get_history(key,
    PASSIVE_NO_INITIALIZE).has_changes()`` finds for each attribute set since the load
    (``committed_state`` holds their loaded values), compared here as it compares them
    (the attribute's ``is_equal``) without building a History per attribute (~1 µs
    each, ~10 per changed conversation). Anything but two plain values (an attribute
    unloaded or deleted) is left to the ORM's history, as before."""
    current = state.dict
    changed: dict[str, Any] = {}
    for key, original in state.committed_state.items():
        value = current.get(key, NO_VALUE)
        if (
            value is NO_VALUE
            or original is NO_VALUE
            or original is PASSIVE_NO_RESULT
            or key not in equal
        ):
            if state.get_history(key, PASSIVE_NO_INITIALIZE).has_changes():
                changed[key] = getattr(state.obj(), key)
            continue
        if equal[key](value, original) is not True:
            changed[key] = value
    return changed


@cache
def _without_relationships(model: type) -> None:
    """The model maps no relationship, so expunging a row cascades to no other row
    (``_update_changed``); a model that gains one fails here instead of leaving its
    related rows in the session."""
    if inspect(model).relationships:
        raise TypeError(f"{model.__name__}: expunge would cascade along its relationships")


@cache
def _equality(model: type) -> dict[str, Callable[[Any, Any], bool]]:
    """Each column attribute's ``is_equal`` (how the ORM's history compares values):
    ``operator.eq`` where that is ``x == y`` (``_plain_equality``), which it calls in
    C instead of one Python call (``TypeEngine.compare_values``) or two
    (``TypeDecorator.compare_values``: the router's ``UtcDateTime``) a changed column."""
    manager = manager_of(model)
    return {
        prop.key: _plain_equality(manager[prop.key].impl.is_equal)
        for prop in inspect(model).column_attrs
    }


def _plain_equality(is_equal: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """``operator.eq`` for a type's ``compare_values`` that is ``TypeEngine``'s (``x ==
    y``), directly or through a ``TypeDecorator`` whose impl's is; else ``is_equal``."""
    owner = getattr(is_equal, "__self__", None)
    function = getattr(is_equal, "__func__", None)
    if function is TypeDecorator.compare_values and owner is not None:
        inner = _plain_equality(owner.impl_instance.compare_values)
        return operator.eq if inner is operator.eq else is_equal
    if function is TypeEngine.compare_values:
        return operator.eq
    return is_equal


def _cancel_timers() -> Any:
    """The pending timers of (conversation, metric) cancelled at ``_at``."""
    table = SlaTimer.__table__
    return (
        update(table)
        .where(
            table.c.conversation_id == bindparam("_conversation"),
            table.c.metric == bindparam("_metric"),
            table.c.fired_at.is_(None),
            table.c.cancelled_at.is_(None),
        )
        .values(cancelled_at=bindparam("_at"))
    )


def new_row(model: type[T], values: dict[str, object]) -> T:
    """A new ORM object for ``UnitOfWork.add_new``, its values placed without the ORM's
    per-attribute change tracking (about 20x cheaper than ``model(**values)`` for a
    conversation): it is inserted with exactly these values, and tracked from then on.
    Made as the ORM makes a loaded row (its state, no ``__init__``: the declarative
    constructor only sets keyword arguments, and the mapper's init event only checks
    that mappers are configured, done at start-up), ``ClassManager.new_instance``
    inlined (``persistent.row_maker``).

    ``values`` becomes the row's ``__dict__`` (the caller hands over a dict of its own):
    not copied into the dict ``new_instance`` starts, whose growth to ~46 keys was most
    of the work. Callgrind, a conversation's 45 columns: 24.8 -> 7.5 K instructions."""
    new, make_state, set_state, manager = row_maker(model)
    row: T = new(model)
    row.__dict__ = values
    set_state(row, make_state(row, manager))
    return row


def unflushed_values(row: object) -> dict[str, Any] | None:
    """The values of a row not inserted yet (``add_new``, before the flush), to be set
    in place: its INSERT writes whatever they are then, so the ORM's change tracking
    (~0.4 µs per attribute set) is bookkeeping for nothing. None for a row the session
    tracks (loaded, or new and flushed): its changes must go through the ORM."""
    if instance_state(row).key is None:
        return row.__dict__  # type: ignore[no-any-return]
    return None


def set_values(row: object, values: dict[str, object]) -> None:
    """Set attributes of a row: in place on a row not inserted yet (``unflushed_values``),
    tracked as the ORM tracks a set otherwise.

    A row the session tracks (loaded, or new and flushed) gets what ``setattr`` does
    for a plain column attribute (``_ScalarAttributeImpl.set``: no active history, no
    ``set`` listener, ``_plain_columns``), written out: its loaded value kept in
    ``committed_state`` at the first change (``InstanceState._modified_event``), the
    new value put in its dict, and the row marked modified once for all of them (the
    modified flag, the identity map's modified set, the session's strong reference
    and autobegin: ``_modified_event`` without an attribute). Four Python calls an
    attribute less (the descriptor's ``__set__``, the impl's ``set``, the empty
    listener's ``__bool__``, ``_modified_event``). Any other attribute, or a row whose
    state keeps last known values, is set through the ORM as before. The same state
    after it: ``tests/unit/router/test_row_changes.py``."""
    state = instance_state(row)
    current = row.__dict__
    if state.key is None:  # not inserted yet: its INSERT writes whatever it holds then
        current.update(values)
        return
    if state._last_known_values is not None or not _plain_columns(type(row)).issuperset(values):
        for key, value in values.items():
            setattr(row, key, value)
        return
    committed = state.committed_state
    for key, value in values.items():
        if key not in committed:
            committed[key] = current.get(key, NO_VALUE)
        current[key] = value
    if values and (not state.modified or (state.session_id and state._strong_obj is None)):
        state._modified_event(current, None, None)


@cache
def _plain_columns(model: type) -> frozenset[str]:
    """``model``'s column attributes that ``set_values`` sets as the ORM would: scalar,
    without active history (the primary key has it: the ORM may load its old value)
    and without ``set`` listeners (a validator, a mutable type's tracking). Worked out
    once: the router adds no attribute listener after start-up."""
    manager = manager_of(model)
    plain = set()
    for prop in inspect(model).column_attrs:
        impl = manager[prop.key].impl
        dispatch = impl.dispatch
        if (
            type(impl) is _ScalarAttributeImpl
            and impl.send_modified_events
            and not dispatch._active_history
            and not dispatch.set
        ):
            plain.add(prop.key)
    return frozenset(plain)


@cache
def manager_of(model: type) -> Any:
    """The ORM's class manager of ``model``, its mappers configured (once: even when
    done, ``configure_mappers`` costs ~1.3 µs a call)."""
    configure_mappers()
    return manager_of_class(model)


class _InsertColumns:
    """A model's columns as ``_column_values`` reads them, worked out once per model."""

    def __init__(self, model: type) -> None:
        self.columns = [(prop.key, prop.columns[0]) for prop in inspect(model).column_attrs]
        self.keys = [(key, column.key) for key, column in self.columns]
        self.json = [column.key for _, column in self.columns if isinstance(column.type, JSON)]
        #: the attribute keys, when each is its column's name (the router's models): a
        #: row holding exactly these and its state is copied (``_column_values``)
        self.names = (
            frozenset(key for key, _ in self.keys)
            if all(key == name for key, name in self.keys)
            else None
        )
        self.count = len(self.keys)


@cache
def _insert_columns(model: type) -> _InsertColumns:
    return _InsertColumns(model)


def _column_values(row: object, columns: _InsertColumns) -> dict[str, object]:
    """Every column's value (Python-side defaults applied, as the ORM's INSERT would).

    A row holding every column and its state only (a conversation routing opened:
    ``_new_conversation`` sets them all, in the table's order) is copied, its state
    left out: its dict's own copy in C, where a comprehension over the 43 columns
    looked each up and inserted it (``tests/unit/router/test_row_changes.py`` holds
    the two equal: the same values, in the row's order, the table's for a row routing
    opens)."""
    state = row.__dict__
    names = columns.names
    if (
        names is not None
        and len(state) == columns.count + 1
        and DEFAULT_STATE_ATTR in state
        and state.keys() >= names
    ):
        values = state.copy()
        del values[DEFAULT_STATE_ATTR]
    else:
        try:
            values = {name: state[key] for key, name in columns.keys}
        except KeyError:
            return _column_values_with_defaults(state, columns.columns)
    for name in columns.json:
        if values[name] is None:
            del values[name]
    return values


def _column_values_with_defaults(
    state: dict[str, Any], columns: list[tuple[str, Any]]
) -> dict[str, object]:
    values: dict[str, object] = {}
    for key, column in columns:
        if key in state:
            value = state[key]
        else:
            default = column.default
            if default is None:
                value = None
            elif default.is_callable:
                value = default.arg({})
            else:
                value = default.arg
            state[key] = value  # a transient row: make_transient_to_detached commits it
        if value is None and isinstance(column.type, JSON):
            continue
        values[column.key] = value
    return values


class _NewRows(NamedTuple):
    """``UnitOfWork._new_rows``: (table, rows of one shape) to insert, the rows by model."""

    groups: list[tuple[Any, list[dict[str, object]]]]
    rows: dict[type, list[object]]


class UnitOfWorkFactory:
    """Builds units of work on one engine; the composition root owns it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[], None] | None = None,
        before_commit: BeforeCommit | None = None,
        hand_over: HandOver | None = None,
        copy_from: int = COPY_FROM,
    ) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
        self._write_lock = None if self.postgres else asyncio.Lock()
        self._bulk = BulkInserter(engine.dialect, copy_from=copy_from)
        self.on_commit = on_commit
        self.before_commit = before_commit
        self.hand_over = hand_over
        #: SQLite: rows the relay published, marked sent by the next writing unit
        #: (``PublishedRows``; the relay sets it)
        self.published: PublishedRows | None = None

    @contextmanager
    def watching_driver(self, watch: Callable[[str], None]) -> Iterator[None]:
        """``watch`` gets the SQL of each statement sent to the driver itself meanwhile
        (executemany, PostgreSQL COPY, the poll's lookups), unseen by SQLAlchemy's
        cursor events."""
        self._bulk.watchers.append(watch)
        try:
            yield
        finally:
            self._bulk.watchers.remove(watch)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self._sessions,
            postgres=self.postgres,
            write_lock=self._write_lock,
            on_commit=self.on_commit,
            before_commit=self.before_commit,
            hand_over=self.hand_over,
            published=self.published,
            bulk=self._bulk,
        )

    def reader(self) -> UnitOfWork:
        """A read-only unit: no write lock (SQLite WAL readers run beside the writer)."""
        return UnitOfWork(self._sessions, postgres=self.postgres, write_lock=None, bulk=self._bulk)
