"""Core statements compiled once per dialect and run with plain tuples.

Through ``conn.execute(core_statement, [dicts])`` SQLAlchemy builds the statement's
cache key, finds its compiled form and binds every parameter dict on each call:
0.5-1.5 ms of CPU per sent-log statement on SQLite (``python -m
bench.notify_throughput --poll-cost``), far above SQLite's own work for a poll's
rows. A :class:`Prepared` statement is compiled once; its parameters become tuples
in the compiled order, each value converted by its column type's own bind
processor (so the stored values are exactly SQLAlchemy's: SQLite datetimes as its
text format), and the tuples go to the driver through ``exec_driver_sql``.

Only for statements whose results need no type processing (no datetimes read
back): ``exec_driver_sql`` hands rows back as the driver gives them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

_REQUIRED = object()
#: A single-row ``VALUES (?, ?, …)`` group of a qmark (SQLite) insert.
QMARK_VALUES = re.compile(r" VALUES (\((?:\?, )*\?\))")


class Prepared:
    """One compiled statement and how to turn a parameter dict into its tuple."""

    def __init__(
        self, statement: ClauseElement, dialect: Dialect, *, column_keys: list[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = str(compiled)
        self.paramstyle = dialect.paramstyle
        self._slots: list[tuple[str, Any, Callable[[Any], Any] | None]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            fixed = _REQUIRED if bind.required else bind.effective_value
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            self._slots.append((name, fixed, processor))
        #: The parameters' names in their positional order.
        self.names = [name for name, _, _ in self._slots]

    def params(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional parameters of one execution; values set in the statement itself
        (``.values(claimed_at=None)``) are taken from it."""
        return self._params(values, {})

    def params_many(self, rows: list[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """:meth:`params` of many rows. A value object that recurs in the rows (a poll's
        one ``now`` in three datetime columns of every claim) is converted once: the
        SQLite datetime processor is ~1 µs a value."""
        done: dict[int, tuple[Any, Any]] = {}
        return [self._params(values, done) for values in rows]

    def _params(
        self, values: Mapping[str, Any], done: dict[int, tuple[Any, Any]]
    ) -> tuple[Any, ...]:
        out = []
        for name, fixed, process in self._slots:
            value = values[name] if fixed is _REQUIRED or name in values else fixed
            if process is None or value is None:
                out.append(value if process is None else process(value))
                continue
            # Keyed by identity, holding the value itself so the id is not reused.
            seen = done.get(id(value))
            if seen is None or seen[0] is not value:
                seen = done[id(value)] = (value, process(value))
            out.append(seen[1])
        return tuple(out)

    def many_rows_sql(self, rows: int) -> str:
        """A single-row qmark INSERT as one INSERT of ``rows`` rows (``VALUES (…), (…)``):
        a RETURNING of many rows needs one statement, not executemany."""
        if self.paramstyle != "qmark":
            raise ValueError(f"multi-row VALUES only for qmark statements, not {self.paramstyle}")
        match = QMARK_VALUES.search(self.sql)
        if match is None:
            raise ValueError(f"not a single-row INSERT: {self.sql[:80]}")
        group = match.group(1)
        values = " VALUES " + ", ".join([group] * rows)
        return self.sql[: match.start()] + values + self.sql[match.end() :]
