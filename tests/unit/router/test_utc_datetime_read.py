"""SQLite's datetime text read back (services/router/store/models.py ``_sqlite_utc``) is
what SQLAlchemy's own processing of ``UtcDateTime`` gave: ``datetime.fromisoformat``
(the dialect's processor), then ``process_result_value``; and on PostgreSQL
(``_aware_utc``) what ``process_result_value`` gave for asyncpg's datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.dialects.sqlite import dialect as sqlite_dialect

from services.router.store.models import UtcDateTime, _aware_utc, _sqlite_utc

SQLITE = sqlite_dialect()
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.timezones()
)


def sqlalchemys_reading(text: object) -> datetime | None:
    """The decorator's chain as SQLAlchemy composes it, minus the override."""
    impl = sa.DateTime(timezone=True).dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert impl is not None
    return UtcDateTime().process_result_value(impl(text), SQLITE)


def test_the_sqlite_dialect_reads_utc_datetimes_with_it() -> None:
    assert UtcDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None) is _sqlite_utc


@given(moment=MOMENTS)
def test_stored_text_reads_as_sqlalchemy_read_it(moment: datetime) -> None:
    """The text SQLAlchemy's SQLite DATETIME writes (naive UTC, microseconds), and the
    same without microseconds or with its own offset (another writer's)."""
    bind = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert bind is not None
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    for text in (
        bind(naive),
        naive.isoformat(sep=" ", timespec="seconds"),
        naive.isoformat(),
        moment.isoformat(sep=" "),
    ):
        read = _sqlite_utc(text)
        assert read == sqlalchemys_reading(text)
        assert read is not None and read.tzinfo is UTC
    assert _sqlite_utc(bind(naive)) == naive.replace(tzinfo=UTC)


@pytest.mark.parametrize("text", [None, "2026-03-02", "2026-03-02 09:30:15Z"])
def test_other_texts_read_the_usual_way(text: str | None) -> None:
    assert _sqlite_utc(text) == sqlalchemys_reading(text)
    if text is not None:
        assert _sqlite_utc(text).tzinfo is UTC  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["not a time", "2026-13-01 00:00:00", date(2026, 3, 2)])
def test_what_sqlalchemy_refused_is_refused(value: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        sqlalchemys_reading(value)
    with pytest.raises((TypeError, ValueError)):
        _sqlite_utc(value)  # type: ignore[arg-type]


POSTGRES = asyncpg_dialect()


def test_the_asyncpg_dialect_reads_utc_datetimes_with_one_call() -> None:
    assert UtcDateTime().dialect_impl(POSTGRES).result_processor(POSTGRES, 1184) is _aware_utc


@given(moment=MOMENTS | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_a_drivers_datetime_reads_as_the_decorator_read_it(moment: datetime) -> None:
    """asyncpg's ``timestamptz`` (aware, UTC), and any other zone or a naive one."""
    for value in (moment, moment.astimezone(UTC) if moment.tzinfo else moment):
        expected = UtcDateTime().process_result_value(value, POSTGRES)
        got = _aware_utc(value)
        assert got == expected
        assert got is not None and expected is not None
        assert got.tzinfo is expected.tzinfo is UTC
        assert got.replace(tzinfo=None) == expected.replace(tzinfo=None)


def test_none_reads_as_none_on_postgresql() -> None:
    assert _aware_utc(None) is None
