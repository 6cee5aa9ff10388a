"""CommittedOutbox: the relay's in-memory hand-over of committed outbox rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.router.store.outbox import CommittedOutbox, PendingEvent

KST = timezone(timedelta(hours=9))


def row(event_id: str, at: datetime) -> dict[str, object]:
    return {
        "event_id": event_id,
        "ce_type": "support.routing.interaction_routed.v1",
        "conversation_id": "conv-1",
        "occurred_at": at,
        "payload": "{}",
    }


def test_hand_over_keeps_rows_as_the_utc_column_returns_them_and_wakes_the_relay():
    committed = CommittedOutbox()
    at = datetime(2026, 3, 4, 10, 0, tzinfo=KST)
    committed.hand_over([row("ev-1", at)])
    kept = committed.get("ev-1")
    assert kept is not None
    assert kept.occurred_at == at and kept.occurred_at.tzinfo is UTC
    assert type(kept) is PendingEvent
    assert kept == PendingEvent(
        0, "ev-1", "support.routing.interaction_routed.v1", "conv-1", at.astimezone(UTC), "{}"
    )
    assert committed.wake.is_set()


def test_the_oldest_rows_are_forgotten_beyond_the_limit():
    committed = CommittedOutbox(limit=3)
    at = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    committed.hand_over([row(f"ev-{n}", at) for n in range(5)])
    assert committed.event_ids() == {"ev-2", "ev-3", "ev-4"}  # the relay reads the others
    committed.forget(["ev-3", "unknown"])
    assert committed.event_ids() == {"ev-2", "ev-4"}
