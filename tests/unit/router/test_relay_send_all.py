"""``OutboxRelay._send_all``: a round's rows go to their topics (``topics_by_type``, else
the relay's topic), in order within each topic, and each type's count to the published
metric: the same requests and counts as the grouping a row at a time it replaced, for
any mix (a routed poll's rows are nearly always one topic's)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common import metrics
from libs.common.kafka.record_batch import headers_bytes
from services.router.relay import OutboxRelay, RecordHeaders
from services.router.store.outbox import PendingEvent

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ROUTED, QUEUED, ERASED = "support.routing.a.v1", "support.routing.b.v1", "privacy.erased.v1"
TOPICS_BY_TYPE = {ERASED: "privacy"}


class _Publisher:
    def __init__(self) -> None:
        self.requests: list[tuple[str, list]] = []

    async def publish(self, topic: str, records: list, written_headers: list | None = None) -> None:
        assert written_headers == [headers_bytes(headers) for _, _, headers in records]
        self.requests.append((topic, records))


def _expected(rows: list[PendingEvent]) -> list[tuple[str, list]]:
    """The grouping a row at a time (before stop 36), with each topic's records."""
    by_topic: dict[str, list[PendingEvent]] = {}
    for row in rows:
        by_topic.setdefault(TOPICS_BY_TYPE.get(row.ce_type, "routing"), []).append(row)
    headers = RecordHeaders("omnidesk/router")
    return [(topic, headers.records(items)) for topic, items in by_topic.items()]


def _published(topic: str, ce_type: str) -> float:
    return metrics.EVENTS_PUBLISHED.labels(topic, ce_type)._value.get()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([ROUTED, QUEUED, ERASED]), max_size=12))
def test_a_rounds_rows_go_to_their_topics_in_order_and_are_counted(types: list[str]):
    rows = [
        PendingEvent(0, f"ev-{n}", ce_type, f"conv-{n % 3}", AT, f'{{"n":{n}}}')
        for n, ce_type in enumerate(types)
    ]
    publisher = _Publisher()
    uow = SimpleNamespace(postgres=True, engine=None)  # no SQLite reader, no marks
    relay = OutboxRelay(
        uow,  # type: ignore[arg-type]
        publisher,  # type: ignore[arg-type]
        topic="routing",
        topics_by_type=TOPICS_BY_TYPE,
    )
    pairs = [
        (topic, ce_type) for ce_type in (ROUTED, QUEUED, ERASED) for topic in ("routing", "privacy")
    ]
    before = {pair: _published(*pair) for pair in pairs}
    asyncio.run(relay._send_all(rows))
    assert publisher.requests == _expected(rows)
    counted = Counter((TOPICS_BY_TYPE.get(t, "routing"), t) for t in types)
    assert {pair: _published(*pair) - before[pair] for pair in pairs} == {
        pair: counted.get(pair, 0) for pair in pairs
    }
