"""Prepared statements: parameters in the compiled order, converted as SQLAlchemy would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.dialects.sqlite import aiosqlite

from services.notifier.prepared import Prepared
from services.notifier.sentlog import rate_slot, sent_log

AT = datetime(2026, 11, 23, 0, 30, 1, 5, tzinfo=UTC)


def test_parameters_follow_the_compiled_order_with_values_set_in_the_statement():
    statement = (
        update(sent_log)
        .where(sent_log.c.event_id == bindparam("k_event"))
        .values(status="sent", claimed_at=None, updated_at=bindparam("v_at"))
    )
    prepared = Prepared(statement, aiosqlite.dialect())
    assert prepared.sql.startswith("UPDATE notifier_sent_log SET status=?, claimed_at=?")
    # SQLite: the datetime as SQLAlchemy's SQLite DATETIME stores it (text, microseconds).
    assert prepared.params({"k_event": "ev-1", "v_at": AT}) == (
        "sent",
        None,
        "2026-11-23 00:30:01.000005",
        "ev-1",
    )
    with pytest.raises(KeyError):
        prepared.params({"v_at": AT})  # a required parameter is never silently None


def test_postgres_parameters_are_passed_as_they_are():
    statement = rate_slot.insert()
    prepared = Prepared(statement, asyncpg.dialect())
    assert "$1" in prepared.sql
    row = {"sender": "a@b.kr", "event_id": "ev-1", "claimed_at": AT}
    assert prepared.params(row) == ("a@b.kr", "ev-1", AT)
    with pytest.raises(ValueError, match="qmark"):
        prepared.many_rows_sql(2)


def test_a_single_row_insert_becomes_one_insert_of_many_rows():
    statement = sqlite.insert(rate_slot).on_conflict_do_nothing().returning(rate_slot.c.sender)
    prepared = Prepared(statement, aiosqlite.dialect())
    sql = prepared.many_rows_sql(3)
    assert sql.count("(?, ?, ?)") == 3
    assert sql.endswith("ON CONFLICT DO NOTHING RETURNING sender")


def test_many_rows_convert_a_recurring_value_once_and_each_row_as_params_would():
    statement = update(sent_log).values(
        created_at=bindparam("v_created"), updated_at=bindparam("v_at")
    )
    prepared = Prepared(statement, aiosqlite.dialect())
    later = datetime(2026, 11, 23, 0, 30, 2, tzinfo=UTC)
    rows = [
        {"v_created": AT, "v_at": AT},
        {"v_created": AT, "v_at": later},
        {"v_created": None, "v_at": AT},
        # equal to AT but another object in another zone: converted on its own
        {"v_created": AT.astimezone(timezone(timedelta(hours=9))), "v_at": AT},
    ]
    assert prepared.params_many(rows) == [prepared.params(row) for row in rows]
    assert prepared.params_many(rows)[1] == (
        "2026-11-23 00:30:01.000005",
        "2026-11-23 00:30:02.000000",
    )
