from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.events.routing import SlaMetric
from services.router.domain import sla
from services.router.domain.policies import CalendarConfig, build_calendar
from services.router.domain.sla import (
    BusinessCalendar,
    CalendarError,
    SlaTargets,
    add_business_minutes,
    add_business_minutes_each,
    business_minutes_between,
    clock_due,
    clock_dues,
    describe_hours,
    parse_interval,
)

WEEKDAYS_9_18 = {d: ["09:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def calendar(zone: str, country: str | None) -> BusinessCalendar:
    config = CalendarConfig(
        timezone=zone, hours=WEEKDAYS_9_18, holidays={"country": country} if country else None
    )
    return build_calendar(zone, config)


SEOUL = calendar("Asia/Seoul", "KR")
NEW_YORK = calendar("America/New_York", "US")
BERLIN = calendar("Europe/Berlin", "DE")
KST = ZoneInfo("Asia/Seoul")


def kst(y, m, d, hh, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=KST)


def test_inside_business_hours_is_plain_addition():
    assert add_business_minutes(SEOUL, kst(2026, 3, 4, 10), 30) == kst(2026, 3, 4, 10, 30)


def test_friday_evening_rolls_to_monday_morning():
    # Fri 17:50 KST + 30 business minutes = Mon 09:20 KST
    assert add_business_minutes(SEOUL, kst(2026, 3, 6, 17, 50), 30) == kst(2026, 3, 9, 9, 20)


def test_korean_holidays_are_skipped():
    # Chuseok 2026: Sep 24-26 (Thu-Sat); Wed 17:45 + 30 min → Mon Sep 28 09:15
    assert add_business_minutes(SEOUL, kst(2026, 9, 23, 17, 45), 30) == kst(2026, 9, 28, 9, 15)
    # Seollal 2026: Feb 16-18; Fri Feb 13 17:30 + 60 → Thu Feb 19 09:30
    assert add_business_minutes(SEOUL, kst(2026, 2, 13, 17, 30), 60) == kst(2026, 2, 19, 9, 30)


def test_new_york_across_spring_forward():
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 6, 17, 30, tzinfo=ny)  # Friday EST
    due = add_business_minutes(NEW_YORK, start, 60)
    assert due == datetime(2026, 3, 9, 9, 30, tzinfo=ny)  # Monday EDT
    assert due.astimezone(UTC).hour == 13  # 09:30 EDT = 13:30 UTC


def test_berlin_across_autumn_back_and_german_unity_day():
    berlin = ZoneInfo("Europe/Berlin")
    # Fri Oct 2 2026 17:00 + 120 min; Oct 3 is a Saturday anyway; DST ends Oct 25
    start = datetime(2026, 10, 23, 17, 0, tzinfo=berlin)
    assert add_business_minutes(BERLIN, start, 120) == datetime(2026, 10, 26, 10, 0, tzinfo=berlin)


def test_business_minutes_between_inverts_addition():
    start = kst(2026, 3, 6, 17, 0)
    end = add_business_minutes(SEOUL, start, 240)
    assert business_minutes_between(SEOUL, start, end) == pytest.approx(240)


def test_always_open_and_midnight_intervals():
    always = BusinessCalendar("always", "Asia/Seoul", always_open=True)
    start = kst(2026, 3, 7, 23, 50)
    assert add_business_minutes(always, start, 30) == start + timedelta(minutes=30)
    assert parse_interval("22:00-24:00") == (time(22), time(0))
    with pytest.raises(CalendarError):
        parse_interval("18:00-09:00")


def test_calendar_without_hours_is_refused():
    empty = BusinessCalendar("closed", "UTC", weekly={})
    with pytest.raises(CalendarError):
        add_business_minutes(empty, datetime(2026, 1, 1, tzinfo=UTC), 1)


def test_clock_due_with_warning_and_pause():
    targets = SlaTargets(30, 60, 600, warning_fraction=0.8)
    due = clock_due(SEOUL, targets, SlaMetric.FIRST_RESPONSE, started_at=kst(2026, 3, 4, 10))
    assert due.warning_at == kst(2026, 3, 4, 10, 24) and due.breach_at == kst(2026, 3, 4, 10, 30)
    resumed = clock_due(
        SEOUL, targets, SlaMetric.RESOLUTION, started_at=kst(2026, 3, 4, 10), elapsed_minutes=500
    )
    assert resumed.warning_at is None  # 80% already used before the pause
    assert resumed.breach_at == kst(2026, 3, 4, 11, 40)
    assert (
        clock_due(
            SEOUL,
            SlaTargets(30, None, None),
            SlaMetric.NEXT_RESPONSE,
            started_at=kst(2026, 3, 4, 10),
        )
        is None
    )


def test_describe_hours():
    assert describe_hours(SEOUL) == "Mon-Fri 09:00-18:00 Asia/Seoul"
    assert SEOUL.hours_description == describe_hours(SEOUL)


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 1), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    cal=st.sampled_from([SEOUL, NEW_YORK, BERLIN]),
    start=instants,
    minutes=st.integers(1, 3 * 9 * 60),
)
def test_due_times_respect_business_hours_and_holidays(cal, start, minutes):
    due = add_business_minutes(cal, start, minutes)
    local = due.astimezone(cal.zone)
    assert due > start
    # the due instant lies in (or closes) an open interval on a working day
    assert local.weekday() < 5 and not cal.is_holiday(local.date())
    assert time(9) < local.time() <= time(18) or cal.is_open(due)
    # exactly `minutes` of open time lie between start and due
    assert business_minutes_between(cal, start, due) == pytest.approx(minutes, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(start=instants, minutes=st.integers(1, 2000))
def test_seoul_has_no_dst_so_local_arithmetic_agrees_inside_a_day(start, minutes):
    due = add_business_minutes(SEOUL, start, minutes)
    assert due.astimezone(KST).utcoffset() == timedelta(hours=9)
    assert date(2025, 1, 1) <= due.date()


@settings(max_examples=150, deadline=None)
@given(
    cal=st.sampled_from([SEOUL, NEW_YORK, BERLIN]),
    start=instants,
    amounts=st.lists(st.floats(-10, 3 * 9 * 60), min_size=1, max_size=4),
)
def test_one_walk_for_several_amounts_agrees_with_one_walk_each(cal, start, amounts):
    together = add_business_minutes_each(cal, start, tuple(amounts))
    for amount, due in zip(amounts, together, strict=True):
        if amount <= 0:
            assert due == start
        else:
            assert business_minutes_between(cal, start, due) == pytest.approx(amount, abs=1e-6)


ALL_DAY = {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Seoul"]),
    start=instants,
    amounts=st.lists(st.floats(-10, 5 * 24 * 60), min_size=1, max_size=3),
    span=st.floats(-60, 5 * 24 * 60),
)
def test_always_open_shortcut_agrees_with_the_walk(zone, start, amounts, span):
    """An always-open calendar adds elapsed time without walking its days (each chat
    clock); the walk over every day's 00:00-24:00 gives the same instants, DST included."""
    always = build_calendar("always", CalendarConfig(timezone=zone, always_open=True))
    walked = build_calendar("walked", CalendarConfig(timezone=zone, hours=ALL_DAY))
    assert always.always_open and not walked.always_open
    assert add_business_minutes_each(always, start, tuple(amounts)) == add_business_minutes_each(
        walked, start, tuple(amounts)
    )
    end = start + timedelta(minutes=span)
    assert business_minutes_between(always, start, end) == pytest.approx(
        business_minutes_between(walked, start, end), abs=1e-6
    )


#: Weekly hours as configured in practice and at the edges: split days, overnight
#: shifts closing at midnight, a 24-hour weekend, overlapping intervals (the walk's
#: own meaning is kept for those), DST zones, holidays and closed dates.
HOURS = st.sampled_from(
    [
        WEEKDAYS_9_18,
        {"mon": ["09:00-12:00", "13:00-18:00"], "wed": ["22:00-24:00"], "thu": ["00:00-02:30"]},
        {"sat": ["00:00-24:00"], "sun": ["00:00-24:00"], "fri": ["01:30-03:00"]},
        {"tue": ["09:00-12:00", "11:00-13:00"], "fri": ["09:00-18:00"]},  # overlapping
        {"sun": ["02:00-03:30", "23:00-24:00"], "mon": ["00:00-00:30"]},  # DST hours
    ]
)


def _calendar_config(
    zone: str, country: str | None, hours: dict, closed: list[date]
) -> CalendarConfig:
    return CalendarConfig(
        timezone=zone,
        hours=hours,
        holidays={"country": country} if country else None,
        closed_dates=closed,
    )


#: the calendars the hypothesis tests below draw: zones with DST and a half-hour one,
#: holiday sets or none, and a few closed days
CALENDAR_ZONES = st.sampled_from(
    ["America/New_York", "Europe/Berlin", "Asia/Seoul", "Australia/Lord_Howe"]
)
HOLIDAY_COUNTRIES = st.sampled_from([None, "KR", "US", "DE"])
CLOSED_DATES = st.lists(st.dates(date(2025, 1, 1), date(2027, 12, 31)), max_size=5)


@settings(max_examples=300, deadline=None)
@given(
    zone=CALENDAR_ZONES,
    country=HOLIDAY_COUNTRIES,
    hours=HOURS,
    closed=CLOSED_DATES,
    starts=st.lists(instants, min_size=1, max_size=4),
    amounts=st.lists(
        st.one_of(st.floats(-10, 20 * 24 * 60), st.integers(0, 3000)), min_size=1, max_size=3
    ),
)
def test_open_runs_give_the_walks_instants(zone, country, hours, closed, starts, amounts):
    """Due instants found by bisection over a day's open run are exactly the walk's,
    for a fresh calendar and for one whose runs earlier clocks already extended."""
    config = _calendar_config(zone, country, hours, closed)
    shared = build_calendar("hours", config)
    for start in starts:
        fresh = build_calendar("hours", config)
        walked = outcome(
            sla._walk_business_minutes,
            build_calendar("hours", config),
            start.astimezone(UTC),
            [timedelta(minutes=m) for m in amounts],
        )
        assert outcome(add_business_minutes_each, fresh, start, tuple(amounts)) == walked
        assert outcome(add_business_minutes_each, shared, start, tuple(amounts)) == walked
        if isinstance(walked, list):
            assert all(due.tzinfo is UTC for due in walked)


def outcome(function, *args):
    """The instants, or the error: sparse hours may not fit an amount in 400 days."""
    try:
        return function(*args)
    except CalendarError as error:
        return str(error)


def test_a_calendar_closed_for_good_is_refused_as_the_walk_refuses_it():
    config = CalendarConfig(hours={"mon": ["09:00-10:00"]})
    closed = build_calendar("closed", config)
    closed_for_good = BusinessCalendar("closed", weekly={}, is_holiday=lambda _: True)
    assert closed.weekly and not closed_for_good.weekly
    with pytest.raises(CalendarError, match="no open hours within"):
        add_business_minutes(closed_for_good, datetime(2026, 3, 2, tzinfo=UTC), 10)


METRICS = list(SlaMetric)
#: SlaTargets' fields: each target or none, and the warning fraction
TARGETS = st.tuples(
    st.one_of(st.none(), st.integers(1, 3000)),
    st.one_of(st.none(), st.integers(1, 3000)),
    st.one_of(st.none(), st.integers(1, 3000)),
    st.sampled_from([0.5, 0.8, 0.99]),
)
#: the clocks a message starts together: each metric with its elapsed minutes
STARTED_CLOCKS = st.lists(
    st.tuples(st.sampled_from(METRICS), st.sampled_from([0.0, 0.0, 10.0, 5000.0])),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    zone=CALENDAR_ZONES,
    country=HOLIDAY_COUNTRIES,
    hours=HOURS,
    closed=CLOSED_DATES,
    base=instants,
    offsets=st.lists(st.integers(-3 * 24 * 60, 3 * 24 * 60), min_size=1, max_size=8),
    micros=st.integers(0, 10**6),
    targets=TARGETS,
    clocks=STARTED_CLOCKS,
)
def test_dues_kept_for_a_closed_stretch_are_those_worked_out_afresh(
    zone, country, hours, closed, base, offsets, micros, targets, clocks
):
    """clock_dues on one calendar over starts near each other (many in the same closed
    stretch: the dues kept there handed out again) gives each start's clock_due on a
    fresh calendar, and is_open (which reads the stretch) a fresh calendar's answer
    (``assert_dues_as_afresh``)."""
    config = _calendar_config(zone, country, hours, closed)
    shared = build_calendar("hours", config)
    sla_targets = SlaTargets(*targets)
    for offset in offsets:
        start = base + timedelta(minutes=offset, microseconds=micros * (offset % 2))
        assert_dues_as_afresh(config, shared, sla_targets, clocks, start)


def assert_dues_as_afresh(config, shared, targets, clocks, start):
    """``clock_dues`` of a calendar used before are each clock's due on a fresh one, in
    UTC, and its ``is_open`` a fresh one's answer."""
    expected = outcome(each_clock_due, build_calendar("hours", config), targets, clocks, start)
    found = outcome(clocks_due, shared, targets, tuple(clocks), start)
    assert found == expected
    if isinstance(found, list):
        for due in found:
            assert due is None or (
                due.breach_at.tzinfo is UTC
                and (due.warning_at is None or due.warning_at.tzinfo is UTC)
            )
    assert shared.is_open(start) == build_calendar("hours", config).is_open(start)


def each_clock_due(calendar, targets, clocks, start):
    return [clock_due(calendar, targets, m, started_at=start, elapsed_minutes=e) for m, e in clocks]


def clocks_due(calendar, targets, clocks, start):
    return clock_dues(calendar, targets, clocks, started_at=start)


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(["America/New_York", "Asia/Seoul"]),
    base=instants,
    offsets=st.lists(st.integers(-3 * 24 * 60, 3 * 24 * 60), min_size=1, max_size=4),
    targets=TARGETS,
    clocks=st.lists(
        st.tuples(st.sampled_from(METRICS), st.sampled_from([0.0, 10.0, 5000.0])),
        min_size=1,
        max_size=3,
    ),
)
def test_always_open_dues_kept_per_targets_are_each_clocks_due(
    zone, base, offsets, targets, clocks
):
    """On an always-open calendar clock_dues adds amounts kept per targets and clocks to
    each start: each start's clock_due, whichever targets object came before."""
    calendar = build_calendar("always", CalendarConfig(timezone=zone, always_open=True))
    for offset in offsets:
        sla_targets = SlaTargets(*targets) if offset % 2 else SlaTargets(*reversed(targets[:3]))
        start = base + timedelta(minutes=offset, microseconds=offset % 7)
        expected = outcome(each_clock_due, calendar, sla_targets, clocks, start)
        assert outcome(clocks_due, calendar, sla_targets, tuple(clocks), start) == expected


#: ``_calendar_config`` of the zones, holidays, hours and closed dates drawn above
CALENDAR_CONFIGS = st.builds(
    _calendar_config, CALENDAR_ZONES, HOLIDAY_COUNTRIES, HOURS, CLOSED_DATES
)


@settings(max_examples=300, deadline=None)
@given(
    config=CALENDAR_CONFIGS,
    base=instants,
    offsets=st.lists(st.integers(-3 * 3600 * 10**6, 3 * 3600 * 10**6), min_size=1, max_size=8),
    targets=TARGETS,
    clocks=STARTED_CLOCKS,
)
def test_dues_kept_for_an_open_span_are_those_worked_out_afresh(
    config, base, offsets, targets, clocks
):
    """clock_dues on one calendar over starts microseconds to hours apart (many in the
    span of an open interval the last start's dues were kept for, and each at the edges
    of that span: its first start excluded, its last included; each start again in
    Seoul's time) gives each start's clock_due on a fresh calendar, in UTC, and is_open
    a fresh calendar's answer."""
    shared = build_calendar("hours", config)
    sla_targets = SlaTargets(*targets)
    starts = [base + timedelta(microseconds=offset) for offset in offsets]
    for start in starts:
        span = shared._open[0]
        edges = [] if span is None else [span[0], span[0] + sla._MICROSECOND, span[1]]
        # the start also in a zone of its own: routing passes UTC, the dues are UTC anyway
        for at in [start, start.astimezone(KST), *edges, *(e + sla._MICROSECOND for e in edges)]:
            assert_dues_as_afresh(config, shared, sla_targets, clocks, at)
