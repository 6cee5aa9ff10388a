"""PostgreSQL: a transaction's BEGIN sent together with its first statement.

SQLAlchemy's asyncpg adapter begins a transaction with its first statement by sending
``BEGIN`` on its own (asyncpg's ``Transaction.start``) and waiting for it: a round trip
before every poll's first statement, the assignment lock (``pg_advisory_xact_lock``).
Here both go as one simple query (``BEGIN; SELECT …``: one round trip) and the adapter
is handed a transaction that commits and rolls back as asyncpg's does (``COMMIT;``,
``ROLLBACK;``). Only when the adapter has no transaction yet and would begin it with a
plain ``BEGIN`` (no isolation level, read-only or deferrable setting); otherwise, and
whenever the combined query fails, the statement goes the ordinary way, so its errors
are SQLAlchemy's as before (a connection gone is invalidated, ``DBAPIError``).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.router.store.lookups import DRIVER_WATCHERS


class BegunTransaction:
    """What the adapter keeps as its transaction (``_transaction``): it calls only
    ``commit`` and ``rollback``, and forgets it after either."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    async def commit(self) -> None:
        await self._driver.execute("COMMIT;")

    async def rollback(self) -> None:
        await self._driver.execute("ROLLBACK;")


async def begin_with(session: AsyncSession, sql: str) -> bool:
    """Send ``BEGIN; {sql}`` as one query if ``session``'s connection has no transaction
    yet (``sql``: a statement without parameters, its rows not wanted). True if it did;
    False if it sent nothing (the caller runs ``sql`` the ordinary way)."""
    connection = await session.connection()
    sync = connection.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return False
    adapted = sync.connection.dbapi_connection
    driver = getattr(adapted, "_connection", None)
    if (
        driver is None
        or getattr(adapted, "_transaction", True) is not None
        or adapted.isolation_level is not None
        or adapted.readonly
        or adapted.deferrable
        or driver.is_closed()  # the ordinary way raises (and invalidates) as before
        or driver.is_in_transaction()
    ):
        return False
    begun = BegunTransaction(driver)
    # kept before sending: whatever happens from here (an error, a cancellation), the
    # adapter's rollback (the session's close, the pool's reset) sends ROLLBACK
    adapted._transaction = begun
    try:
        await driver.execute(f"BEGIN; {sql}")
    except Exception:
        adapted._transaction = None
        # the ordinary way then raises what is wrong, as before (a warning from the
        # server if nothing began)
        with suppress(Exception):
            await begun.rollback()
        return False
    for watch in session.info.get(DRIVER_WATCHERS, ()):  # a statement SQLAlchemy did not see
        watch(f"BEGIN; {sql}")
    return True
