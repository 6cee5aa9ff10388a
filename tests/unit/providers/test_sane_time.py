"""``sane_time`` compares a moment in another zone as its UTC instant and gives that
instant: the same answer as comparing the aware moment itself (the expression it had
before), for any moment, and the same interaction built from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from pydantic_core import TzInfo

from libs.common.events.base import UtcDatetime
from libs.providers.inbound import sane_time

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
FALLBACK = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)


def compared_directly(moment: datetime | None, fallback: datetime) -> datetime:
    """``sane_time`` as it was: the aware moment compared with the bounds."""
    if moment is None or moment.tzinfo is None or not (_EARLIEST <= moment < _LATEST):
        return fallback
    return moment


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timedelta(minutes=minutes)
)
zones = st.one_of(
    st.none(),
    st.just(UTC),
    offsets.map(timezone),
    offsets.map(lambda offset: TzInfo(int(offset.total_seconds()))),
)
moments = st.builds(
    lambda naive, zone: naive.replace(tzinfo=zone),
    st.one_of(
        st.datetimes(),  # any year: the range's edges, and instants past year 1 or 9999 in UTC
        st.datetimes(min_value=datetime(1999, 12, 30), max_value=datetime(2100, 1, 2)),
    ),
    zones,
)


@given(moments)
def test_the_same_answer_as_comparing_the_aware_moment(moment: datetime) -> None:
    expected = compared_directly(moment, FALLBACK)
    got = sane_time(moment, FALLBACK)
    if expected is FALLBACK or moment.tzinfo is UTC:
        assert got is expected
    else:  # the same instant, in UTC
        assert got == expected
        assert got.tzinfo is UTC


def test_a_parsed_payload_time_is_its_utc_instant() -> None:
    parsed = TypeAdapter(datetime).validate_json('"2026-01-05T09:30:00+09:00"')
    assert type(parsed.tzinfo) is TzInfo
    assert sane_time(parsed, FALLBACK) == datetime(2026, 1, 5, 0, 30, tzinfo=UTC)
    assert sane_time(parsed, FALLBACK).tzinfo is UTC


@given(moments)
def test_the_interaction_built_from_it_is_the_same(moment: datetime) -> None:
    """The interaction's ``occurred_at`` as validation stores the time ``sane_time`` gave
    before (the aware moment itself): the same value and zone, the same JSON."""
    expected = compared_directly(moment, FALLBACK)
    got = sane_time(moment, FALLBACK)
    stored = TypeAdapter(UtcDatetime)
    assert stored.validate_python(got) == stored.validate_python(expected)
    assert stored.dump_json(stored.validate_python(got)) == stored.dump_json(
        stored.validate_python(expected)
    )


def test_absurd_and_missing_times_fall_back() -> None:
    for moment in (
        None,
        datetime(2026, 1, 5, 9, 30),  # naive
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2000, 1, 1, 8, 59, tzinfo=timezone(timedelta(hours=9))),  # 1999 in UTC
        datetime(2100, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=TzInfo(9 * 3600)),  # before year 1 in UTC
        datetime(9999, 12, 31, 23, 0, tzinfo=TzInfo(-5 * 3600)),  # after 9999 in UTC
    ):
        assert sane_time(moment, FALLBACK) is FALLBACK
