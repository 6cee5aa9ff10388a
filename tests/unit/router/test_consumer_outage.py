"""Which errors are a database outage (wait and retry) rather than a bad record."""

from __future__ import annotations

import asyncpg
from sqlalchemy.exc import IntegrityError, OperationalError

from services.router.consumer import database_unavailable


def test_connection_failures_are_outages():
    refused = OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))
    assert database_unavailable(refused)
    assert database_unavailable(ConnectionRefusedError(111, "refused"))
    starting = asyncpg.CannotConnectNowError("the database system is starting up")
    assert database_unavailable(starting)
    wrapped = RuntimeError("routing failed")
    wrapped.__cause__ = starting
    assert database_unavailable(wrapped)


def test_bad_records_are_not_outages():
    assert not database_unavailable(ValueError("not an interaction"))
    assert not database_unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))


def test_a_dropped_postgresql_connection_is_an_outage():
    """asyncpg is looked up in ``sys.modules`` (never imported on SQLite): imported
    here, as SQLAlchemy's PostgreSQL dialect does, its errors are recognised."""
    assert database_unavailable(asyncpg.PostgresConnectionError("connection lost"))
