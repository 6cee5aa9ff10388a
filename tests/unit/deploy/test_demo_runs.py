"""`omnidesk demo`: each run is self-contained, and its timeline names its time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from libs.common.cloudevents import CloudEvent
from libs.common.events import SlaWarning
from tools.demo.scenario import DemoCustomers, DemoRun
from tools.demo.timeline import build_timelines, render, zone_label

SEOUL = ZoneInfo("Asia/Seoul")


def test_a_second_run_meets_new_customers():
    first, second = (
        DemoRun("1764300000000", datetime.now(UTC)),
        DemoRun("1764300090000", datetime.now(UTC)),
    )
    assert first.customers.email != second.customers.email
    assert first.customers.telegram_user != second.customers.telegram_user
    assert first.customers.whatsapp_number != second.customers.whatsapp_number


def test_the_runs_phone_number_is_a_valid_korean_mobile():
    number = DemoCustomers.for_run("1764300012345").whatsapp_number
    parsed = phonenumbers.parse(number)
    assert phonenumbers.is_valid_number(parsed)
    assert phonenumbers.region_code_for_number(parsed) == "KR"


def test_zone_label_names_the_zone_and_its_offset():
    assert zone_label(SEOUL) == "Asia/Seoul (UTC+09:00)"
    assert zone_label(UTC) == "UTC"


def test_render_says_which_zone_its_times_are_in():
    assert render([], tz=SEOUL).strip() == "Times in Asia/Seoul (UTC+09:00)."


def _sla_warning(due: datetime) -> CloudEvent:
    conversation = {
        "conversation_id": "conv-1",
        "reference": "C-1",
        "contact_id": "contact-1",
        "channel": "email",
        "queue": "demo",
        "priority": "normal",
        "status": "open",
        "customer": {"email": "minjun.kim@example.kr"},
    }
    data = SlaWarning.model_validate(
        {
            "conversation": conversation,
            "occurred_at": due - timedelta(minutes=1),
            "metric": "first_response",
            "due_at": due,
            "target_minutes": 2,
        }
    )
    return CloudEvent(id="ev-1", source="test", type="support.sla.warning", data=data)


def test_sla_due_times_are_shown_in_the_timelines_zone():
    due = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
    (timeline,) = build_timelines([], [_sla_warning(due)], [], tz=SEOUL)
    assert "due 12:00:00 Asia/Seoul (UTC+09:00)" in timeline.entries[0].summary
