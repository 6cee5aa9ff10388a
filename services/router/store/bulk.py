"""Multi-row inserts handed straight to the driver's ``executemany``.

The unit of work writes a poll's append-only rows (interactions, Message-IDs, SLA
timers, outbox events, …) and its new conversations as one statement per table.
Through ``session.execute(insert(table), rows)`` SQLAlchemy runs each of the ~45,000
values of a 500-interaction poll through its generic bind processing; that was about
half of the CPU of a commit (profiled: a poll's flush). Here each column gets one
converter chosen once per (dialect, table, columns), doing exactly what SQLAlchemy's
processors do for the router's column types (``UtcDateTime``, ``JSON``; the others
are passed as they are), and the rows go to the driver as tuples (on SQLite to
aiosqlite's own ``executemany``: one hop to its thread instead of several).
``tests/integration/router/test_bulk_insert.py`` checks, on both databases, that the
stored values are identical to SQLAlchemy's own insert of the same rows.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import chain, groupby
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import countOf, itemgetter
from typing import Any, ClassVar, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.sqlite_thread import in_thread
from services.router.store.models import UtcDateTime

Convert = Callable[[Any], Any]
Row = dict[str, Any]
#: (table, shapes) for ``update_by_key_together``: each shape (columns, params with ``_pk``)
KeyedUpdates = tuple[sa.Table, list[tuple[tuple[str, ...], list[Row]]]]
#: PostgreSQL: a run of rows to send (table, plan, converted values, the COPY or None)
_Run = tuple[sa.Table, "_Plan", list[tuple[Any, ...]], "_Copy | None"]
#: PostgreSQL: this many rows or more of one shape go by binary COPY (asyncpg), which
#: the server takes faster than a multi-row INSERT (bench.store_ceiling: 8,473 vs
#: 5,564 interactions/s); fewer are not worth its extra round trip.
COPY_FROM = 50


class BulkInserter:
    """Builds and caches, per dialect, the statement and converters of each row shape."""

    def __init__(self, dialect: Dialect, *, copy_from: int = COPY_FROM) -> None:
        self._dialect = dialect
        self._copy_from = copy_from
        self._sqlite = dialect.name == "sqlite"
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}
        #: SQLite: a plan without some of its columns (``_lean``), per (table, the plan's
        #: columns, the indexes left out, of ``NewObjects``)
        self._lean_plans: dict[tuple[Any, ...], _Plan] = {}
        #: the plan of ``NewObjects`` of a table, by its name
        self._objects_plans: dict[str, _Plan] = {}
        #: called with the SQL of each statement sent to the driver itself (executemany,
        #: PostgreSQL COPY, the poll's lookups), which SQLAlchemy's cursor events do not see
        self.watchers: list[Callable[[str], None]] = []
        self._updates: dict[Hashable, _Plan] = {}
        #: ``insert_together``'s statement per shape (tables and columns of its runs,
        #: tables and column sets of its updates)
        self._together: dict[tuple[tuple[tuple[str, Any], ...], ...], str] = {}
        #: ``update_by_key_together``'s statement per (table, columns of each shape)
        self._together_updates: dict[tuple[str, tuple[tuple[str, ...], ...]], str] = {}

    def sqlite_inserts(self, table: sa.Table, rows: Sequence[Row]) -> list[SqliteWrite]:
        """SQLite: the executemany INSERTs of ``rows`` in their order (consecutive rows of
        one shape: one statement), for the unit of work to send with the rest of its
        flush (``send_sqlite``). A run's rows go in multi-row INSERTs of
        ``SQLITE_ROWS_A_STATEMENT``'s sizes, the rows left over by the one-row INSERT
        (``_sqlite_params``), each ``INSERT OR FAIL`` (``SQLITE_INSERT_CONFLICT``): an executemany
        runs its statement once a row, and each run is a ``sqlite3_step`` and a
        ``sqlite3_reset``, each releasing and taking the GIL back, and a statement's
        start and end in SQLite (``sqlite3VdbeHalt``). Callgrind
        (``bench.router_db_thread_callgrind``, polls of 400 - 200, the same minutes): the
        database thread 341.7 -> 276.3 K instructions an interaction, of which GIL held
        119.4 -> 106.0 K (the GIL taken back 50.4 -> 19.9 times an interaction), GIL
        released 222.3 -> 170.3 K (``sqlite3VdbeHalt`` 23.7 -> 3.3 K); the main thread
        768.3 -> 776.6 K (the chunks' lists, ``_chunks``). The same rows in the same
        order (``test_bulk_insert``); a failing row fails the flush, and the unit of
        work rolls the transaction back, as before."""
        queued = _QUEUE_STATEMENTS.get(table.name)
        return [
            SqliteWrite(plan.sqlite_rows_sql(size), values, table.name, None, queued)
            for plan, sized in self._sqlite_runs(table, rows)
            for size, values in sized
        ]

    def _sqlite_runs(self, table: sa.Table, rows: Sequence[Row]) -> Iterator[_SqliteRun]:
        """SQLite: ``rows`` as (statement, parameters of its multi-row INSERT, of its
        one-row INSERT: ``_sqlite_params``), one for each run of consecutive rows of one
        shape, each run's statement leaving out the columns None in all its rows
        (``_lean``). ``NewObjects``: one run of every column. Otherwise
        the shapes told as ``_runs`` tells them: every column of a run's plan is read in
        each of its rows (the columns left out by ``_lean``'s look down them, the others
        by the tuples), so a row of another shape raises KeyError."""
        if not rows:
            return
        if type(rows) is NewObjects:
            yield self._lean(table, self._objects_plan(table), rows)
            return
        plan = self._plan(table, tuple(rows[0]))
        if len(set(map(len, rows))) == 1:
            try:
                run = self._lean(table, plan, rows)
            except KeyError:  # another shape among them (or a converter's own KeyError:
                pass  # then raised again below, from its row's own plan)
            else:
                yield run
                return
        for keys, same_shape in groupby(rows, key=tuple):
            yield self._lean(table, self._plan(table, keys), list(same_shape))

    def _lean(self, table: sa.Table, plan: _Plan, rows: Sequence[Row]) -> _SqliteRun:
        """SQLite: the run's plan and parameters without the columns that are None in
        every row and that the INSERT may leave out (no default of either kind, not the
        key): SQLite stores NULL in them all the same. A ``None`` parameter costs the
        database thread ~1.2 K instructions with the GIL (its adapter, ``sqlite_driver``,
        and ``sqlite3_bind_null``); a routed interaction's rows bind ~12 that are None in
        their whole run (a new conversation's assignee, first response, resolution, the
        assistant's five columns, …; a timer's ``fired_at`` and ``cancelled_at``; a new
        contact's name and locale). Told by the columns None in the run's first row, then
        read down each of those (``itemgetter``), in the rows themselves (a JSON column
        only where None is SQL NULL: ``NewObjects``); the kept columns' parameters made
        from the rows by the lean plan's own functions (``_sqlite_params``), not taken
        from the full plan's tuple (a second tuple a row, the left-out columns converted
        for nothing). The Nones counted down the column (``countOf``), no list of it made
        (replay of a poll's rows: 83.80 → 83.65 K instructions an interaction)."""
        rows = plan.with_defaults(rows)
        first, count = rows[0], len(rows)
        nulls = tuple(
            i
            for i, key in plan.omittable
            if first[key] is None and countOf(map(itemgetter(key), rows), None) == count
        )
        if len(nulls) == len(plan.columns):
            nulls = ()
        constants: tuple[int, ...] = ()
        if count >= SQLITE_ROWS_A_STATEMENT[-1] and plan.constants:
            constants = _constants(plan, rows, nulls)
        key = (table.name, tuple(plan.columns), nulls, plan.objects, constants)
        lean = self._lean_plans.get(key)
        if lean is None:
            lean = self._lean_plans[key] = self._lean_plan(table, plan, nulls, constants)
        return lean, _sqlite_params(lean, rows)

    def _lean_plan(
        self,
        table: sa.Table,
        plan: _Plan,
        nulls: tuple[int, ...],
        constants: tuple[int, ...] = (),
    ) -> _Plan:
        """``plan`` without the columns at ``nulls``: its statement and converters; its
        multi-row INSERTs binding the value of each column at ``constants`` once, in
        their first row (``_constants``)."""
        kept = [c for i, c in enumerate(plan.columns) if i not in nulls]
        compiled = (
            sa.insert(table)
            .prefix_with(SQLITE_INSERT_CONFLICT, dialect="sqlite")
            .compile(dialect=self._dialect, column_keys=kept, for_executemany=True)
        )
        if list(compiled.positiontup or ()) != kept:
            raise ValueError(f"{table.name}: {kept} compiled as {compiled.positiontup}")
        return _Plan(
            str(compiled),
            kept,
            [(kept.index(plan.columns[i]), c) for i, c in plan.converters if i not in nulls],
            {},
            objects=plan.objects,
            json_none={
                kept.index(plan.columns[i]): none
                for i, none in plan.json_none.items()
                if i not in nulls
            },
            bound_once=frozenset(kept.index(plan.columns[i]) for i in constants),
        )

    def sqlite_update(
        self,
        shape: Hashable,
        build: Callable[[], sa.Update],
        params: list[Row],
        *,
        label: str,
        expect: int | None,
    ) -> SqliteWrite:
        """SQLite: an executemany of the UPDATE ``build()`` makes (the same for one
        ``shape``), to update ``expect`` rows (``None``: any number)."""
        plan = self._update_plan_of(shape, build)
        return SqliteWrite(plan.sql, plan.tuples(params), label, expect)

    async def send_sqlite(
        self, session: AsyncSession, writes: list[SqliteWrite], *, commit: bool
    ) -> None:
        """SQLite: ``writes`` in order, then COMMIT if ``commit``, in ONE hop to the
        connection's thread (``sqlite_driver.OneHopConnection.run``), on the unit of
        work's connection and in its transaction. A failing statement (or a row count
        other than expected) raises before anything commits; the unit of work then
        rolls the transaction back, as when each statement was a hop of its own."""
        if not writes and not commit:
            return
        raw = await sqlite_driver_of(session)
        await in_thread(raw, partial(_write_all, writes, commit))
        for write, after in zip(writes, [*writes[1:], None], strict=True):
            self._sent(write.sql)
            if after is None or after.queued is not write.queued:  # a run's last
                for sql in write.queued or ():
                    self._sent(sql)

    async def insert(self, session: AsyncSession, table: sa.Table, rows: Sequence[Row]) -> None:
        """Insert ``rows`` in their order (consecutive rows of one shape: one statement)."""
        if not rows:
            return
        if self._sqlite:
            await self.send_sqlite(session, self.sqlite_inserts(table, rows), commit=False)
            return
        connection = await session.connection()
        for plan, values, copy in self._runs(table, rows, copy_from=self._copy_from):
            await self._send_run(connection, table, plan, values, copy)

    async def _send_run(
        self,
        connection: AsyncConnection,
        table: sa.Table,
        plan: _Plan,
        values: list[tuple[Any, ...]],
        copy: _Copy | None,
    ) -> None:
        await self._send_raw(await _in_transaction(connection), table, plan, values, copy)

    async def _send_raw(
        self,
        raw: Any,
        table: sa.Table,
        plan: _Plan,
        values: list[tuple[Any, ...]],
        copy: _Copy | None,
    ) -> None:
        if copy is None:
            # asyncpg's own executemany, as SQLAlchemy's adapter would call it, minus
            # the execution context and the adapter's hops around it
            await raw.executemany(plan.sql, values)
            self._sent(plan.sql)
        else:
            await copy.send(raw, values)
            self._sent(f"COPY {table.name}")

    async def _send_in_turn(self, connection: AsyncConnection, runs: Iterable[_Run]) -> None:
        """PostgreSQL: ``runs`` sent one after another, each once the one before is
        written, as ``_send_run`` sends them; but ``runs`` is iterated (a lazy iterator:
        the next run's rows converted) while the server writes the run before. asyncpg
        sends a COPY's statement and data without waiting for an answer, then waits for
        the server to write the rows (milliseconds for a backlog poll's hundreds, the
        foreign keys checked row by row): the event loop slept through that, and the
        next run's conversion waited for it. On an error the run in flight is awaited
        (a cancellation cancels it) before the error is raised: the transaction is
        rolled back after, never while a statement is in flight."""
        raw = await _in_transaction(connection)
        sending: asyncio.Future[None] | None = None
        try:
            for table, plan, values, copy in runs:
                if sending is not None:
                    await sending
                sending = asyncio.ensure_future(self._send_raw(raw, table, plan, values, copy))
                # its first step now: the statement and rows go out, then it waits for
                # the server; this task converts the next run meanwhile
                await asyncio.sleep(0)
            if sending is not None:
                await sending
        except BaseException as exc:
            if sending is not None and not sending.done():
                if isinstance(exc, asyncio.CancelledError):
                    sending.cancel()
                await asyncio.wait([sending])
            if sending is not None and sending.done() and not sending.cancelled():
                sending.exception()  # retrieved: the error raised is the first one
            raise

    async def insert_together(
        self,
        session: AsyncSession,
        groups: Sequence[tuple[sa.Table, Sequence[Row]]],
        updates: Sequence[KeyedUpdates] = (),
    ) -> None:
        """``insert_together_on`` the session's connection."""
        await self.insert_together_on(await session.connection(), groups, updates)

    async def insert_together_on(
        self,
        connection: AsyncConnection,
        groups: Sequence[tuple[sa.Table, Sequence[Row]]],
        updates: Sequence[KeyedUpdates] = (),
    ) -> None:
        """PostgreSQL: ``insert(table, rows)`` for each group in order, as ONE statement
        when no run of them is large enough to COPY: each run an ``INSERT … SELECT *
        FROM unnest(…)`` of its columns as arrays, the runs chained as data-modifying
        CTEs (one round trip, and one prepared statement per set of runs, where each
        run was an executemany round trip of its own: 6-8 a poll of a few
        interactions). The rows go in the same order with the same values (each run's
        converted tuples, transposed), and a foreign key is checked at the end of the
        statement, so a run may point at rows of an earlier one (and of a later one).
        With a run to COPY, each run goes by itself, as ``insert`` sends it.

        ``updates``: then ``update_by_key_together(table, shapes)`` of each, chained in
        the same statement (after a COPY, in one of their own). Rows that exist before
        the statement only: the chain's parts all see the snapshot it began with (an
        UPDATE of a row inserted by the same statement would find nothing), and a row
        in one part only (one change of it would be lost). A poll of 5 wrote its
        changed conversations and its counter in two round trips after its inserts'."""
        # converted lazily: once a run is to COPY, the runs after it are converted while
        # the server writes the one before (``_send_in_turn``)
        converted = (
            (table, plan, values, copy)
            for table, rows in groups
            for plan, values, copy in self._runs(table, rows, copy_from=self._copy_from)
        )
        runs: list[_Run] = []
        for run in converted:
            runs.append(run)
            if run[3] is not None:
                break
        copying = bool(runs) and runs[-1][3] is not None
        updates = [(table, shapes) for table, shapes in updates if shapes]
        if not runs and not updates:
            return
        if copying or (len(runs) == 1 and not updates):
            await self._send_in_turn(connection, chain(runs, converted))
            runs = []
            if not updates:
                return
        shape = (
            tuple((table.name, tuple(plan.columns)) for table, plan, _, _ in runs),
            tuple(
                (table.name, tuple(columns for columns, _ in shapes)) for table, shapes in updates
            ),
        )
        sql = self._together.get(shape)
        if sql is None:
            parts = _insert_parts(
                self._dialect, [(table, plan.columns) for table, plan, _, _ in runs]
            )
            number = sum(len(plan.columns) for _, plan, _, _ in runs)
            for table, shapes in updates:
                [key] = table.primary_key.columns
                more, number = _update_parts(
                    self._dialect, table, key, [columns for columns, _ in shapes], number
                )
                parts.extend(more)
            sql = self._together[shape] = _chained(parts)
        arrays = [list(column) for _, _, values, _ in runs for column in zip(*values, strict=True)]
        for table, shapes in updates:
            arrays.extend(self._update_arrays(table, shapes))
        raw = await _in_transaction(connection)
        await raw.execute(sql, *arrays)
        self._sent(sql)

    async def update_many(
        self,
        session: AsyncSession,
        shape: Hashable,
        build: Callable[[], sa.Update],
        params: list[Row],
    ) -> int:
        """An executemany of the UPDATE ``build()`` makes (the same for one ``shape``);
        returns the rows updated (-1 when the driver does not say: asyncpg). It goes to
        the driver, its values converted by each bind's column type as for inserts."""
        return await self.update_many_on(await session.connection(), shape, build, params)

    async def update_many_on(
        self,
        connection: AsyncConnection,
        shape: Hashable,
        build: Callable[[], sa.Update],
        params: list[Row],
    ) -> int:
        """``update_many`` on ``connection``."""
        plan = self._update_plan_of(shape, build)
        if not self._sqlite:
            # asyncpg's executemany: one prepared statement (cached on the connection),
            # all rows in one round trip, without SQLAlchemy's execution context and
            # its adapter's hops; asyncpg does not say how many rows it updated
            # (neither does SQLAlchemy's asyncpg adapter: its rowcount is -1 too)
            raw = await _in_transaction(connection)
            await raw.executemany(plan.sql, plan.tuples(params))
            self._sent(plan.sql)
            return -1
        raw = await _sqlite_in_transaction(connection)
        cursor = await raw.executemany(plan.sql, plan.tuples(params))
        self._sent(plan.sql)
        return cursor.rowcount  # type: ignore[no-any-return]

    async def update_by_key_together(
        self,
        session: AsyncSession,
        table: sa.Table,
        shapes: Sequence[tuple[tuple[str, ...], list[Row]]],
    ) -> None:
        """PostgreSQL: for each (columns, params) the UPDATE of those columns of the
        rows whose primary key is each params' ``_pk``, all shapes in ONE statement:
        each an ``UPDATE … FROM unnest(…)`` of its values as arrays (the key last),
        chained as data-modifying CTEs. Each row is in one shape only (a row changed
        twice in one statement would keep one change): ``UnitOfWork`` groups the
        rows by the set of columns they changed. Where an executemany per shape was a
        round trip each (two a routed poll: mail and chat change different columns)."""
        [key] = table.primary_key.columns
        shape = (table.name, tuple(columns for columns, _ in shapes))
        sql = self._together_updates.get(shape)
        if sql is None:
            sql = self._together_updates[shape] = _update_together_sql(
                self._dialect, table, key, [columns for columns, _ in shapes]
            )
        raw = await _in_transaction(await session.connection())
        await raw.execute(sql, *self._update_arrays(table, shapes))
        self._sent(sql)

    def _update_arrays(
        self, table: sa.Table, shapes: Sequence[tuple[tuple[str, ...], list[Row]]]
    ) -> list[list[Any]]:
        """``_update_parts``' parameters: each shape's columns, then its keys, as arrays."""
        arrays: list[list[Any]] = []
        for columns, params in shapes:
            for column in columns:
                convert = self._converter(table.c[column])
                values = [row[column] for row in params]
                arrays.append(values if convert is None else list(map(convert, values)))
            arrays.append([row["_pk"] for row in params])
        return arrays

    def _runs(
        self, table: sa.Table, rows: Sequence[Row], *, copy_from: int | None = None
    ) -> Iterator[tuple[_Plan, list[tuple[Any, ...]], _Copy | None]]:
        """``rows`` as (statement, parameter tuples), one for each run of consecutive rows
        of one shape. The usual case, one shape (a caller's rows are made by one dict
        display, or grouped by shape already), is told without reading each row's keys:
        rows of as many keys as the first, each holding every key of the first's plan
        (else its tuple raises KeyError), hold the same keys. ``groupby(rows,
        key=tuple)`` made and compared a tuple of every row's keys: ~7 % of the
        instructions of turning a poll's rows into parameters (a new conversation has
        42 columns)."""
        if not rows:
            return
        if type(rows) is NewObjects:
            plan = self._objects_plan(table)
            yield plan, *plan.values(rows, copy_from)
            return
        plan = self._plan(table, tuple(rows[0]))
        if len(set(map(len, rows))) == 1:
            try:
                yield plan, *plan.values(rows, copy_from)
                return
            except KeyError:  # another shape among them (or a converter's own KeyError:
                pass  # then raised again below, from its row's own plan)
        for keys, same_shape in groupby(rows, key=tuple):
            plan = self._plan(table, keys)
            yield plan, *plan.values(list(same_shape), copy_from)

    def _update_plan_of(self, shape: Hashable, build: Callable[[], sa.Update]) -> _Plan:
        plan = self._updates.get(shape)
        if plan is None:
            plan = self._updates[shape] = self._update_plan(build())
        return plan

    def _sent(self, sql: str) -> None:
        for watch in self.watchers:
            watch(sql)

    def _update_plan(self, statement: sa.Update) -> _Plan:
        compiled = statement.compile(dialect=self._dialect)
        order = list(compiled.positiontup or ())
        converters = [
            (i, self._type_converter(compiled.binds[name].type)) for i, name in enumerate(order)
        ]
        return _Plan(str(compiled), order, [(i, c) for i, c in converters if c is not None], {})

    def _plan(self, table: sa.Table, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get((table.name, keys))
        if plan is None:
            plan = self._plans[(table.name, keys)] = self._new_plan(table, keys)
        return plan

    def _objects_plan(self, table: sa.Table) -> _Plan:
        """The plan of ``NewObjects`` of ``table``: every column, a JSON column's None
        giving what leaving it out gives (``_json_none``)."""
        plan = self._objects_plans.get(table.name)
        if plan is None:
            plan = self._new_plan(table, tuple(column.key for column in table.columns), True)
            self._objects_plans[table.name] = plan
        return plan

    def _new_plan(self, table: sa.Table, keys: tuple[str, ...], objects: bool = False) -> _Plan:
        unknown = set(keys) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name}: no such columns {sorted(unknown)}")
        # a column left out gets its Python-side default, as SQLAlchemy's insert does
        defaults = {
            c.key: _default_value(c)
            for c in table.columns
            if c.key not in keys and c.default is not None
        }
        compiled = sa.insert(table).compile(
            dialect=self._dialect, column_keys=[*keys, *defaults], for_executemany=True
        )
        order = list(compiled.positiontup or ())  # bind names = column keys, table order
        assert set(order) == {*keys, *defaults}, (table.name, order)
        converters = [(i, self._converter(table.c[key])) for i, key in enumerate(order)]
        json_none = _json_none(table, order, dict(converters)) if objects else {}
        plan = _Plan(
            str(compiled),
            order,
            [(i, convert) for i, convert in converters if convert is not None],
            defaults,
            copy=None if self._sqlite else _Copy(table, order, json_none),
            objects=objects,
            json_none=json_none,
        )
        if self._sqlite:
            plan.constants = _constant_columns(table, order)
            # a JSON column's None is JSON null, not NULL (but in NewObjects: _json_none)
            plan.omittable = tuple(
                (i, key)
                for i, key in enumerate(order)
                if table.c[key].default is None
                and table.c[key].server_default is None
                and not table.c[key].primary_key
                and (objects or not isinstance(table.c[key].type, sa.JSON))
            )
        return plan

    def _converter(self, column: sa.Column[Any]) -> Convert | None:
        if column.info.get("repeating_json") and isinstance(column.type, sa.JSON):
            return _repeating_json
        return self._type_converter(column.type)

    def _type_converter(self, type_: sa.types.TypeEngine[Any]) -> Convert | None:
        if isinstance(type_, UtcDateTime):
            return _SQLITE_TEXTS.__getitem__ if self._sqlite else _utc
        if isinstance(type_, sa.JSON):
            return _json
        return None


class NewObjects(list[Row]):
    """Rows of new ORM objects of one model (``UnitOfWork.add_new``) to insert: each an
    object's ``__dict__``, holding every column of its table by its name (and the ORM's
    state, not read). A JSON column's None stands for the column left out of the INSERT,
    as the ORM writes it (its Python default, else SQL NULL; ``_json_none``): what the
    unit of work's values of such a row (every column, a JSON column left None omitted)
    gave through ``insert`` and ``sqlite_inserts``. Their parameters are made from the
    rows themselves: not from a copy of each made first (its values then read again by
    the plan's function, and on SQLite a third time by the lean plan's ``itemgetter``)."""


def _json_none(
    table: sa.Table, order: list[str], converters: dict[int, Convert | None]
) -> dict[int, Callable[[], Any] | None]:
    """``NewObjects``: for each JSON column, what its None gives: its Python default
    converted (a function of no argument), or None (SQL NULL) for a column without
    default. A column with a server default is refused (leaving it out would give the
    server's default: no parameter gives that)."""
    given: dict[int, Callable[[], Any] | None] = {}
    for i, key in enumerate(order):
        column = table.c[key]
        if not isinstance(column.type, sa.JSON):
            continue
        convert = converters[i]
        assert convert is not None
        if column.default is not None:
            given[i] = partial(_converted_default, convert, _default_value(column))
        elif column.server_default is not None:
            raise ValueError(f"{table.name}.{key}: a server default, not for NewObjects")
        else:
            given[i] = None
    return given


def _converted_default(convert: Convert, make: Callable[[], Any]) -> Any:
    return convert(make())


class SqliteWrite(NamedTuple):
    """One executemany of a SQLite flush: its SQL, parameter tuples, what it writes (for
    errors) and how many rows it must change (``None``: any number); ``queued``: the SQL
    putting the ids of the rows it inserts into their queue table (``SQLITE_QUEUES``)."""

    sql: str
    values: Sequence[Sequence[Any]]
    label: str
    expect: int | None
    queued: tuple[str, str] | None = None


#: SQLite: the conflict clause of the flush's INSERTs (``INSERT OR FAIL INTO …``). A
#: statement that writes several rows (a multi-row INSERT, an ``INSERT … SELECT``) and
#: may stop part-way with ABORT, the default, makes SQLite keep a statement journal: a
#: copy of every page the statement changes, to undo just that statement (in memory,
#: ``temp_store``, 1 KiB chunks: ~10 mallocs and a memcpy of each 8 KiB page, freed at
#: the statement's end). With FAIL a UNIQUE or NOT NULL conflict stops the statement
#: where it is, its rows before kept, and raises as before; the flush raises, and the
#: unit of work rolls the whole transaction back (nothing of the flush catches an error
#: to go on in it), so what is stored is the same. A foreign key still makes a
#: multi-row INSERT keep its journal (the clause does not apply to them): the tables
#: without one (outbox, its queue, contacts) lose theirs.
SQLITE_INSERT_CONFLICT = "OR FAIL"


#: SQLite: tables whose new rows' ids also go into a queue table, in the same hop and
#: transaction: the outbox's unsent rows (``outbox_pending``, migration 0008). PostgreSQL
#: does it with a statement trigger; on SQLite a row trigger cost the database thread
#: ~15 µs more per routed interaction (measured in place, polls of 500, the trigger
#: dropped and created between polls; probably the statement journal SQLite keeps for
#: a statement that may write several rows and abort, for each of the executemany's
#: rows), where the ``INSERT ... SELECT`` of the new ids after the executemany does not
#: show.
SQLITE_QUEUES = {"outbox": "outbox_pending"}


def _queue_statements(table: str, queue: str) -> tuple[str, str]:
    """(the table's largest id, its ids above a given one into the queue)."""
    return (
        f'SELECT max(id) FROM "{table}"',  # noqa: S608 (the router's own table names)
        f'INSERT {SQLITE_INSERT_CONFLICT} INTO "{queue}" (id)'  # noqa: S608 (as above)
        f' SELECT id FROM "{table}" WHERE id > ?',
    )


#: ``SQLITE_QUEUES`` as the statements ``_write_all`` runs, written once
_QUEUE_STATEMENTS = {
    table: _queue_statements(table, queue) for table, queue in SQLITE_QUEUES.items()
}


def _write_all(writes: list[SqliteWrite], commit: bool, connection: sqlite3.Connection) -> None:
    """In the database thread: each write, then COMMIT (if asked). Raises at the first
    failure, with the transaction left open for the unit of work to roll back. A queued
    table's new ids are the ids above its largest before the insert: this transaction
    holds SQLite's one write lock, so no one else inserts meanwhile. Consecutive writes
    of one queued table (a run's statements of each size, ``sqlite_inserts``) are one
    insert for that: its largest id read before the first, the ids above it queued after
    the last (the same ids, two statements a run instead of two a write)."""
    before: Any = None
    last = len(writes) - 1
    for index, write in enumerate(writes):
        queued = write.queued
        if queued is not None and (index == 0 or writes[index - 1].queued is not queued):
            [before] = connection.execute(queued[0]).fetchone()
        cursor = connection.executemany(write.sql, write.values)
        try:
            changed = cursor.rowcount
        finally:
            cursor.close()
        if write.expect is not None and changed != write.expect:
            raise RuntimeError(f"{write.label}: {changed} of {write.expect} rows updated")
        if queued is not None and (index == last or writes[index + 1].queued is not queued):
            connection.execute(queued[1], (before or 0,)).close()
    if commit:
        connection.commit()


#: SQLite: a run's rows go in multi-row INSERTs of these many rows, the largest first
#: (as many of each as the rows left fill; an executemany of each over its chunks), the
#: rows left over by the plain one-row INSERT. Fewer, larger statements: each starts
#: and ends in SQLite (``sqlite3VdbeHalt``), and each copies every page it changes into
#: its statement journal first (a foreign key keeps it one, ``SQLITE_INSERT_CONFLICT``):
#: a page that 16-row statements changed one after another (the appended rows' table
#: pages, the indexes of time-ordered keys) is copied once for 64 rows. 16 stays for the
#: small polls (a 1,000/s stream's ~27 interactions).
SQLITE_ROWS_A_STATEMENT = (64, 16)


def _parameters_limit() -> int:
    """This SQLite library's limit on a statement's parameters (999 before 3.32, 32,766
    since by default; Debian's 250,000): a wider table's rows go in smaller statements
    (a new conversation has 42 columns: 64 rows bind 2,688)."""
    connection = sqlite3.connect(":memory:")
    try:
        return connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    finally:
        connection.close()


SQLITE_MAX_PARAMETERS = _parameters_limit()


#: SQLite: a run's plan and its statements' parameters, by rows a statement (1: the
#: one-row INSERT), in the order they are written
_SqliteRun = tuple["_Plan", list[tuple[int, list[tuple[Any, ...]]]]]


def _sqlite_params(plan: _Plan, rows: Sequence[Row]) -> list[tuple[int, list[tuple[Any, ...]]]]:
    """SQLite: the parameters of ``rows`` (defaults applied) for ``plan``, in their
    order: for each size of ``SQLITE_ROWS_A_STATEMENT`` (but those whose rows' columns
    pass ``SQLITE_MAX_PARAMETERS``) one tuple a multi-row INSERT of that many of the rows
    left, then one a row for the rows left over; as (rows a statement, tuples).

    A chunk's tuple is made at once from its rows by the plan's generated function
    (``chunk_tuple``, ``_chunk_maker``; the map hands it the next rows of one
    iterator), where each row's tuple was made, then the chunk's flattened into a list
    and sliced (``_chunks``, the reference): a Python call less a row, no tuple a row
    and no copying of its values twice. The same parameters in the same order
    (``test_bulk_values``' hypothesis test against ``_chunks``)."""
    count = len(rows)
    width = len(plan.columns)
    sized: list[tuple[int, list[tuple[Any, ...]]]] = []
    start = 0
    for size in SQLITE_ROWS_A_STATEMENT:
        whole = (count - start) // size * size
        if not whole or width * size > SQLITE_MAX_PARAMETERS:
            continue
        chunked = iter(rows if whole == count else rows[start : start + whole])
        sized.append((size, list(map(plan.chunk_tuple(size), *[chunked] * size))))
        start += whole
    if start < count:
        sized.append((1, list(map(plan.row_tuple, rows[start:] if start else rows))))
    return sized


def _chunks(values: list[tuple[Any, ...]], whole: int, size: int) -> list[list[Any]]:
    """The first ``whole`` (a multiple of ``size``) rows' parameters, ``size`` rows a list:
    slices of one flat list (~9 ns a value, half a ``tuple`` of each chunk's ``chain``).
    ``_sqlite_params``' reference (tests)."""
    flat = list(chain.from_iterable(values[:whole] if whole < len(values) else values))
    step = len(flat) // (whole // size)
    return [flat[i : i + step] for i in range(0, len(flat), step)]


#: ``Column.info["repeats"]`` of a column whose value in a run of new rows is usually one
#: value in every row (``models.RUN_CONSTANT``): the only kind there is (stop 41 measured
#: values repeating every few rows, for a few rows in a row or as another column's a net
#: loss: the event loop's thread paid for checking them most of what aiosqlite's saved)
CONSTANT = "constant"


def _constant_columns(table: sa.Table, order: list[str]) -> tuple[tuple[int, str, bool], ...]:
    """SQLite: (index, key, whether its values must be of one type) of the columns of
    ``order`` marked ``models.RUN_CONSTANT`` (never the key): not a timestamp, whose
    text is looked up by its value (``_SqliteTexts``: equal instants, one text). Not a
    JSON column: equal values may be different texts (``{"a": 1}`` and ``{"a": 1.0}``)."""
    constants: list[tuple[int, str, bool]] = []
    for i, key in enumerate(order):
        column = table.c[key]
        kind = column.info.get("repeats")
        if kind is None or column.primary_key:
            continue
        if kind != CONSTANT:
            raise ValueError(f"{table.name}.{key}: repeats {kind!r}, not {CONSTANT!r}")
        if isinstance(column.type, sa.JSON):
            raise ValueError(f"{table.name}.{key}: a JSON column's values cannot repeat")
        constants.append((i, key, not isinstance(column.type, UtcDateTime)))
    return tuple(constants)


def _constants(plan: _Plan, rows: Sequence[Row], nulls: tuple[int, ...]) -> tuple[int, ...]:
    """SQLite: the indexes of ``plan``'s constant columns (``_constant_columns``; not left
    out, ``nulls``) holding one value in every row of ``rows`` that goes in a multi-row
    INSERT, and binding one parameter for it: of one type, or a timestamp (its text
    looked up by its value). Such a statement binds the value once and takes it from
    where it was bound (``_numbered_rows``): ``sqlite3_bind_text`` copies each text it
    binds (a malloc, the copy and the free of the value before, under SQLite's mutexes,
    ~800 instructions of the database thread with the GIL held). Equal values of one
    type are the same parameter (of floats only 0.0 and -0.0, which a REAL column stores
    alike; 1 and 1.0, equal, are stored apart by a TEXT column), so the rows stored are
    the same."""
    whole = len(rows) // SQLITE_ROWS_A_STATEMENT[-1] * SQLITE_ROWS_A_STATEMENT[-1]
    chunked = rows[:whole] if whole < len(rows) else rows
    count = len(chunked)
    constant: list[int] = []
    for i, key, typed in plan.constants:
        if i in nulls:
            continue
        values = list(map(itemgetter(key), chunked))
        value = values[0]
        if countOf(values, value) == count and (
            not typed or countOf(map(type, values), type(value)) == count
        ):
            constant.append(i)
    return tuple(constant)


def _numbered_rows(width: int, size: int, constants: frozenset[int]) -> list[str]:
    """SQLite: ``size`` rows of ``width`` columns as numbered parameters (``?N``), in the
    order ``_chunk_maker``'s tuple holds them: the first row's numbered 1 to ``width``,
    each later row's own parameters numbered in turn, its columns at ``constants``
    numbered as the first row's."""
    first = list(range(1, width + 1))
    numbers = [first]
    following = width + 1
    for _ in range(1, size):
        row_numbers = []
        for column in range(width):
            if column in constants:
                row_numbers.append(first[column])
            else:
                row_numbers.append(following)
                following += 1
        numbers.append(row_numbers)
    return ["(" + ", ".join(f"?{number}" for number in row) + ")" for row in numbers]


class _Plan:
    """One statement and how to turn a row of that shape into its parameter tuple (and,
    on PostgreSQL, into its COPY record: ``copy``)."""

    def __init__(
        self,
        sql: str,
        order: list[str],
        converters: list[tuple[int, Convert]],
        defaults: dict[str, Callable[[], Any]],
        *,
        copy: _Copy | None = None,
        objects: bool = False,
        json_none: dict[int, Callable[[], Any] | None] | None = None,
        bound_once: frozenset[int] = frozenset(),
    ) -> None:
        """``bound_once``: SQLite, ``_lean_plan``'s (its multi-row INSERTs)."""
        self.sql = sql
        self.columns = order  # the router's column keys are their names
        self.converters = converters
        #: of ``NewObjects`` (their JSON columns' None: ``json_none``, ``_json_none``)
        self.objects = objects
        self.json_none = json_none or {}
        #: a row's parameter tuple
        self.row_tuple = _tuple_maker(order, dict(converters), self.json_none)
        self._defaults = defaults
        self.copy = copy
        #: SQLite: the multi-row INSERTs and their parameters' functions, by rows
        self._sqlite_rows_sql: dict[int, str] = {1: sql}
        self._chunk_tuples: dict[int, Callable[..., tuple[Any, ...]]] = {}
        #: SQLite: (index, key) of the columns an INSERT may leave out (``_lean``)
        self.omittable: tuple[tuple[int, str], ...] = ()
        #: SQLite: the columns whose value a multi-row INSERT binds once, in its first row
        #: (``_constants``, ``_numbered_rows``)
        self.bound_once = bound_once
        #: SQLite, a full plan: the columns ``_constants`` looks at (``_constant_columns``)
        self.constants: tuple[tuple[int, str, bool], ...] = ()

    def chunk_tuple(self, size: int) -> Callable[..., tuple[Any, ...]]:
        """The function of ``size`` rows making the multi-row INSERT's parameters
        (``_chunk_maker``), made at its first use."""
        make = self._chunk_tuples.get(size)
        if make is None:
            make = self._chunk_tuples[size] = _chunk_maker(
                self.columns, dict(self.converters), self.json_none, size, self.bound_once
            )
        return make

    def sqlite_rows_sql(self, size: int) -> str:
        """The INSERT of ``size`` rows (``VALUES (…), (…), …``)."""
        sql = self._sqlite_rows_sql.get(size)
        if sql is None:
            head, values, row = self.sql.rpartition(" VALUES ")
            if not (values and row.startswith("(") and row.endswith(")")):
                raise ValueError(f"not a one-row INSERT: {self.sql}")
            if self.bound_once:
                rows = _numbered_rows(len(self.columns), size, self.bound_once)
            else:
                rows = [row] * size
            sql = self._sqlite_rows_sql[size] = head + values + ", ".join(rows)
        return sql

    def tuples(self, rows: Sequence[Row]) -> list[tuple[Any, ...]]:
        return list(map(self.row_tuple, self.with_defaults(rows)))

    def values(
        self, rows: Sequence[Row], copy_from: int | None
    ) -> tuple[list[tuple[Any, ...]], _Copy | None]:
        """The parameter tuples of ``rows``, or their COPY records and the COPY when
        there are ``copy_from`` rows or more (PostgreSQL)."""
        copy = self.copy
        if copy is None or copy_from is None or len(rows) < copy_from:
            return self.tuples(rows), None
        return list(map(copy.record, self.with_defaults(rows))), copy

    def with_defaults(self, rows: Sequence[Row]) -> Sequence[Row]:
        if self._defaults:
            defaults = self._defaults
            rows = [{**row, **{key: make() for key, make in defaults.items()}} for row in rows]
        return rows


class _Copy:
    """PostgreSQL: a binary COPY of ``columns`` of ``table`` in which the timestamps are
    given as what their binary form is, microseconds since 2000-01-01 UTC (an int8).

    asyncpg's ``copy_records_to_table`` encodes each value with the codec of the column's
    type, read from a prepared ``SELECT columns FROM table LIMIT 1``; its ``timestamptz``
    encoder compares each datetime with ±infinity, converts it to UTC and subtracts the
    epoch (objects made per value): 1.0-1.7 µs a value where a string took 0.13 (this
    machine, 10,000 values), and a poll of 500 COPYs ~8,100 datetimes. Here the same
    COPY is sent the same way (``_protocol.copy_in``, as ``copy_records_to_table`` does)
    with the codecs of a SELECT naming those columns ``0::int8``: asyncpg writes each
    as the 8-byte integer the server reads as the ``timestamptz`` itself, taken from
    ``_PG_MICROS`` (memoized: a poll writes the same instants many times). A poll of 500
    (``bench.router_pg_statements``' traffic, thread CPU of ``BulkInserter.insert``,
    interleaved 3 and 3, load 7-9): 33.0-35.2 → 24.5-26.9 ms, the commit 46.7-49.2 →
    37.5-41.2 ms. ``tests/integration/router/test_bulk_insert.py`` holds the stored
    values equal to SQLAlchemy's own insert (instants from year 1 to 9999 too)."""

    def __init__(
        self,
        table: sa.Table,
        columns: list[str],
        json_none: dict[int, Callable[[], Any] | None] | None = None,
    ) -> None:
        """``json_none``: of ``NewObjects`` (``_json_none``)."""
        times = [key for key in columns if isinstance(table.c[key].type, UtcDateTime)]
        selected = ", ".join(
            f"0::int8 AS {_quoted(key)}" if key in times else _quoted(key) for key in columns
        )
        self.intro = f"SELECT {selected} FROM {_quoted(table.name)} LIMIT 1"  # noqa: S608
        names = ", ".join(map(_quoted, columns))
        self.statement = f"COPY {_quoted(table.name)}({names}) FROM STDIN (FORMAT binary)"
        converters: dict[int, Convert] = {
            i: _PG_MICROS.__getitem__ for i, key in enumerate(columns) if key in times
        }
        converters |= {
            i: _repeating_json if table.c[key].info.get("repeating_json") else _json
            for i, key in enumerate(columns)
            if isinstance(table.c[key].type, sa.JSON)
        }
        self.record = _tuple_maker(columns, converters, json_none or {})

    async def send(self, connection: Any, records: list[tuple[Any, ...]]) -> None:
        """``records`` COPYed on the asyncpg ``connection``, in its transaction."""
        intro = await connection._prepare(self.intro, use_cache=True)
        await connection._protocol.copy_in(self.statement, None, None, records, intro._state, None)


def _insert_parts(dialect: Dialect, runs: list[tuple[sa.Table, list[str]]]) -> list[str]:
    """``insert_together``'s inserts: each run's INSERT from its arrays (``$n`` typed
    as its column's array), to be chained."""
    inserts: list[str] = []
    number = 0
    for table, columns in runs:
        arrays = []
        for key in columns:
            number += 1
            arrays.append(f"${number}::{table.c[key].type.compile(dialect=dialect)}[]")
        names = ", ".join(_quoted(table.c[key].name) for key in columns)
        inserts.append(
            f"INSERT INTO {_quoted(table.name)} ({names})"  # noqa: S608 (own tables)
            f" SELECT * FROM unnest({', '.join(arrays)})"
        )
    return inserts


def _chained(statements: list[str]) -> str:
    """Data-modifying statements as one: all but the last as CTEs of the last (each runs
    once, whether or not the last reads it)."""
    *first, last = statements
    if not first:
        return last
    ctes = ", ".join(f"w{index} AS ({statement})" for index, statement in enumerate(first))
    return f"WITH {ctes} {last}"


def _update_together_sql(
    dialect: Dialect, table: sa.Table, key: sa.Column[Any], shapes: list[tuple[str, ...]]
) -> str:
    """``update_by_key_together``'s statement: each shape's UPDATE from its arrays,
    chained."""
    return _chained(_update_parts(dialect, table, key, shapes, 0)[0])


def _update_parts(
    dialect: Dialect,
    table: sa.Table,
    key: sa.Column[Any],
    shapes: list[tuple[str, ...]],
    number: int,
) -> tuple[list[str], int]:
    """Each shape's UPDATE from its arrays, numbered after ``$number``; and the last
    number taken."""
    updates: list[str] = []
    for index, columns in enumerate(shapes):
        arrays, names = [], []
        for column in [*columns, None]:  # None: the primary key, last
            number += 1
            typed = table.c[column].type if column is not None else key.type
            arrays.append(f"${number}::{typed.compile(dialect=dialect)}[]")
            names.append(_quoted(table.c[column].name if column is not None else "_pk"))
        values = ", ".join(f"{name} = v{index}.{name}" for name in names[:-1])
        updates.append(
            f"UPDATE {_quoted(table.name)} SET {values}"  # noqa: S608 (own tables)
            f" FROM unnest({', '.join(arrays)}) AS v{index}({', '.join(names)})"
            f' WHERE {_quoted(table.name)}.{_quoted(key.name)} = v{index}."_pk"'
        )
    return updates, number


def _quoted(name: str) -> str:
    """An SQL identifier, quoted as asyncpg quotes the COPY's table and columns."""
    return '"{}"'.format(name.replace('"', '""'))


#: PostgreSQL's timestamp epoch: its binary ``timestamptz`` counts microseconds from it
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class _PgMicros(dict[datetime | None, int | None]):
    """An aware datetime as PostgreSQL's binary ``timestamptz`` (microseconds since
    ``_PG_EPOCH``), None for None; memoized like ``_SqliteTexts`` (equal instants, equal
    numbers, whatever their zone). A naive datetime raises, as ``_utc`` does."""

    LIMIT: ClassVar[int] = 4096

    def __missing__(self, value: datetime | None) -> int | None:
        micros = None if value is None else (_aware_utc(value) - _PG_EPOCH) // _MICROSECOND
        if len(self) >= self.LIMIT:
            self.clear()
        self[value] = micros
        return micros


_PG_MICROS = _PgMicros()


def _tuple_maker(
    order: list[str],
    converters: dict[int, Convert],
    json_none: dict[int, Callable[[], Any] | None] | None = None,
) -> Callable[[Row], tuple[Any, ...]]:
    """The function turning a row into its parameter tuple: ``itemgetter`` when no
    column needs converting; else one generated expression, e.g.
    ``lambda row: (row['id'], c1(row['at']), …)`` (as ``collections.namedtuple`` does),
    without a loop, a list and a tuple copy per row around each converter call: a
    500-interaction poll converts ~15,000 values. The names are the table's column
    keys (the router's own metadata), quoted by ``repr``. ``json_none`` (``NewObjects``):
    for those columns None gives its function's value (or None), not its conversion."""
    json_none = json_none or {}
    if not converters:
        if len(order) == 1:
            [key] = order
            return lambda row: (row[key],)
        return itemgetter(*order)
    namespace, items = _tuple_items(order, converters, json_none, "row")
    return eval(f"lambda row: ({', '.join(items)},)", namespace)  # noqa: S307 - see above


def _chunk_maker(
    order: list[str],
    converters: dict[int, Convert],
    json_none: dict[int, Callable[[], Any] | None],
    size: int,
    constants: frozenset[int] = frozenset(),
) -> Callable[..., tuple[Any, ...]]:
    """SQLite: the function of ``size`` rows making one tuple of their parameters, row
    after row, each as ``_tuple_maker``'s function makes it: one generated expression,
    e.g. ``lambda r0, r1, …: (r0['id'], c1(r0['at']), …, r1['id'], …)``; the columns at
    ``constants`` of the first row only (bound once: ``_numbered_rows``)."""
    namespace: dict[str, Any] = {}
    items: list[str] = []
    for number in range(size):
        namespace, row_items = _tuple_items(order, converters, json_none, f"r{number}")
        items.extend(
            item for column, item in enumerate(row_items) if not number or column not in constants
        )
    rows = ", ".join(f"r{number}" for number in range(size))
    return eval(f"lambda {rows}: ({', '.join(items)},)", namespace)  # noqa: S307 - as above


def _tuple_items(
    order: list[str],
    converters: dict[int, Convert],
    json_none: dict[int, Callable[[], Any] | None],
    row: str,
) -> tuple[dict[str, Any], list[str]]:
    """The generated functions' names (converters, JSON None's values) and each
    column's expression of the row named ``row``."""
    namespace: dict[str, Any] = {f"c{index}": convert for index, convert in converters.items()}
    items = []
    for index, key in enumerate(order):
        if index in json_none:
            none = json_none[index]
            namespace[f"n{index}"] = none
            otherwise = "None" if none is None else f"n{index}()"
            items.append(f"(c{index}(v) if (v := {row}[{key!r}]) is not None else {otherwise})")
        elif index in converters:
            items.append(f"c{index}({row}[{key!r}])")
        else:
            items.append(f"{row}[{key!r}]")
    return namespace, items


#: ``session.info`` key: the aiosqlite connection of the unit of work's transaction, kept
#: from its first driver statement until the transaction ends (``UnitOfWork`` forgets it
#: at commit, rollback and close): ``session.connection()`` is a greenlet hop each time,
#: and a poll sends ~7 statements to the driver.
SQLITE_DRIVER = "sqlite_driver"


async def sqlite_driver_of(session: AsyncSession) -> Any:
    """The aiosqlite connection of ``session``'s transaction (``_sqlite_in_transaction``)."""
    raw = session.info.get(SQLITE_DRIVER)
    if raw is None:
        raw = await _sqlite_in_transaction(await session.connection())
        session.info[SQLITE_DRIVER] = raw
    return raw


async def driver_connection(connection: AsyncConnection) -> Any:
    """The driver's connection (aiosqlite, asyncpg) under ``connection``.

    ``get_raw_connection`` is a greenlet hop each time, in case the connection must be
    re-established; one the session holds and that is neither closed nor invalidated
    hands its driver connection over without I/O (a hop saved per driver statement)."""
    sync = connection.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        raw = sync.connection.driver_connection
    else:
        raw = (await connection.get_raw_connection()).driver_connection
    assert raw is not None
    return raw


def execute_mutex(connection: AsyncConnection) -> asyncio.Lock:
    """PostgreSQL: the lock SQLAlchemy's asyncpg adapter holds around each statement it
    sends on ``connection`` (``_execute_mutex``; its asyncpg connection takes one
    operation at a time). Holding it while sending on the driver directly makes the
    session's own statements wait for those, not fail with "another operation is in
    progress". Private to SQLAlchemy: pinned by
    ``tests/integration/router/test_send_ahead.py``."""
    sync = connection.sync_connection
    assert sync is not None, "a connection the session holds"
    mutex = sync.connection.dbapi_connection._execute_mutex  # type: ignore[union-attr]
    assert isinstance(mutex, asyncio.Lock)
    return mutex


async def _in_transaction(connection: AsyncConnection) -> Any:
    """The asyncpg connection under ``connection``, inside the session's transaction.

    SQLAlchemy's asyncpg adapter begins the transaction with its first statement; a COPY
    or executemany sent before any statement would commit on its own, outside the unit
    of work. (In a routed poll the lookups have begun it: no extra statement.)"""
    raw = await driver_connection(connection)
    if not raw.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")  # begins the adapter's transaction
    if not raw.is_in_transaction():
        raise RuntimeError("refusing to COPY outside the unit of work's transaction")
    return raw


async def _sqlite_in_transaction(connection: AsyncConnection) -> Any:
    """The aiosqlite connection under ``connection``, for an executemany of its own.

    SQLAlchemy's aiosqlite adapter costs a statement ~140 µs of CPU (a cursor, the
    statement, its description and close: each a hop to aiosqlite's thread, plus the
    execution context); the driver's ``executemany`` is one hop (~25 µs), and a poll
    of one interaction writes ~8 tables. It runs on the same sqlite3 connection, so in
    the same transaction: in the module's implicit-transaction mode (the router's
    engine keeps it) an INSERT begins the transaction if no statement did yet, and the
    unit of work's commit or rollback covers it. Refused in autocommit mode, where it
    would commit on its own."""
    raw = await driver_connection(connection)
    if raw.isolation_level is None:
        raise RuntimeError("refusing an executemany outside the unit of work's transaction")
    return raw


def _default_value(column: sa.Column[Any]) -> Callable[[], Any]:
    default = column.default
    assert default is not None
    if getattr(default, "is_callable", False):
        return lambda: default.arg({})  # type: ignore[attr-defined]
    if not getattr(default, "is_scalar", False):
        raise ValueError(f"{column}: only scalar or callable Python defaults are supported")
    value = default.arg  # type: ignore[attr-defined]
    return lambda: value


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _utc(value: datetime | None) -> datetime | None:
    """PostgreSQL: an aware UTC datetime (``UtcDateTime.process_bind_param``). The
    usual cases answered here, not by a second call (~15,000 values a poll of 500)."""
    if value is None or value.tzinfo is UTC:
        return value
    return _aware_utc(value)


def _sqlite_text(value: datetime) -> str:
    """SQLite: naive UTC in SQLAlchemy's SQLite DATETIME storage format
    ``YYYY-MM-DD HH:MM:SS.ffffff`` (what its processor would write; text order is time
    order): ``_SqliteTexts``' conversion, here not kept. The same text
    (``tests/unit/router/test_bulk_values.py``)."""
    text = _SqliteTexts()[value]  # a cache of its own: nothing kept
    assert text is not None
    return text


#: SQLAlchemy's SQLite DATETIME storage format up to the microseconds' dot
_SQLITE_SECOND = "%04d-%02d-%02d %02d:%02d:%02d."
#: ``_SqliteTexts``: per (year, month, day, hour, minute, second) its text and the dot
_SECOND_TEXTS: dict[tuple[int, ...], str] = {}
#: ``_SqliteTexts``: "000" to "999", the microseconds' six digits being two of them
_THREE_DIGITS = tuple(f"{number:03d}" for number in range(1000))
#: ``_SqliteTexts`` and ``_SECOND_TEXTS`` are emptied when they hold this many
_SQLITE_TEXTS_LIMIT = 4096


class _SqliteTexts(dict[datetime | None, str | None]):
    """``_sqlite_text`` memoized, None for None: a poll writes the same instants many
    times (its ``now`` in every row it processed, an interaction's time in its row,
    conversation and events): in polls of 400 ~24 lookups an interaction, 7 of them
    None, 3.6 new instants. A dict lookup (its ``__getitem__`` is the converter: no
    Python call when known) instead of an ``lru_cache`` behind a function. Equal
    instants give the same text whatever their zone, so equal keys may share it.
    Bounded: emptied when full.

    A new instant's text: the text up to the second is formatted once per second
    (``_SECOND_TEXTS``: a poll's instants fall in a few seconds) and the microseconds'
    six digits put after it: callgrind, 5,000 instants 0.7 ms apart, 11.3 K → 5.9 K
    instructions an instant, where ``%`` formatted all seven fields each time (0.55 µs;
    ``isoformat`` ~13 K instructions); ``bench.router_poll_callgrind``, 856.5 K → 837.1 K
    instructions an interaction in polls of 400, 960.2 K → 945.9 K in polls of 20. It is
    worked out here, not in a function of its own that this calls: a Python call less a
    new instant, ~200 instructions (callgrind, the same 5,000 new instants: 56.68 M →
    55.66 M, each one's first datetime hash included); ``bench.router_poll_callgrind``
    838.5 K and 840.0 K → 836.8 K an interaction in polls of 400, 945.0 K → 944.3 K in
    polls of 20. The microseconds as two of ``_THREE_DIGITS``, where ``str`` made a
    seven-digit number's text to slice: callgrind, 4,000 new instants (500 a second),
    7.64 → 7.01 K instructions each, the harness's dict lookups included."""

    LIMIT: ClassVar[int] = _SQLITE_TEXTS_LIMIT

    def __missing__(self, value: datetime | None) -> str | None:
        if value is None:
            text = None
        else:
            utc = value if value.tzinfo is UTC else _aware_utc(value)  # naive: raises
            second = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
            head = _SECOND_TEXTS.get(second)
            if head is None:
                if len(_SECOND_TEXTS) >= _SQLITE_TEXTS_LIMIT:
                    _SECOND_TEXTS.clear()
                head = _SECOND_TEXTS[second] = _SQLITE_SECOND % second
            micro = utc.microsecond
            text = head + _THREE_DIGITS[micro // 1000] + _THREE_DIGITS[micro % 1000]
        if len(self) >= _SQLITE_TEXTS_LIMIT:
            self.clear()
        self[value] = text
        return text


_SQLITE_TEXTS = _SqliteTexts()


#: ``json.dumps``' own C encoder with its default settings, made once: ``json.dumps``
#: makes it anew for every call (~0.8 of its ~1.7 µs for a customer identity). The same
#: code writes the same text; only the check for circular containers is left out
#: (``markers`` None: stored values are plain data from pydantic models and parsed JSON).
_JSON_ENCODER = c_make_encoder(
    None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True
)


def _json(value: Any) -> str:
    """SQLAlchemy's JSON processing: ``json.dumps``; None is JSON ``null`` (not SQL NULL:
    ``none_as_null`` is off), as the ORM writes a JSON column given None."""
    return "".join(_JSON_ENCODER(value, 0))


def _repeating_json(value: Any) -> str:
    """``_json`` for a column whose values repeat (``models.REPEATING_JSON``): a flat list
    or dict's text is looked up by its items. A new conversation's flags are mostly all
    false, its tags and skills those of its queue (callgrind, 1,000 values each,
    instructions a value: flags 16.9 → 10.1 K, tags 4.7 → 3.6 K; a value not seen
    before costs about twice its ``_json``, hence only for these columns)."""
    kind = type(value)
    if kind is dict:
        key = (*value, *value.values())  # its keys, then its values, in order
        texts = _REPEATING_TEXTS[0]
    elif kind is list:
        key = tuple(value)
        texts = _REPEATING_TEXTS[1]
    else:
        return "".join(_JSON_ENCODER(value, 0))
    if not _FLAT.issuperset(map(type, key)):  # nested, a number or of a subclass
        return "".join(_JSON_ENCODER(value, 0))
    text = texts.get(key)
    if text is None:
        if len(texts) >= _REPEATING_TEXTS_LIMIT:
            texts.clear()
        text = texts[key] = "".join(_JSON_ENCODER(value, 0))
    return text


#: ``_repeating_json``: the types of a flat list's items and a flat dict's keys and values.
#: Two values of these types are equal only when of one type and one JSON text (unlike 1,
#: 1.0 and True, or 0.0 and -0.0): equal keys (tuples) are the same text.
_FLAT = frozenset({str, bool, type(None)})
#: ``_repeating_json``: the texts of flat dicts (by their keys then values) and of flat
#: lists (by their items), each emptied when it holds ``_REPEATING_TEXTS_LIMIT``
_REPEATING_TEXTS: tuple[dict[tuple[Any, ...], str], dict[tuple[Any, ...], str]] = ({}, {})
_REPEATING_TEXTS_LIMIT = 1024
