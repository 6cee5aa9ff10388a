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
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import tempfile
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bench.router_poll_callgrind import POLL, warmed_router
from libs.common.gc_tuning import tune_for_polls
from libs.common.ids import name_prefix, time_ordered_id_named
from services.router.service.interactions import route_batch
from services.router.store import persistent
from services.router.store.models import Conversation
from services.router.store.repositories import _CANDIDATES
from services.router.store.unit_of_work import _insert_columns, new_row, set_values


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


PARTS = {
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
