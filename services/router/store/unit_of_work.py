"""Unit of work: one transaction; rolls back unless told to commit.

Routing events added through ``uow.outbox`` are inserted in the same
transaction as the state change that caused them (transactional outbox).
SQLite has one writer: writes in this process are serialised by a lock so
transactions never fight over the database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.router.store.models import (
    AttachmentRow,
    AuditRow,
    Contact,
    ContactIdentity,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SlaTimer,
)
from services.router.store.outbox import OutboxWriter
from services.router.store.repositories import (
    AgentRepository,
    ApiKeyRepository,
    ContactRepository,
    ConversationRepository,
    CounterRepository,
    InteractionRepository,
    TimerRepository,
)

ASSIGNMENT_LOCK = 7226459
#: Append-only rows written with one multi-row INSERT each, after the ORM flush
#: (their foreign keys point at conversations the flush inserts).
BULK_ORDER = (MessageIndex, InteractionRecord, AttachmentRow, SlaTimer, OutboxRow, AuditRow)
#: Insert-only rows that the ORM's rows point at: written before the ORM flush.
BULK_FIRST = (Contact, ContactIdentity)
#: Runs inside every committing transaction, just before it commits (the composition
#: root passes the audit trail's: an action's audit row commits with the action).
BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]


class UnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        postgres: bool,
        write_lock: asyncio.Lock | None,
        on_commit: Callable[[], None] | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self._sessions = sessions
        self.postgres = postgres
        self._write_lock = write_lock
        self._on_commit = on_commit
        self._before_commit = before_commit
        self._session: AsyncSession | None = None
        self._committed = False

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use `async with uow:`"
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            await self._write_lock.acquire()
        try:
            self._session = self._sessions()
            self._committed = False
            #: per-transaction caches of the service layer (agent pool, batch lookups)
            self.cache: dict[str, object] = {}
            self._bulk: dict[type, list[dict[str, object]]] = {}
            self.contacts = ContactRepository(self.session)
            self.conversations = ConversationRepository(self.session, postgres=self.postgres)
            self.interactions = InteractionRepository(self.session)
            self.agents = AgentRepository(self.session, postgres=self.postgres)
            self.timers = TimerRepository(self.session, postgres=self.postgres)
            self.api_keys = ApiKeyRepository(self.session)
            self.counters = CounterRepository(self.session, postgres=self.postgres)
            self.outbox = OutboxWriter(self)
        except BaseException:
            self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # close() rolls back anything uncommitted and detaches objects without
            # expiring them, so read results stay usable after the block.
            await self.session.close()
        finally:
            self._session = None
            self._release()

    def _release(self) -> None:
        if self._write_lock is not None and self._write_lock.locked():
            self._write_lock.release()

    async def serialise_assignment(self) -> None:
        """Call first in a transaction that may assign (PostgreSQL, several replicas).

        Assignment reads every online agent's load; taking this advisory lock before
        any row lock gives all such transactions one lock order (no deadlocks) and
        keeps capacity exact across replicas. SQLite is already serialised.
        """
        if self.postgres:
            await self.session.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": ASSIGNMENT_LOCK}
            )

    def insert_later(self, model: type, values: dict[str, object]) -> None:
        """Queue an append-only row; written at flush/commit in one INSERT per table."""
        self._bulk.setdefault(model, []).append(values)

    async def flush(self) -> None:
        with self.session.no_autoflush:  # the ORM rows must wait for these
            await self._insert_bulk(BULK_FIRST)
        await self.session.flush()
        await self._insert_bulk(BULK_ORDER)

    async def _insert_bulk(self, models: tuple[type, ...]) -> None:
        for model in models:
            rows = self._bulk.pop(model, None)
            if rows:
                await self.session.execute(insert(model.__table__), rows)

    @property
    def committed(self) -> bool:
        return self._committed

    async def commit(self) -> None:
        if self._before_commit is not None:
            await self._before_commit(self)
        await self.flush()
        await self.session.commit()
        self._committed = True
        if self._on_commit is not None and self.outbox.added:
            self._on_commit()

    async def rollback(self) -> None:
        await self.session.rollback()


class UnitOfWorkFactory:
    """Builds units of work on one engine; the composition root owns it."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        on_commit: Callable[[], None] | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=True)
        self._write_lock = None if self.postgres else asyncio.Lock()
        self.on_commit = on_commit
        self.before_commit = before_commit

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(
            self._sessions,
            postgres=self.postgres,
            write_lock=self._write_lock,
            on_commit=self.on_commit,
            before_commit=self.before_commit,
        )

    def reader(self) -> UnitOfWork:
        """A read-only unit: no write lock (SQLite WAL readers run beside the writer)."""
        return UnitOfWork(self._sessions, postgres=self.postgres, write_lock=None)
