from datetime import UTC, datetime, timedelta

import pytest

from services.router.console.i18n import MESSAGES, choose_locale, translator
from services.router.console.sla import SlaState, countdown, format_left

NOW = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("minutes", "breached", "state"),
    [
        (-10, False, SlaState.OK),
        (0, False, SlaState.WARNING),
        (3, False, SlaState.WARNING),
        (5, False, SlaState.BREACH),
        (9, False, SlaState.BREACH),
        (-10, True, SlaState.BREACH),
    ],
)
def test_countdown_is_amber_from_the_warning_and_red_from_the_breach(minutes, breached, state):
    now = NOW + timedelta(minutes=minutes)
    due = countdown(now, warning_at=NOW, breach_at=NOW + timedelta(minutes=5), breached=breached)
    assert due.state is state
    assert due.seconds_left == int((NOW + timedelta(minutes=5) - now).total_seconds())


def test_no_running_clock_shows_nothing_unless_breached():
    assert countdown(NOW, warning_at=None, breach_at=None).state is SlaState.NONE
    assert countdown(NOW, warning_at=None, breach_at=None, breached=True).state is SlaState.BREACH


def test_format_left():
    assert format_left(None) == ""
    assert format_left(65) == "1:05"
    assert format_left(-65) == "-1:05"
    assert format_left(3 * 3600 + 61) == "3:01:01"


def test_both_catalogues_have_the_same_keys():
    assert set(MESSAGES["ko"]) == set(MESSAGES["en"])


def test_locale_choice_switch_then_agent_then_default():
    assert choose_locale(None, "ko-KR") == "ko"
    assert choose_locale("en", "ko-KR") == "en"
    assert choose_locale("fr", "en-US") == "en"
    assert choose_locale(None, None) == "en"
    assert translator("ko")("inbox") == "받은 문의"
    assert translator("ko")("no-such-key") == "no-such-key"
