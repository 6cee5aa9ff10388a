"""Transactional outbox: routing events stored with the change that caused them.

The database is the record of what is unsent (``outbox_pending``, filled in the
inserting transaction: a trigger on PostgreSQL, the bulk insert on SQLite) and in
which order (``id``). The rows a unit of work commits are also handed to the relay in
memory (``CommittedOutbox``), so the relay reads only their ids and event ids back,
not their payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import partial
from itertools import islice
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from pydantic_core import SchemaSerializer, to_json
from sqlalchemy import ColumnElement, Select, any_, bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from libs.common.constructed import constructed
from libs.common.events.routing import ConversationSnapshot, RoutingEvent
from libs.common.ids import ORDINAL_DIGITS, ORDINALS, ordinal_id_stem, time_ordered_id_beside
from services.router.store.bulk import driver_connection
from services.router.store.event_json import (
    FieldsWriter,
    fields_serializer,
    fields_writer,
    json_time,
    json_time_text,
    model_writer,
)
from services.router.store.models import OutboxPending, OutboxRow, OutboxSentMark


class BulkWriter(Protocol):
    def insert_later(self, model: type, values: dict[str, object]) -> None: ...


class OutboxWriter:
    """Adds rows; the event id is derived from the cause, the event's ordinal and its
    conversation (``ids.ordinal_id``), so redoing the same work (after a rollback)
    yields the same ids."""

    def __init__(self, uow: BulkWriter) -> None:
        self._uow = uow
        #: per cause: its next event's ordinal, the conversation id of its last event
        #: and their ids' stem (``ids.ordinal_id_stem``)
        self._causes: dict[str, tuple[int, str, str]] = {}
        self.added: list[str] = []
        #: the last snapshot serialised and its JSON: a cause usually emits several
        #: events over one unchanged snapshot (the emitter hands the same object over)
        self._snapshot_json: tuple[ConversationSnapshot, str] | None = None

    def add(self, event: RoutingEvent, *, cause: str) -> str:
        # the fields read from the instance's __dict__, the class variable from its class:
        # a model's attributes are looked up through BaseModel's __getattr__ hook
        # (callgrind: ~0.6 K instructions each; 4 per event)
        return self._add(type(event), _fields_of(event), event, cause)

    def add_values(self, model: type[RoutingEvent], values: dict[str, Any], *, cause: str) -> str:
        """``add(constructed(model, values), cause=cause)``, the same row, without the
        instance: ``values`` is what its ``__dict__`` would be (every field of ``model``,
        in order, of its field's type: ``events._FastEvent.emitted_values``); its
        payload is serialised from them (``_payload``; an instance is put together only
        for a model or snapshot that the values alone do not serialise)."""
        return self._add(model, values, None, cause)

    def add_written(
        self,
        model: type[RoutingEvent],
        snapshot: ConversationSnapshot,
        occurred_at: datetime,
        tail: str,
        *,
        cause: str,
    ) -> str:
        """The row of an event of ``model`` whose payload's members after its
        conversation (``snapshot``, exactly a ``ConversationSnapshot``) and its closing
        brace are ``tail``, already written (``events.Emitter.emit``: its values'
        JSON, as ``_payload`` writes them), its time ``occurred_at``: the event's
        ``schema_version`` its model's default. The snapshot's JSON as ``_payload``
        writes it (once for the events that carry the same snapshot object)."""
        snapshot_json = self._snapshot_text(snapshot)
        about = _fields_of(snapshot)["conversation_id"]
        return self.add_json(model, about, snapshot_json, occurred_at, tail, cause=cause)

    def add_json(
        self,
        model: type[RoutingEvent],
        about: str,
        snapshot_json: str,
        occurred_at: datetime,
        tail: str,
        *,
        cause: str,
        head: str | None = None,
    ) -> str:
        """``add_written``'s row with its conversation's snapshot given as its id
        (``about``) and JSON (``snapshot_json``, as ``_snapshot_text`` writes it:
        ``events.Emitter._ready_written``), no snapshot instance. ``head``: the text
        before ``snapshot_json`` where it is not the model's (``_add``: the whole payload
        as ``snapshot_json``, ``head`` and ``tail`` empty).

        The row made here, not by a method of its own: a routed interaction's 2-3
        events each come this way (callgrind, ``bench.emit_written_callgrind --rows``)."""
        if head is None:
            try:
                head, ce_type = _MODEL_ROWS[model]
            except KeyError:
                head, ce_type = _MODEL_ROWS[model] = (_model_head(model), model.ce_type)
        else:
            ce_type = model.ce_type
        # beside its conversation in the event_id index (ordered, not random;
        # bench.store_growth): the cause's stem beside it and the event's ordinal
        # (ids.ordinal_id), one hash a cause and not one an event
        causes = self._causes
        known = causes.get(cause)
        if known is not None and known[1] == about:
            ordinal, _, stem = known
        else:  # the cause's first event, or one about another conversation
            ordinal = known[0] if known is not None else 0
            stem = ordinal_id_stem(about, _KIND, cause)
        causes[cause] = (ordinal + 1, about, stem)
        if ordinal < ORDINALS:
            event_id = stem + ORDINAL_DIGITS[ordinal]
        else:  # a cause's 257th event on: the whole name hashed for each
            event_id = time_ordered_id_beside(about, _KIND, cause, ordinal)
        row = {
            "event_id": event_id,
            "ce_type": ce_type,
            "conversation_id": about,
            "occurred_at": occurred_at,
            "payload": "".join((head, snapshot_json, tail)),
        }
        self._uow.insert_later(OutboxRow, row)
        self.added.append(event_id)
        return event_id

    def _add(
        self,
        model: type[RoutingEvent],
        fields: dict[str, Any],
        event: RoutingEvent | None,
        cause: str,
    ) -> str:
        payload = self._payload(model, fields, event)
        about = _fields_of(fields["conversation"])["conversation_id"]
        occurred_at = fields["occurred_at"]
        return self.add_json(model, about, payload, occurred_at, "", cause=cause, head="")

    def _snapshot_text(self, snapshot: ConversationSnapshot) -> str:
        """The snapshot's JSON, made once for the events that carry the same snapshot
        object (the last one kept)."""
        cached = self._snapshot_json
        if cached is not None and cached[0] is snapshot:
            return cached[1]
        # orjson where it writes pydantic-core's bytes (event_json.model_writer: ~48 ->
        # ~24 K instructions a snapshot), else pydantic-core
        text = _write_snapshot(snapshot) or _SNAPSHOT_SERIALIZER.to_json(snapshot).decode()
        self._snapshot_json = (snapshot, text)
        return text

    def _payload(
        self, model: type[RoutingEvent], fields: dict[str, Any], event: RoutingEvent | None
    ) -> str:
        """``event.model_dump_json()``, byte for byte, with the conversation snapshot
        serialised once for the events that carry the same snapshot object: the
        snapshot is ~3/4 of a payload's JSON, and 2-3 events of one cause share it.
        The event's own fields are dumped without ``schema_version`` and
        ``conversation`` (its first two fields) and those two are put in front.
        ``model_dump_json`` is ``__pydantic_serializer__.to_json(...).decode()``; called
        directly (with the excluded names as a ``set``: a frozenset costs pydantic
        ~0.5 µs more) the rest of an event costs ~0.7-1.5 µs instead of ~1.2-2.
        The snapshot's JSON is decoded once with it and the pieces joined as text: the
        rest of an event is short, the snapshot ~1 KB of mostly non-ASCII text whose
        decoding per event was most of the join (callgrind: join and decode 11.0 K →
        3.4 K instructions an event), and the schema version's JSON is looked up.
        ``fields`` is the event's ``__dict__`` (``add`` read it), ``event`` the instance
        or None (``add_values``: put together here only where the values alone do not do)."""
        snapshot = fields["conversation"]
        if type(snapshot) is not ConversationSnapshot:  # a subclass dumps differently
            if event is None:
                event = constructed(model, fields)
            return event.model_dump_json()
        snapshot_json = self._snapshot_text(snapshot)
        version = fields["schema_version"]
        head = _HEADS.get(version)
        if head is None:
            head = _HEADS[version] = f'{{"schema_version":{to_json(version).decode()},'
        # occurred_at, the field after those two, looked up when in UTC (event_json:
        # pydantic-core's datetime is ~3 K instructions), the fields after it dumped
        at = fields["occurred_at"]
        if type(at) is datetime and at.tzinfo is UTC:
            # the fields after it written by a function of their own when their values
            # are of plain types (event_json.fields_writer: ~12 K instructions an event
            # less than a to_json call), else by a typed-dict serializer
            try:
                writer = _AFTER_TIME_WRITERS[model]
            except KeyError:  # not built yet (None there means: no writer for it)
                writer = _AFTER_TIME_WRITERS[model] = _after_time_writer(model)
            if writer is not None:
                members = writer(fields)
                if members is not None:
                    return "".join(
                        (head, '"conversation":', snapshot_json, ',"occurred_at":',
                         json_time_text[at], members, "}")
                    )  # fmt: skip
            try:
                after_time = _AFTER_TIME_SERIALIZERS[model]
            except KeyError:  # not built yet (None there means: no fast serializer)
                after_time = _rest_serializer(model, _AFTER_TIME)
                _AFTER_TIME_SERIALIZERS[model] = after_time
            if after_time is not None:
                rest = after_time.to_json(fields)  # b'{…}', b'{}' when nothing follows
                tail = b"}" if len(rest) == 2 else b"," + rest[1:]
                occurred_at = b"".join((b',"occurred_at":', json_time[at], tail)).decode()
                return "".join((head, '"conversation":', snapshot_json, occurred_at))
        try:
            rest_serializer = _REST_SERIALIZERS[model]
        except KeyError:  # not built yet (None there means: no fast serializer)
            rest_serializer = _REST_SERIALIZERS[model] = _rest_serializer(model)
        if rest_serializer is not None:
            rest = rest_serializer.to_json(fields)
        else:
            if event is None:
                event = constructed(model, fields)
            rest = model.__pydantic_serializer__.to_json(event, exclude=_SPLICED)
        # rest is b'{"occurred_at":…}' (never empty: occurred_at is required)
        return "".join((head, '"conversation":', snapshot_json, ",", rest[1:].decode()))


#: the id space of outbox event ids
_KIND = "router.outbox"
#: the fields ``OutboxWriter._payload`` writes itself, the event's first two (a set,
#: never changed: pydantic takes a set fastest)
_SPLICED = {"schema_version", "conversation"}
_SNAPSHOT_SERIALIZER = ConversationSnapshot.__pydantic_serializer__
_write_snapshot = model_writer(ConversationSnapshot) or (lambda snapshot: None)
#: a model instance's field values (``vars``: no attribute lookup through the model's hook)
_fields_of = vars
#: ``OutboxWriter._payload``: the payload's text up to the conversation, per schema version
_HEADS: dict[object, str] = {}
#: ``OutboxWriter.add_json``: per event type, its payload's text up to the
#: conversation's JSON (``_model_head``) and its ``ce_type``
_MODEL_ROWS: dict[type, tuple[str, str]] = {}


def _model_head(model: type[RoutingEvent]) -> str:
    """``{"schema_version":…,"conversation":`` of an event of ``model`` whose
    ``schema_version`` is its default (a field of the first two of every routing event)."""
    names = tuple(model.model_fields)
    if names[:2] != ("schema_version", "conversation"):
        raise ValueError(f"{model.__name__}'s first fields are not {names[:2]}")
    version = model.model_fields["schema_version"].default
    return f'{{"schema_version":{to_json(version).decode()},"conversation":'


#: ``OutboxWriter._payload``: per event type, the serializer of its fields but the
#: spliced two, or None (that type's rest dumped with ``exclude``)
_REST_SERIALIZERS: dict[type, SchemaSerializer | None] = {}
#: the fields ``OutboxWriter._payload`` writes itself when the event's time is in UTC:
#: the spliced two and the one after them
_AFTER_TIME = frozenset({*_SPLICED, "occurred_at"})
#: ``OutboxWriter._payload``: per event type, the serializer of its fields after those
_AFTER_TIME_SERIALIZERS: dict[type, SchemaSerializer | None] = {}


#: ``OutboxWriter._payload``: per event type, the writer of its fields after those, or
#: None (``event_json.fields_writer`` does not write them)
_AFTER_TIME_WRITERS: dict[type, FieldsWriter | None] = {}


def _after_time_writer(model: type) -> FieldsWriter | None:
    names = tuple(name for name in getattr(model, "model_fields", {}) if name not in _AFTER_TIME)
    return fields_writer(model, names)


def _rest_serializer(
    model: type, spliced: frozenset[str] | set[str] = _SPLICED
) -> SchemaSerializer | None:
    """A serializer of ``model``'s instance ``__dict__`` as a typed dict of its fields
    but ``spliced``, in order, each with its own field's schema (aliases, exclusions):
    the bytes of ``to_json(event, exclude=spliced)`` without the model serializer's
    per-call exclusion set and instance checks (callgrind, the events of two router
    polls: 18.6 → 15.5 K instructions an event). None for a model whose schema is not
    plain fields (a model or field serializer of its own, computed fields, extras)."""
    names = tuple(name for name in getattr(model, "model_fields", {}) if name not in spliced)
    return fields_serializer(model, names)


class PendingEvent(NamedTuple):
    """An unsent outbox row, read as a plain tuple (the relay reads thousands)."""

    id: int
    event_id: str
    ce_type: str
    conversation_id: str
    occurred_at: datetime
    payload: str


#: a row's fields as a ``PendingEvent``: what its ``_make`` does, in C, without the named
#: tuple's Python ``__new__`` per row (the commit hands ~2.2 rows an interaction over)
_pending_event = partial(tuple.__new__, PendingEvent)


class CommittedOutbox:
    """Outbox rows committed by this process and not yet published, keyed by event id.

    The unit of work hands them over right after its commit (never before: a rolled-back
    row must not be published). Bounded (a relay round's most; ~1.5 KB a row): when the
    relay cannot keep up (Kafka down, or another PostgreSQL replica holds the relay
    lock) the oldest are forgotten, and the relay reads those from the database like
    any row it was not handed.
    """

    def __init__(self, *, limit: int = 10_000) -> None:
        self._rows: dict[str, PendingEvent] = {}
        #: the row handed over under an event id, or None: the dict's own ``get`` (the
        #: relay looks up every row a round reads), no Python frame a lookup
        self.get: Callable[[str], PendingEvent | None] = self._rows.get
        self._limit = limit
        #: set on every hand-over: the relay waits on it between rounds
        self.wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._rows)

    def hand_over(self, rows: Iterable[Mapping[str, object]]) -> None:
        for row in rows:
            event_id = str(row["event_id"])
            occurred_at = row["occurred_at"]
            assert isinstance(occurred_at, datetime)
            self._rows[event_id] = _pending_event(
                (
                    0,  # the database's id is not known here (no RETURNING): the relay reads it
                    event_id,
                    str(row["ce_type"]),
                    str(row["conversation_id"]),
                    occurred_at.astimezone(UTC),  # as the UTC column gives it back
                    str(row["payload"]),
                )
            )
        overflow = len(self._rows) - self._limit
        if overflow > 0:
            for event_id in list(islice(self._rows, overflow)):
                del self._rows[event_id]
        self.wake.set()

    def event_ids(self) -> set[str]:
        return set(self._rows)

    def forget(self, event_ids: Iterable[str]) -> None:
        pop = self._rows.pop
        for event_id in event_ids:
            pop(event_id, None)


class UnsentId(NamedTuple):
    id: int
    event_id: str


#: a read row (id, event id) as an ``UnsentId``: what its ``_make`` does, in C, without
#: the named tuple's Python ``__new__`` per row (callgrind, 2,640 rows: 2.6 K → 1.5 K
#: instructions a row; a round reads ~2.2 rows an interaction routed)
_unsent_id = partial(tuple.__new__, UnsentId)


async def unsent_ids(
    session: AsyncSession | AsyncConnection, *, limit: int, excluding: Iterable[int] = ()
) -> list[UnsentId]:
    """The next unsent rows in publishing order, without their payloads, but the rows
    ``excluding`` (SQLite: published, not yet marked). Those are left out by the query
    (``NOT (id BETWEEN lo AND hi)`` per run of consecutive excluded ids: exactly
    ``id NOT IN excluding``) instead of read and dropped: up to a mark interval of
    them (~1,400 rows at the backlog's pace) had been read again by every round.

    The relay publishes in id order, so what it excludes is nearly always one run:
    that is told from the set's size, least and greatest (C loops), and the round runs
    a statement built once, instead of sorting the set in ``id_runs`` (a Python loop
    over ~1,400 ids) and building a new select per round: the event loop's thread
    5.37 → 4.50 M instructions a round reading 500 ids past 1,400 left out (callgrind,
    ``bench.unsent_ids_cost``; 4.50 → 2.72 M more with ``_read_unsent``)."""
    left_out = excluding if isinstance(excluding, set | frozenset) else set(excluding)
    usual = _usual_statement(limit, left_out)
    if usual is not None:
        return await _read_unsent(session, *usual)
    table, pending = OutboxRow.__table__, OutboxPending.__table__
    query = select(pending.c.id, table.c.event_id).join(table, table.c.id == pending.c.id)
    runs = id_runs(left_out)
    if len(runs) > _MAX_EXCLUDED_RUNS:  # scattered: read them and drop them here
        query = query.order_by(pending.c.id).limit(limit + len(left_out))
        rows = _unsent(await session.execute(query))
        return [row for row in rows if row.id not in left_out][:limit]
    for run_lo, run_hi in runs:
        query = query.where(sa.not_(pending.c.id.between(run_lo, run_hi)))
    query = query.order_by(pending.c.id).limit(limit)
    return _unsent(await session.execute(query))


def _usual_statement(
    limit: int, left_out: set[int] | frozenset[int]
) -> tuple[Select[Any], dict[str, int]] | None:
    """One of ``unsent_ids``' two statements built once and its parameters, when nothing
    or one run of consecutive ids is left out; None otherwise."""
    if not left_out:
        return _UNSENT, {"limit": limit}
    lo, hi = min(left_out), max(left_out)
    if hi - lo + 1 == len(left_out):  # distinct ints spanning their count: one run
        return _UNSENT_BUT_RUN, {"lo": lo, "hi": hi, "limit": limit}
    return None


def _unsent(result: Any) -> list[UnsentId]:
    return list(map(_unsent_id, result.all()))


async def _read_unsent(
    session: AsyncSession | AsyncConnection, statement: Select[Any], params: dict[str, int]
) -> list[UnsentId]:
    """``statement`` (one of ``unsent_ids``' usual two); on SQLite its SQL sent to the
    driver in one hop, the rows plain tuples: through SQLAlchemy (execution context,
    the adapter's hops, a ``Row`` per row) a round reading 500 ids cost the event
    loop's thread 4.50 M instructions, this way 2.72 M (callgrind, the difference
    between 20 and 120 rounds of ``bench.unsent_ids_cost``; aiosqlite's thread 2.53 M
    either way). Only integers and text are read: no type processing is skipped."""
    if isinstance(session, AsyncSession):
        if session.bind.dialect.name != "sqlite":  # type: ignore[union-attr]
            return _unsent(await session.execute(statement, params))
        connection = await session.connection()
    elif session.dialect.name != "sqlite":
        return _unsent(await session.execute(statement, params))
    else:
        connection = session
    raw = await driver_connection(connection)
    rows = await raw.execute_fetchall(*_sqlite_statement(statement, params))
    return list(map(_unsent_id, rows))


def _sqlite_statement(statement: Select[Any], params: dict[str, int]) -> tuple[str, list[int]]:
    """One of ``unsent_ids``' usual two statements as SQLite text and its arguments in
    order (``_SQLITE_SQL``), for the driver or ``LocalUnsentRead``'s connection."""
    sql, order = _SQLITE_SQL[statement]
    return sql, [params[name] for name in order]


class UnsentReader:
    """SQLite: the relay's read of the next unsent ids (``unsent_ids``), on the event
    loop's own thread where it can be, else on a pooled connection it keeps.

    On the loop's thread (``LocalUnsentRead``): the usual two statements on a plain
    ``sqlite3`` connection of the loop's thread, no hop to a database thread. The hop
    (the worker's wake-up, ``call_soon_threadsafe``, the self-pipe, GIL hand-offs) was
    the round's longest wait between its wake-up and its publish: it queues behind the
    CPU the next poll's routing holds, then waits again for the loop to come round
    (``bench.router_throughput --trace`` at 500/s, load ~5: ``round_began->publish_began``
    p50 44 ms, of a statement of ~0.1 ms). The read never waits on a lock there (busy
    timeout 0: in WAL mode a reader is not blocked by the writer; if SQLite says busy
    all the same, that round reads through the hop).

    Otherwise (another journal mode, an in-memory store, more than one run of ids left
    out, or a read that failed on the loop's thread) on a pooled connection it keeps, not
    through a reader unit of work a round: the session, the pool's checkout and check-in
    (its reset) and the unit's set-up cost the event loop's thread ~390-430 µs a round
    against ~30-45 µs for the statement itself on the kept connection (2,000 empty rounds
    each, interleaved, load ~10). Either way the statement is the same and runs outside
    a transaction (sqlite3 begins none for a SELECT): each read sees what was committed
    before it. After a failed read the connection is discarded (not returned to the
    pool) and the next read opens another."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._local = LocalUnsentRead.for_engine(engine)

    async def unsent_ids(self, *, limit: int, excluding: Iterable[int] = ()) -> list[UnsentId]:
        left_out = excluding if isinstance(excluding, set | frozenset) else set(excluding)
        if self._local is not None:
            read = self._local.unsent_ids(limit=limit, excluding=left_out)
            if read is not None:
                return read
        connection = self._connection
        if connection is None:
            connection = self._connection = await self._engine.connect()
        try:
            read = await unsent_ids(connection, limit=limit, excluding=left_out)
            if connection.in_transaction():  # SQLAlchemy's autobegin of the rarer paths
                await connection.rollback()
        except BaseException:
            self._connection = None
            with contextlib.suppress(Exception):  # the read's error is the one to raise
                # invalidated: a broken connection does not go back to the pool
                await connection.invalidate()
                await connection.close()
            raise
        return read

    async def close(self) -> None:
        if self._local is not None:
            self._local.close()
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class LocalUnsentRead:
    """``unsent_ids``' usual two statements (nothing left out, or one run of ids) read on
    the calling thread, the event loop's, from a ``sqlite3`` connection of its own to
    the store's file: the same SQL text as the hop's (``_SQLITE_SQL``), the same rows.

    Only for a file in WAL mode (the router's stores: ``engine._sqlite_pragmas``), where
    a read never waits for the writer; with a busy timeout of 0 a read SQLite cannot
    serve at once raises instead of blocking the loop, and the caller reads through the
    hop. The connection is ``query_only``; it is opened at the first read (the store is
    migrated by then) and, after a failed read, at the next."""

    def __init__(self, database: str, options: Mapping[str, Any]) -> None:
        self._database = database
        self._options = dict(options)
        self._connection: sqlite3.Connection | None = None
        #: False once the store turned out not to be in WAL mode (the hop reads then)
        self.usable = True

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> LocalUnsentRead | None:
        """One for ``engine``'s SQLite file; None for an in-memory store (a connection of
        its own would see another database) or another dialect."""
        if engine.dialect.name != "sqlite":
            return None
        [path], options = engine.dialect.create_connect_args(engine.url)
        if not path or path == ":memory:" or "mode=memory" in path:
            return None
        keep = {key: options[key] for key in ("uri",) if key in options}
        return cls(path, keep)

    def unsent_ids(
        self, *, limit: int, excluding: set[int] | frozenset[int]
    ) -> list[UnsentId] | None:
        """The read, or None when it is not for here (not WAL, several runs left out) or
        failed (busy, a broken connection: the caller reads through the hop)."""
        if not self.usable:
            return None
        statement = _usual_statement(limit, excluding)
        if statement is None:
            return None
        try:
            connection = self._connection or self._open()
            if connection is None:
                return None
            rows = connection.execute(*_sqlite_statement(*statement)).fetchall()
        except sqlite3.Error:
            self.close()  # opened again at the next read
            return None
        return list(map(_unsent_id, rows))

    def _open(self) -> sqlite3.Connection | None:
        connection = sqlite3.connect(
            self._database, timeout=0, isolation_level=None, **self._options
        )
        try:
            [mode] = connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":  # a reader could wait for the writer: not here
                self.usable = False
                connection.close()
                return None
            connection.execute("PRAGMA query_only=ON")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(sqlite3.Error):
                connection.close()


def _unsent_query(*conditions: ColumnElement[bool]) -> Select[Any]:
    table, pending = OutboxRow.__table__, OutboxPending.__table__
    return (
        select(pending.c.id, table.c.event_id)
        .join(table, table.c.id == pending.c.id)
        .where(*conditions)
        .order_by(pending.c.id)
        .limit(bindparam("limit"))
    )


#: ``unsent_ids``' usual statements: nothing left out, or one run of ids
_UNSENT = _unsent_query()
_UNSENT_BUT_RUN = _unsent_query(
    sa.not_(OutboxPending.__table__.c.id.between(bindparam("lo"), bindparam("hi")))
)


#: ``_read_unsent``: the two statements' SQLite text, and their parameters in order
_SQLITE_SQL: dict[Select[Any], tuple[str, tuple[str, ...]]] = {
    _UNSENT: (
        "SELECT outbox_pending.id, outbox.event_id FROM outbox_pending"
        " JOIN outbox ON outbox.id = outbox_pending.id"
        " ORDER BY outbox_pending.id LIMIT ?",
        ("limit",),
    ),
    _UNSENT_BUT_RUN: (
        "SELECT outbox_pending.id, outbox.event_id FROM outbox_pending"
        " JOIN outbox ON outbox.id = outbox_pending.id"
        " WHERE outbox_pending.id NOT BETWEEN ? AND ?"
        " ORDER BY outbox_pending.id LIMIT ?",
        ("lo", "hi", "limit"),
    ),
}
#: ``unsent_ids``: more runs than this are left out in Python, not by the statement (a
#: statement per count of runs; SQLite limits an expression's depth to 1,000)
_MAX_EXCLUDED_RUNS = 16


#: PostgreSQL: the relay round's one statement before its publish. It takes the relay
#: lock, lets this transaction's commit return before its WAL is flushed, and marks the
#: next unsent rows sent (deletes their ``outbox_pending`` entries), returning their ids
#: and event ids, only if the lock was got.
#: The mark is the transaction's: the round commits it once Kafka acknowledged the rows
#: and rolls it back if not, so the database says the same as when the mark followed
#: the ack, and a replica taking the lock over reads them as sent. One statement where
#: there were three (lock, read, and the mark between the ack and the commit, which held
#: the next round back), and no fsync waited for. Losing the commit (the server crashed
#: within ``wal_writer_delay`` of it) only re-publishes those rows with the same ``ce_id``,
#: as a relay crash between the Kafka ack and the commit always did; consumers dedupe.
#: The CTEs with volatile functions and the UPDATE run once each (never inlined), the
#: lock first (``next`` depends on it). One row ``(false, NULL, NULL)``: another replica
#: holds the lock; ``(true, NULL, NULL)``: nothing is unsent.
#: The DELETE takes the ids as an array, looked up in the queue's primary key: with
#: ``USING next`` the planner hash-joined ``next`` to a sequential scan of the whole queue
#: once statistics had seen it full (an ANALYZE during a backlog: 55,556 rows estimated),
#: every round (EXPLAIN ANALYZE after 20,000 routed: 15.5 of the statement's 19.1 ms; with
#: the array 2.6 of 6.2), and could join the marked ids to a scan of the whole outbox.
_LOCK_AND_MARK_UNSENT = sa.text(
    "WITH relay AS ("
    " SELECT pg_try_advisory_xact_lock(:lock_key) AS got,"
    " set_config('synchronous_commit', 'off', true) AS synchronous_commit"
    "), next AS ("
    " SELECT id FROM outbox_pending"
    " WHERE (SELECT got FROM relay) ORDER BY id LIMIT :limit"
    "), marked AS ("
    " DELETE FROM outbox_pending WHERE id = ANY(ARRAY(SELECT id FROM next))"
    " RETURNING outbox_pending.id"
    ") "
    "SELECT relay.got, marked.id, outbox.event_id FROM relay "
    "LEFT JOIN marked ON true LEFT JOIN outbox ON outbox.id = marked.id ORDER BY marked.id"
)


async def lock_and_mark_unsent(
    session: AsyncSession, *, lock_key: int, limit: int
) -> list[UnsentId] | None:
    """PostgreSQL: the relay lock for this transaction and the next ``limit`` unsent rows
    in publishing order (without payloads), marked sent in this transaction (commit it
    only once they are published); ``None`` when another replica holds the lock."""
    result = await session.execute(_LOCK_AND_MARK_UNSENT, {"lock_key": lock_key, "limit": limit})
    rows = result.all()
    if not rows[0][0]:
        return None
    # an event id NULL: the row is gone (never: only published rows are deleted)
    return [UnsentId(id_, event_id) for _got, id_, event_id in rows if event_id is not None]


async def rows_by_id(
    session: AsyncSession, ids: list[int], *, postgres: bool
) -> dict[int, PendingEvent]:
    """Whole rows (payload included) of the unsent rows the relay was not handed."""
    if not ids:
        return {}
    query = _pending_columns().where(_id_in(ids, postgres=postgres))
    return {row[0]: PendingEvent(*row) for row in await session.execute(query)}


def _id_in(ids: list[int], *, postgres: bool) -> ColumnElement[bool]:
    """``id IN (...)``; on PostgreSQL ``id = ANY($1)``: one statement text whatever the
    count, so asyncpg's prepared statement is reused (an IN list of a new length is a new
    statement to prepare and plan: it took as long as publishing the rows)."""
    column = OutboxRow.__table__.c.id
    if postgres:
        # here, not at module level: on SQLite the PostgreSQL dialect is never loaded (~2 MB)
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam("ids", ids, type_=ARRAY(sa.Integer)))
    return column.in_(ids)


def _pending_columns() -> Select[Any]:
    table = OutboxRow.__table__
    return select(
        table.c.id,
        table.c.event_id,
        table.c.ce_type,
        table.c.conversation_id,
        table.c.occurred_at,
        table.c.payload,
    )


async def mark_sent(session: AsyncSession, ids: list[int]) -> None:
    """Exactly the rows ``ids`` marked sent: their ``outbox_pending`` entries deleted, as
    one statement per run of consecutive ids (``id BETWEEN lo AND hi``, executed many
    times). The relay publishes in id order, so a mark's ids are one run or a few: two
    bound parameters where an IN list had one per row (500-2,500). Deleting ~10-byte
    entries of a small table where an UPDATE of ``sent_at`` rewrote each ~1.5 KB row
    and moved its index entry (``bench.relay_cost``, SQLite: 4.0 → 1.2 CPU-µs a row,
    206 → 1 WAL pages a mark of 550 rows). The same statement on either store
    (PostgreSQL's relay marks in its round instead)."""
    if not ids:
        return
    runs = [{"lo": lo, "hi": hi} for lo, hi in id_runs(ids)]
    await session.execute(_MARK_RUN, runs)


async def record_sent_mark(session: AsyncSession, last_id: int, at: datetime) -> None:
    """The relay had published up to ``last_id`` at ``at`` (retention's clock for
    published rows; the relay records one at most every ``SENT_MARK_EVERY_S``)."""
    table = OutboxSentMark.__table__
    await session.execute(insert(table).values(sent_at=at, last_id=last_id))  # type: ignore[arg-type]


def id_runs(ids: Iterable[int]) -> list[tuple[int, int]]:
    """``ids`` as the fewest (first, last) runs of consecutive integers, ascending."""
    runs: list[tuple[int, int]] = []
    ordered = sorted(set(ids))
    if not ordered:
        return runs
    lo = hi = ordered[0]
    for id_ in ordered[1:]:
        if id_ != hi + 1:
            runs.append((lo, hi))
            lo = id_
        hi = id_
    runs.append((lo, hi))
    return runs


_MARK_RUN = delete(OutboxPending.__table__).where(  # type: ignore[arg-type]
    OutboxPending.__table__.c.id.between(bindparam("lo"), bindparam("hi"))
)
#: ``_MARK_RUN`` as SQLite's text, its parameters (lo, hi) in order: a write of the unit of
#: work's one-hop flush (``PublishedRows.mark_write``)
SQLITE_MARK_RUN = "DELETE FROM outbox_pending WHERE outbox_pending.id BETWEEN ? AND ?"


class PublishedRows:
    """SQLite: the outbox rows the relay published (Kafka acknowledged them) that are not
    yet marked sent in the database, and who marks them.

    The next committing unit of work that writes anyway (a routed poll, mostly) marks
    them in its own transaction and hop (``take``, then ``marked`` once it committed, or
    ``put_back`` if it did not): the relay's own mark write (``OutboxRelay.mark_published``)
    was a second write transaction (and fsync) a second, and a poll arriving meanwhile
    waited for the write lock behind it (``bench.router_throughput --trace``, load 6-8:
    ``WRITE LOCK`` waits of a poll up to 80-250 ms, p90 40-135 ms at 1,000/s). The relay
    marks what no unit took within ``OutboxRelay``'s mark interval (``take_stale``), so
    on an idle router the rows are marked as before.

    Until marked, the rows are unsent in the database (a crash re-publishes them, same
    ``ce_id``) and the relay's rounds skip them (``unmarked``).
    """

    def __init__(self) -> None:
        #: published, not known to be marked: the rounds' reads leave them out
        self.unmarked: set[int] = set()
        #: waiting to be marked: published since the relay's last look, and before it
        self._fresh: list[int] = []
        self._stale: list[int] = []
        #: the largest id a committed mark covered (``OutboxRelay``'s sent marks)
        self.marked_up_to = 0

    def __len__(self) -> int:
        return len(self._fresh) + len(self._stale)

    def published(self, ids: Iterable[int]) -> None:
        ids = list(ids)
        self.unmarked.update(ids)
        self._fresh.extend(ids)

    def take(self) -> list[int]:
        """Every row waiting: the taker marks them, then calls ``marked`` or ``put_back``."""
        ids = self._stale + self._fresh
        self._stale, self._fresh = [], []
        return ids

    def take_stale(self) -> list[int]:
        """The rows that were waiting at the last call already (no unit took them since);
        those waiting now become the next call's."""
        ids, self._stale, self._fresh = self._stale, self._fresh, []
        return ids

    def marked(self, ids: list[int]) -> None:
        """``ids``' mark committed."""
        self.unmarked.difference_update(ids)
        if ids:
            self.marked_up_to = max(self.marked_up_to, max(ids))

    def put_back(self, ids: list[int]) -> None:
        """``ids``' mark did not commit: waiting again (stale: the relay's next look)."""
        self._stale[:0] = ids

    def mark_write(self, ids: list[int]) -> tuple[str, list[tuple[int, int]]]:
        """SQLite: the statement and parameters marking exactly ``ids`` (as ``mark_sent``)."""
        return SQLITE_MARK_RUN, id_runs(ids)


#: ``record_sent_mark``: how far apart the marks are (retention's resolution)
SENT_MARK_EVERY_S = 60.0


def published_before(at: datetime) -> ColumnElement[bool]:
    """Outbox rows published before ``at``: covered by a sent mark older than ``at`` and
    not pending. A row committed late below a mark's id (PostgreSQL) and published after
    it counts from that mark: retention may delete it sooner after its publication."""
    marks = OutboxSentMark.__table__
    last = select(sa.func.max(marks.c.last_id)).where(marks.c.sent_at < at).scalar_subquery()
    return (OutboxRow.__table__.c.id <= last) & published()


def published() -> ColumnElement[bool]:
    """Outbox rows already published (not pending)."""
    return OutboxRow.__table__.c.id.not_in(select(OutboxPending.__table__.c.id))


def unpublished() -> ColumnElement[bool]:
    return OutboxRow.__table__.c.id.in_(select(OutboxPending.__table__.c.id))


async def forget_sent_marks(session: AsyncSession, *, before: datetime) -> None:
    """Sent marks older than ``before``: the rows they cover are deleted (retention)."""
    marks = OutboxSentMark.__table__
    await session.execute(delete(marks).where(marks.c.sent_at < before))  # type: ignore[arg-type]


class StoredEvent(NamedTuple):
    """An outbox row of one conversation and whether it was published (the timeline)."""

    id: int
    event_id: str
    ce_type: str
    occurred_at: datetime
    payload: str
    sent: bool


async def rows_for_conversation(session: AsyncSession, conversation_id: str) -> list[StoredEvent]:
    table, pending = OutboxRow.__table__, OutboxPending.__table__
    query = (
        select(
            table.c.id,
            table.c.event_id,
            table.c.ce_type,
            table.c.occurred_at,
            table.c.payload,
            pending.c.id.is_(None),
        )
        .outerjoin(pending, pending.c.id == table.c.id)
        .where(table.c.conversation_id == conversation_id)
        .order_by(table.c.id)
    )
    return [StoredEvent(*row) for row in await session.execute(query)]
