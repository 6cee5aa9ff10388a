"""Instructions of the router's row set-up, under callgrind: loaded candidate
conversations made the session's objects (``PersistentRows.objects``), new
conversations' rows (``unit_of_work.new_row``), a new customer's contact and
conversation ids (``ids.time_ordered_id_named``), a mail's changes set on loaded
conversations (``unit_of_work.set_values``)::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/rows.out \\
        .venv/bin/python -m bench.router_rows_callgrind --part objects --count 300
    (again with --count 100: the difference / 200 is one item's)

``objects`` reads the candidate rows one routed poll of ``bench.router_poll_callgrind``'s
traffic read on SQLite (captured as the driver gave them), each given an id of its own,
into a new session. The collector is tuned as the service tunes it. Stop 35 (rconv):
objects 95.6 -> 84.1 -> 67.2 K a loaded conversation (row_reader, repeating_values),
new_row 24.8 -> 9.2 K, a contact and conversation id pair 37.6 -> 21.8 K (those by a
snippet's harness; this one's ids count 24.2 K a pair at c6a6918, its names' f-strings
included). Stop 36 (rflow): set_values 37.3 -> 15.8 K a loaded conversation's four changes
(the ORM's set written out); with the started clocks' timer rows queued together (14.9 ->
9.0 K a clock) and a new conversation's INSERT values copied from its dict, the routed poll
(``bench.router_poll_callgrind``, --polls 3 and --polls 1 of 7f14ef4 and 71a5a74, all four
started at 21:37:14 UTC, (3 - 1) / 800): 682.3 -> 657.0 K an interaction (-25.3 K, -3.7 %).
Stop 37 (rnewrow): ``new_params_sqlite`` / ``_copy`` / ``_arrays``, a poll's new
conversations (captured at its commit's flush, replicated with ids of their own) to their
INSERT parameters as the commit's flush makes them (``UnitOfWork._new_rows``, then
``sqlite_inserts`` or PostgreSQL's ``_runs``): with ``bulk.NewObjects`` (their parameters
made from their dicts once) SQLite 92.0 -> 72.5 K a new conversation, COPY records
79.1 -> 65.7 K, executemany / unnest tuples 75.4 -> 62.1 K; the routed poll
(``bench.router_poll_callgrind``, --polls 3 and --polls 1 of 54ccc4a and 6dc88ab, all four
started at 00:18:51 UTC, (3 - 1) / 800): 658.5 -> 642.0 K an interaction (-16.4 K, -2.5 %;
the other bulk-inserted tables' lean tuples made from their rows too).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql.asyncpg import dialect as postgresql_dialect
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as sqlite_dialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import DEFAULT_STATE_ATTR as STATE

from bench.router_poll_callgrind import POLL, route_recorded, warmed_router
from libs.common.gc_tuning import tune_for_polls
from libs.common.ids import name_prefix, time_ordered_id_named
from services.router.service.interactions import route_batch
from services.router.store import persistent
from services.router.store.bulk import COPY_FROM, BulkInserter
from services.router.store.models import Conversation
from services.router.store.repositories import _CANDIDATES
from services.router.store.unit_of_work import UnitOfWork, _insert_columns, new_row, set_values


def captured_candidates() -> tuple[list[tuple[Any, ...]], Any]:
    """The candidate conversations' rows one routed poll read, and the SQLite dialect."""
    rows: list[tuple[Any, ...]] = []
    dialect: list[Any] = []
    objects = persistent.PersistentRows.objects

    def capturing(self: Any, session: Any, read: Any) -> list[Any]:
        if self._mapper.class_ is Conversation:
            rows.extend(read)
            dialect.append(session.bind.dialect)
        return objects(self, session, read)

    loop = asyncio.new_event_loop()
    with (
        tempfile.TemporaryDirectory() as folder,
        warmed_router(loop, folder, size=POLL) as (ctx, traffic),
    ):
        persistent.PersistentRows.objects = capturing  # type: ignore[method-assign]
        try:
            loop.run_until_complete(route_batch(ctx, traffic.poll(POLL)))
        finally:
            persistent.PersistentRows.objects = objects  # type: ignore[method-assign]
    loop.close()
    return rows, dialect[0]


class _Session:
    """What ``TrackedLoad.objects`` reads of an async session."""

    def __init__(self, dialect: Any) -> None:
        self.sync_session = Session()
        self.bind = self
        self.dialect = dialect


def measure_objects(count: int) -> int:
    rows, dialect = captured_candidates()
    made = [(f"conversation-{n}", *rows[n % len(rows)][1:]) for n in range(count)]
    _CANDIDATES.objects(_Session(dialect), made[:1])  # type: ignore[arg-type]  # its reader made
    tune_for_polls()
    return len(operator.call(_CANDIDATES.objects, _Session(dialect), made))


def measure_new_rows(count: int) -> int:
    keys = [key for key, _ in _insert_columns(Conversation).keys]
    values = [{key: None for key in keys} | {"id": f"c{n}"} for n in range(count)]
    tune_for_polls()
    return len(operator.call(lambda: [new_row(Conversation, v) for v in values]))


def measure_ids(count: int) -> int:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    instants = [start + timedelta(milliseconds=n) for n in range(count)]
    contacts, conversations = name_prefix("router.contact"), name_prefix("router.conversation")

    def pairs() -> int:
        for n, at in enumerate(instants):
            time_ordered_id_named(contacts, at, f"email:c{n}@example.com")
            time_ordered_id_named(conversations, at, f"pc-{n}")
        return len(instants)

    return operator.call(pairs)  # type: ignore[no-any-return]


def measure_set_values(count: int) -> int:
    """A returning customer's message set on its loaded conversation, as ``_record`` sets
    it on a mail's (``unit_of_work.set_values``: the last activity, inbound time,
    Message-ID and references): the candidates' rows made the session's objects first,
    outside the window."""
    rows, dialect = captured_candidates()
    made = [(f"conversation-{n}", *rows[n % len(rows)][1:]) for n in range(count)]
    loaded = _CANDIDATES.objects(_Session(dialect), made)  # type: ignore[arg-type]
    at = datetime(2026, 12, 1, tzinfo=UTC)
    changes = [
        {
            "last_activity_at": at,
            "customer_last_inbound_at": at,
            "last_message_id": f"<m{n}@example.com>",
            "references": [f"<m{n}@example.com>"],
        }
        for n in range(count)
    ]
    tune_for_polls()

    def set_all() -> int:
        for row, values in zip(loaded, changes, strict=True):
            set_values(row, values)
        return len(loaded)

    return operator.call(set_all)  # type: ignore[no-any-return]


def captured_new_rows() -> list[dict[str, Any]]:
    """The values of the new conversations (``UnitOfWork.add_new``) one routed poll wrote,
    as their rows held them at its commit's flush (each row's dict, its state left out)."""
    captured: list[dict[str, Any]] = []
    new_rows = UnitOfWork._new_rows

    def capturing(self: UnitOfWork) -> Any:
        for row in self._new:
            if type(row) is Conversation:
                captured.append({k: v for k, v in row.__dict__.items() if k != STATE})
        return new_rows(self)

    route_recorded(1, {(UnitOfWork, "_new_rows"): capturing})
    return captured


def _new_conversations(count: int) -> list[Any]:
    captured = captured_new_rows()
    return [
        new_row(Conversation, captured[n % len(captured)] | {"id": f"conversation-{n}"})
        for n in range(count)
    ]


def _taking_new(rows: list[Any]) -> Any:
    """A unit of work holding ``rows`` as added (``add_new``), for its ``_new_rows``."""
    uow = UnitOfWork.__new__(UnitOfWork)
    uow._new = rows
    return uow


def measure_new_params_sqlite(count: int) -> int:
    """A poll's new conversations to their SQLite INSERTs' parameters, as the commit's
    flush makes them (``UnitOfWork._new_rows``, then ``BulkInserter.sqlite_inserts``)."""
    uow = _taking_new(_new_conversations(count))
    inserter = BulkInserter(sqlite_dialect())
    warm = _taking_new(_new_conversations(20))
    for table, rows in warm._new_rows().groups:
        inserter.sqlite_inserts(table, rows)
    tune_for_polls()

    def convert() -> int:
        groups = uow._new_rows().groups
        writes = [write for table, rows in groups for write in inserter.sqlite_inserts(table, rows)]
        return len(writes) and sum(len(rows) for _, rows in groups)

    return operator.call(convert)  # type: ignore[no-any-return]


def _measure_new_params_postgresql(count: int, copy_from: int | None) -> int:
    uow = _taking_new(_new_conversations(count))
    inserter = BulkInserter(postgresql_dialect())
    warm = _taking_new(_new_conversations(max(20, copy_from or 0)))
    for table, rows in warm._new_rows().groups:
        list(inserter._runs(table, rows, copy_from=copy_from))
    tune_for_polls()

    def convert() -> int:
        runs = [
            run
            for table, rows in uow._new_rows().groups
            for run in inserter._runs(table, rows, copy_from=copy_from)
        ]
        return sum(len(values) for _, values, _ in runs)

    return operator.call(convert)  # type: ignore[no-any-return]


def measure_new_params_copy(count: int) -> int:
    """PostgreSQL: a poll's new conversations to their COPY records (a run of ``COPY_FROM``
    or more: a backlog's polls)."""
    return _measure_new_params_postgresql(count, COPY_FROM)


def measure_new_params_arrays(count: int) -> int:
    """PostgreSQL: a poll's new conversations to their parameter tuples (fewer than
    ``COPY_FROM``: ``insert_together``'s arrays are these transposed)."""
    return _measure_new_params_postgresql(count, None)


PARTS = {
    "new_params_sqlite": measure_new_params_sqlite,
    "new_params_copy": measure_new_params_copy,
    "new_params_arrays": measure_new_params_arrays,
    "objects": measure_objects,
    "new_row": measure_new_rows,
    "ids": measure_ids,
    "set_values": measure_set_values,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    print(f"{args.part}: {PARTS[args.part](args.count)} items measured")


if __name__ == "__main__":
    main()
