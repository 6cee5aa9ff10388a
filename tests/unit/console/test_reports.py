from datetime import UTC, datetime, timedelta

from services.router.console.live import live_event
from services.router.console.reports import (
    Facts,
    bars_svg,
    daily_trends,
    first_response_distribution,
    heatmap_svg,
    promise_bucket,
    volume_heatmap,
)

MON = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def fact(opened: datetime, *, first: float | None = None, **kw) -> Facts:
    values = {
        "channel": "chat",
        "queue": "general",
        "opened_at": opened,
        "first_response_at": opened + timedelta(minutes=first) if first is not None else None,
        "first_response_due_at": opened + timedelta(minutes=5),
        "resolved_at": None,
        "measured": True,
        "breached": False,
        "csat": None,
    }
    return Facts(**{**values, **kw})


def test_volume_counts_by_channel_weekday_and_hour():
    table = volume_heatmap(
        [fact(MON), fact(MON + timedelta(minutes=10)), fact(MON, channel="email")]
    )
    assert table.rows == [("chat", "Mon", 9, 2), ("email", "Mon", 9, 1)]
    assert table.csv().splitlines() == [
        "channel,weekday,hour,opened",
        "chat,Mon,9,2",
        "email,Mon,9,1",
    ]
    svg = heatmap_svg(table, "<volume>")
    assert svg.startswith("<svg") and "&lt;volume&gt;" in svg and "style=" not in svg


def test_first_response_buckets_and_the_promise():
    facts = [fact(MON, first=0.5), fact(MON, first=3), fact(MON, first=700), fact(MON)]
    table, promise = first_response_distribution(facts)
    counts = dict(table.rows)
    assert counts["0-1 min"] == 1 and counts["2-5 min"] == 1 and counts[">480 min"] == 1
    assert sum(counts.values()) == 3  # unanswered ones are not in the distribution
    assert promise == 5.0 and promise_bucket(promise) == 3
    assert "stroke-dasharray" in bars_svg(
        [r[0] for r in table.rows], list(counts.values()), "t", marker=3
    )


def test_daily_trends():
    day2 = MON + timedelta(days=1)
    facts = [
        fact(MON, breached=True, csat=5, resolved_at=MON + timedelta(hours=1)),
        fact(MON, csat=3),
        fact(MON, measured=False, breached=True),
        fact(day2),
    ]
    rows = daily_trends(facts).rows
    assert rows[0] == ("2026-03-02", 3, 0.5, 4.0, 2, round(1 / 3, 4))
    assert rows[1] == ("2026-03-03", 1, 1.0, "", 0, 0.0)


def test_live_events_carry_queue_and_assignee_only():
    payload = '{"conversation": {"queue": "ko-support", "assignee": {"id": "agent-lee"}}}'
    event = live_event(7, "router.conversation.assigned.v1", "c-1", payload)
    assert (event.queue, event.assignee_id) == ("ko-support", "agent-lee")
    assert event.sse() == (
        'id: 7\nevent: routing\ndata: {"type": "router.conversation.assigned.v1", '
        '"conversation_id": "c-1"}\n\n'
    )
