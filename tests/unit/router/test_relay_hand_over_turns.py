"""A relay round that reads rows a unit of work has committed but not yet handed over
(its task resumes a loop turn or two after the database thread's COMMIT) gives it
``HAND_OVER_TURNS`` turns and publishes them as handed, instead of reading them from the
store; rows nobody hands over are read as before, in id order with the others."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace

from services.router.relay import HAND_OVER_TURNS, OutboxRelay
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
    """``read_rows``: the rows of the store, and which ids each call asked for."""

    def __init__(self, event_ids: dict[int, str]) -> None:
        self.asked: list[list[int]] = []
        self._rows = {
            id_: PendingEvent(id_, event_id, "t", "conv-1", AT, "{}")
            for id_, event_id in event_ids.items()
        }

    async def __call__(self, ids: list[int]) -> dict[int, PendingEvent]:
        self.asked.append(ids)
        return {i: self._rows[i] for i in ids}


async def _hand_over_after(committed: CommittedOutbox, turns: int, event_ids: list[str]) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)
    committed.hand_over([_row(e) for e in event_ids])


async def test_rows_handed_over_a_turn_or_two_after_the_read_are_not_read_again():
    committed = CommittedOutbox()
    committed.hand_over([_row("ev-1")])
    relay = _relay(committed)
    read = [UnsentId(1, "ev-1"), UnsentId(2, "ev-2"), UnsentId(3, "ev-3")]
    store = _Store({1: "ev-1", 2: "ev-2", 3: "ev-3"})
    handing = asyncio.create_task(_hand_over_after(committed, 1, ["ev-2", "ev-3"]))
    rows = await relay._rows(store, read, {"ev-1"}, limit=10)
    await handing
    assert [(id_, row.event_id, row.payload) for id_, row in rows] == [
        (1, "ev-1", '{"id": "ev-1"}'),
        (2, "ev-2", '{"id": "ev-2"}'),
        (3, "ev-3", '{"id": "ev-3"}'),
    ]
    assert store.asked == [[]]


async def test_rows_nobody_hands_over_are_read_in_id_order_with_the_handed_ones():
    committed = CommittedOutbox()
    relay = _relay(committed)
    read = [UnsentId(1, "ev-1"), UnsentId(2, "ev-2"), UnsentId(3, "ev-3")]
    store = _Store({1: "ev-1", 3: "ev-3"})
    handing = asyncio.create_task(_hand_over_after(committed, 1, ["ev-2"]))
    rows = await relay._rows(store, read, set(), limit=10)
    await handing
    assert [(id_, row.event_id) for id_, row in rows] == [(1, "ev-1"), (2, "ev-2"), (3, "ev-3")]
    assert store.asked == [[1, 3]]
    assert rows[1][1].payload == '{"id": "ev-2"}'  # as handed


async def test_a_hand_over_later_than_the_turns_is_not_waited_for():
    committed = CommittedOutbox()
    relay = _relay(committed)
    store = _Store({1: "ev-1"})
    late = asyncio.create_task(_hand_over_after(committed, HAND_OVER_TURNS + 2, ["ev-1"]))
    rows = await relay._rows(store, [UnsentId(1, "ev-1")], set(), limit=10)
    await late
    assert store.asked == [[1]]
    assert [row.payload for _, row in rows] == ["{}"]  # the store's


def test_a_round_whose_rows_are_all_handed_does_not_yield():
    committed = CommittedOutbox()
    committed.hand_over([_row("ev-1")])
    store = _Store({1: "ev-1"})
    round_rows = _relay(committed)._rows(store, [UnsentId(1, "ev-1")], {"ev-1"}, limit=10)
    try:
        round_rows.send(None)
    except StopIteration as done:
        assert [row.event_id for _, row in done.value] == ["ev-1"]
    else:  # pragma: no cover - it suspended
        round_rows.close()
        raise AssertionError("the round gave up a loop turn")
