"""Accepted webhook events: one INFO summary per interval, each event's own line at DEBUG."""

from __future__ import annotations

import logging

import pytest

from libs.common.webhooks.eventlog import EventLog, summary_text

LOGGER = "tests.eventlog"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def events(clock: Clock) -> EventLog:
    return EventLog(logging.getLogger(LOGGER), "chat event", interval_s=60, clock=clock)


def _ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def test_at_info_events_are_counted_not_logged_one_by_one(events, clock, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        events.accepted("published", "webchat", "acme", event_id="e1")
        events.accepted("published", "webchat", "acme", event_id="e2")
        clock.now += 59.9
        events.accepted("duplicate", "webchat", "acme", event_id="e1")
        assert _ours(caplog) == []
        clock.now += 0.1  # the interval is over: the next event writes the summary
        events.accepted("published", "slack", "ops", event_id="e3")
    [summary] = _ours(caplog)
    assert summary.levelno == logging.INFO
    assert summary.getMessage() == (
        "chat events in the last 60 s: slack/ops 1 published; webchat/acme 1 duplicate, 2 published"
    )
    assert summary.events == [  # type: ignore[attr-defined]
        {"provider": "slack", "integration": "ops", "outcome": "published", "count": 1},
        {"provider": "webchat", "integration": "acme", "outcome": "duplicate", "count": 1},
        {"provider": "webchat", "integration": "acme", "outcome": "published", "count": 2},
    ]


def test_the_next_summary_counts_only_what_came_after(events, clock, caplog):
    with caplog.at_level(logging.INFO, logger=LOGGER):
        clock.now += 60
        events.accepted("published", "webchat", "acme")
        clock.now += 30
        events.accepted("published", "webchat", "acme")
        events.accepted("published", "webchat", "acme")
        events.flush()  # the service stops
        events.flush()  # nothing new: no line
    first, last = _ours(caplog)
    assert "webchat/acme 1 published" in first.getMessage()
    assert last.getMessage() == "chat events in the last 30 s: webchat/acme 2 published"


def test_at_debug_each_event_has_its_own_line_with_its_fields(events, caplog):
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        events.accepted("published", "webchat", "acme", event_id="e1", kind="message")
    [line] = _ours(caplog)
    assert line.levelno == logging.DEBUG
    assert line.getMessage() == "chat event published"
    assert (line.event_id, line.provider, line.integration, line.kind) == (  # type: ignore[attr-defined]
        "e1",
        "webchat",
        "acme",
        "message",
    )


def test_thousands_are_grouped_for_the_reader():
    counts = {("webchat", "acme", "published"): 4812, ("webchat", "acme", "duplicate"): 3}
    assert summary_text(counts) == "webchat/acme 3 duplicate, 4,812 published"


def test_each_at_info_logs_every_event_at_info_for_desks_that_want_them(clock, caplog):
    events = EventLog(logging.getLogger(LOGGER), "call event", each_at_info=True, clock=clock)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        events.accepted("accepted", "cti", "acme", event_id="e1", call_id="c1")
    [line] = _ours(caplog)
    assert line.levelno == logging.INFO and line.getMessage() == "call event accepted"
    assert line.event_id == "e1"  # type: ignore[attr-defined]


def test_counted_is_accepted_without_the_per_event_line(clock, caplog):
    both = [
        EventLog(logging.getLogger(LOGGER), "call event", interval_s=60, clock=clock)
        for _ in range(2)
    ]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for step in (0, 30, 30.5, 1):  # the third ends the interval: its summary
            clock.now += step
            both[0].accepted("accepted", "cti", "acme")
            both[1].counted("accepted", "cti", "acme")
        both[0].flush()
        both[1].flush()
    lines = [(r.getMessage(), r.events) for r in _ours(caplog)]  # type: ignore[attr-defined]
    assert lines[0::2] == lines[1::2]
    assert len(lines) == 4
