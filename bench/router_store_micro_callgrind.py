"""Instructions of two small parts of the router's store layer, under callgrind, without
routing a poll first (under valgrind a routed poll takes minutes on a loaded machine):

- ``sqlite_inserts``: ``BulkInserter.sqlite_inserts`` of synthetic rows of five of the
  router's tables (conversations, sla_timers, interactions, message_ids, outbox; every
  column given, about a third of the nullable ones None, datetimes, JSON), ``--count``
  rows a table (a multiple of 16: multi-row INSERTs only), the collector tuned as the
  service tunes it;
- ``columns``: ``service.columns.columns`` read ``--count`` times on a conversation
  holding every column (``["status"]`` of it, in a loop).

::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --collect-atstart=no \\
        --toggle-collect=_operator_call --callgrind-out-file=/tmp/micro.out \\
        .venv/bin/python -m bench.router_store_micro_callgrind --part sqlite_inserts --count 640
    (again with --count 320: the difference / 320 is one row of each table's)

Stop 38 (rbulkcols), base 6863f81 and this tree started together (03:22 UTC):
``sqlite_inserts`` (640 - 320) / 320: 143.0 -> 135.8 K instructions a row of each of the
five tables (the multi-row INSERTs' parameters made a chunk at a time,
``bulk._chunk_maker``; with the interpreter's default collector thresholds, a first
form of this script: 159.3 -> 141.9 K, the row tuples no longer made then also sparing
young collections); ``columns`` (2,000 - 1,000 reads, a snippet of this one's form)
1,652 -> 1,467 a read. The routed poll with both (``bench.router_store_callgrind --store
sqlite --size 400``, --polls 3 and 1 of each tree started together at 03:36 UTC, (3 - 1)
/ 800): 621.1 -> 607.3 K instructions an interaction (-13.9 K, -2.2 %).
"""

from __future__ import annotations

import argparse
import operator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as sqlite_dialect

from libs.common.gc_tuning import tune_for_polls
from services.router.service.columns import columns
from services.router.store.bulk import BulkInserter
from services.router.store.models import (
    Conversation,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SlaTimer,
    UtcDateTime,
)
from services.router.store.unit_of_work import _insert_columns, new_row

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TABLES = [m.__table__ for m in (Conversation, SlaTimer, InteractionRecord, MessageIndex, OutboxRow)]


def _value(column: sa.Column[Any], n: int) -> Any:
    kind = column.type
    if column.primary_key:
        return f"k{n}"
    if column.nullable and sum(map(ord, column.key)) % 3 == 0:
        return None
    if isinstance(kind, UtcDateTime):
        return T0 + timedelta(microseconds=n * 997)
    if isinstance(kind, sa.JSON):
        return {"n": n % 5, "tag": "vip"}
    if isinstance(kind, sa.Boolean):
        return n % 2 == 0
    if isinstance(kind, sa.Integer):
        return n
    return f"v{n % 7}"


def _rows(table: sa.Table, count: int) -> list[dict[str, Any]]:
    generated = [
        column.key
        for column in table.columns
        if column.primary_key and isinstance(column.type, sa.Integer)
    ]
    return [
        {c.key: _value(c, n) for c in table.columns if c.key not in generated} for n in range(count)
    ]


def measure_sqlite_inserts(count: int) -> int:
    inserter = BulkInserter(sqlite_dialect())
    rows = {table.name: _rows(table, count) for table in TABLES}
    for table in TABLES:  # the plans and their functions made outside the window
        inserter.sqlite_inserts(table, rows[table.name][:48])
    tune_for_polls()  # the collector as the service tunes it

    def insert_all() -> int:
        return sum(len(inserter.sqlite_inserts(table, rows[table.name])) for table in TABLES)

    return operator.call(insert_all)  # type: ignore[no-any-return]


def measure_columns(count: int) -> int:
    keys = [key for key, _ in _insert_columns(Conversation).keys]
    conversations = [new_row(Conversation, {key: None for key in keys})] * count
    columns(conversations[0])

    def read_all() -> int:
        for conversation in conversations:
            columns(conversation)["status"]
        return len(conversations)

    return operator.call(read_all)  # type: ignore[no-any-return]


PARTS = {"sqlite_inserts": measure_sqlite_inserts, "columns": measure_columns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=sorted(PARTS), required=True)
    parser.add_argument("--count", type=int, default=320)
    args = parser.parse_args()
    print(f"{args.part}: {PARTS[args.part](args.count)} measured")


if __name__ == "__main__":
    main()
