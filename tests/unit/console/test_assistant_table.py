"""The assistant report's CSV for the console (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.router.console.reports import assistant_table
from services.router.service.assistant_report import AssistantReport, UnansweredGroup

AT = datetime(2026, 3, 4, tzinfo=UTC)


def test_counts_reasons_and_top_unanswered_in_one_table():
    report = AssistantReport(
        since=AT,
        until=AT,
        offered=4,
        resolved=1,
        handed_off=2,
        holding=1,
        reopened=0,
        deflection_rate=0.25,
        handoff_reasons={"low_confidence": 2},
        unanswered=[UnansweredGroup(f"q{n}", 12 - n, [f"q{n}"]) for n in range(12)],
    )
    table = assistant_table(report, top=3)
    assert table.header == ("section", "item", "value")
    assert ("summary", "deflection_rate", 0.25) in table.rows
    assert ("handoff_reason", "low_confidence", 2) in table.rows
    assert [r for r in table.rows if r[0] == "unanswered"] == [
        ("unanswered", "q0", 12),
        ("unanswered", "q1", 11),
        ("unanswered", "q2", 10),
    ]
    assert table.csv().splitlines()[0] == "section,item,value"


def test_no_offers_means_no_rate_not_zero():
    empty = AssistantReport(AT, AT, 0, 0, 0, 0, 0, None)
    assert ("summary", "deflection_rate", "") in assistant_table(empty).rows
