"""A relay round's rows (``OutboxRelay._rows``): the round where every row read was
handed over (a routed poll's) pairs them without a Python loop a row; any round gives
the rows, the store reads and the forgotten hand-overs of the row-at-a-time way it
replaced (kept here as the reference)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.relay import OutboxRelay
from services.router.store.outbox import CommittedOutbox, PendingEvent, UnsentId

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _row(event_id: str) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ce_type": "support.routing.interaction_routed.v1",
        "conversation_id": "conv-1",
        "occurred_at": AT,
        "payload": f'{{"id": "{event_id}"}}',
    }


def _relay(committed: CommittedOutbox) -> OutboxRelay:
    uow = SimpleNamespace(postgres=True, engine=None)  # no SQLite reader, no marks
    return OutboxRelay(uow, producer=None, topic="t", committed=committed)  # type: ignore[arg-type]


class _Store:
    def __init__(self, rows: dict[int, str]) -> None:
        self.asked: list[list[int]] = []
        self._rows = {i: PendingEvent(i, e, "t", "conv-1", AT, "{}") for i, e in rows.items()}

    async def __call__(self, ids: list[int]) -> dict[int, PendingEvent]:
        self.asked.append(ids)
        return {i: self._rows[i] for i in ids if i in self._rows}


async def _reference_rows(relay, read_rows, read, handed_before, *, limit):
    """``_rows`` before the paired round: a dict, a list and a loop a row."""
    if len(read) < limit:
        relay.committed.forget(handed_before - {u.event_id for u in read})
    unsent = read[:limit]
    get = relay.committed.get
    handed = {id_: get(event_id) for id_, event_id in unsent}
    missing = [i for i, row in handed.items() if row is None]
    if missing:
        missing = await relay._handed_meanwhile(unsent, handed)
    others = await read_rows(missing)
    rows = []
    for id_, row in handed.items():
        if row is None:
            row = others.get(id_)
            if row is None:
                continue
        rows.append((id_, row))
    return rows


def _round(rows_of, read_ids: list[int], handed: set[int], stored: set[int], extra: set[int],
           limit: int):  # fmt: skip
    committed = CommittedOutbox()
    committed.hand_over([_row(f"ev-{i}") for i in sorted(handed | extra)])
    relay = _relay(committed)
    store = _Store({i: f"ev-{i}" for i in stored})
    read = [UnsentId(i, f"ev-{i}") for i in read_ids]
    before = committed.event_ids()
    rows = asyncio.run(rows_of(relay, store, read, before, limit=limit))
    return (
        [(id_, tuple(row)) for id_, row in rows],
        sorted(committed.event_ids()),
        [ids for ids in store.asked if ids],  # an empty read asks the store nothing
    )


def _new_rows(relay, read_rows, read, handed_before, *, limit):
    return relay._rows(read_rows, read, handed_before, limit=limit)


@settings(max_examples=150, deadline=None)
@given(
    read_ids=st.lists(st.integers(1, 40), unique=True, max_size=25).map(sorted),
    handed_share=st.sets(st.integers(1, 40)),
    stored=st.sets(st.integers(1, 40)),
    extra=st.sets(st.integers(41, 50)),  # handed, not read: sent already
    limit=st.integers(1, 30),
)
def test_the_rows_reads_and_forgotten_as_row_at_a_time(read_ids, handed_share, stored, extra,
                                                      limit):  # fmt: skip
    handed = set(read_ids) & handed_share
    new = _round(_new_rows, read_ids, handed, stored, extra, limit)
    assert new == _round(_reference_rows, read_ids, handed, stored, extra, limit)


def test_a_round_of_handed_rows_reads_nothing():
    rows, left, asked = _round(_new_rows, [3, 4, 7], {3, 4, 7}, set(), {9}, 10)
    assert [id_ for id_, _ in rows] == [3, 4, 7]
    assert left == ["ev-3", "ev-4", "ev-7"]  # ev-9, not among a full read, forgotten
    assert asked == []
