"""The router's SQLite driver path (``store/sqlite_driver.py``, the unit of work's
one-hop flush) on real SQLite files: a poll of one interaction is a bounded number of
hops to aiosqlite's thread (a count, not a timing); the flush's statements and COMMIT
sent together store exactly what SQLAlchemy's own statements store; a statement that
fails mid-flush rolls the whole transaction back and leaves the connection usable."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from itertools import groupby
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from libs.common.settings import KafkaSettings
from services.router.bootstrap import build_context, open_store
from services.router.domain.assignment import AgentStatus
from services.router.service.agents import seed_agents, set_agent_status
from services.router.service.context import RouterContext
from services.router.service.interactions import Incoming, route_batch
from services.router.service.routing_cache import Prefetch
from services.router.settings import RouterSettings
from services.router.store.engine import _sqlite_pragmas, build_engine, migrate
from services.router.store.models import (
    Agent,
    Contact,
    Conversation,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    SequenceCounter,
    SlaTimer,
)
from services.router.store.sqlite_driver import OneHopConnection
from services.router.store.unit_of_work import UnitOfWorkFactory, new_row
from tests.integration.router.test_bulk_insert import AT, CHANGES, rows_of, stored

pytestmark = pytest.mark.integration

#: A poll of one new chat that is assigned: its reads (known event ids with the agents
#: and their loads, then, none of it known, identity owners with Message-IDs and the
#: owners' last assignees, then the candidate conversations by what those found) one
#: hop, and its whole flush with the COMMIT one hop. It was ~23 before each statement
#: was one hop, 6 before the reads shared hops, 4 before the candidates rode the
#: owners' hop, 3 before the owners' rode the known event ids' hop.
HOPS_OF_A_POLL_OF_ONE = 2


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[RouterContext]:
    settings = RouterSettings(
        state_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'router.db'}",
        kafka=KafkaSettings(),
        csat_secret="integration-test-secret-0123456789",
        dev_mode=False,
    )
    engine = await open_store(settings)
    yield build_context(settings, engine, clock=lambda: AT)  # a Wednesday, 10:00 KST
    await engine.dispose()


def chat(n: int) -> Incoming:
    interaction = Interaction(
        channel=Channel.CHAT,
        provider="whatsapp",
        integration="wa",
        occurred_at=AT,
        received_at=AT,
        customer=CustomerIdentity(phone=f"+8210{n:08d}"),
        body=MessageBody(text="출금이 지연되고 있어요"),
    )
    return Incoming(f"hop-{n}", interaction)


class HopCount:
    """Hops of every connection the engine's pool hands out meanwhile."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.connections: dict[int, OneHopConnection] = {}
        self._engine = engine.sync_engine

    def __enter__(self) -> HopCount:
        event.listen(self._engine, "checkout", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "checkout", self._seen)

    def _seen(self, dbapi_connection: Any, _record: object, _proxy: object) -> None:
        driver = dbapi_connection.driver_connection
        assert isinstance(driver, OneHopConnection)
        self.connections.setdefault(id(driver), driver)

    def total(self) -> int:
        return sum(connection.hops for connection in self.connections.values())


async def test_a_poll_of_one_is_a_handful_of_hops(ctx: RouterContext):
    await seed_agents(ctx)
    for agent in ctx.config.current.roster.agents:
        await set_agent_status(ctx, agent.id, AgentStatus.ONLINE)
    with HopCount(ctx.uow.engine) as hops:
        await route_batch(ctx, [chat(0)])  # warm (cached statements); the pool's connection
        before = hops.total()
        await route_batch(ctx, [chat(1)])
        spent = hops.total() - before
    async with ctx.uow.reader() as uow:
        assigned = await uow.session.scalar(
            sa.select(Conversation.assignee_id)
            .join(InteractionRecord, InteractionRecord.conversation_id == Conversation.id)
            .where(InteractionRecord.event_id == "hop-1")
        )
    assert assigned is not None  # the poll assigned: the agent's UPDATE was in the flush
    assert 0 < spent <= HOPS_OF_A_POLL_OF_ONE


def mail(n: int, customer: int, replying_to: int | None) -> Incoming:
    interaction = Interaction(
        channel=Channel.EMAIL,
        provider="imap",
        integration="support",
        occurred_at=AT,
        received_at=AT,
        customer=CustomerIdentity(email=f"c{customer}@example.com"),
        subject="Deposit not credited",
        body=MessageBody(text="My deposit is missing"),
        thread=ThreadHints(
            message_id=f"m{n}@example.com",
            in_reply_to=[f"m{replying_to}@example.com"] if replying_to is not None else [],
        ),
    )
    return Incoming(f"mail-{n}", interaction)


#: Polls that find what earlier polls stored (a returning chat customer, replies to
#: stored Message-IDs, an event id twice in a poll), one redelivered in part (its known
#: ids skipped), one redelivered whole.
POLLS = [
    [chat(0), chat(1), mail(0, 0, None), mail(1, 1, None)],
    [Incoming("again-0", chat(0).interaction), chat(2), mail(2, 0, 0), mail(3, 2, 1), chat(2)],
    [chat(1), chat(3), mail(4, 1, 3)],  # chat(1) known: the rest routed
    [chat(1), mail(4, 1, 3)],  # all known
]


async def routed_polls(ctx: RouterContext) -> tuple[list[str], list[int], dict[str, list[Any]]]:
    """The statements the polls sent, the hops each took, and every table's rows."""
    await seed_agents(ctx)
    for agent in ctx.config.current.roster.agents:
        await set_agent_status(ctx, agent.id, AgentStatus.ONLINE)
    seen: list[str] = []
    spent = []
    with HopCount(ctx.uow.engine) as hops, ctx.uow.watching_driver(seen.append):
        for poll in POLLS:
            before = hops.total()
            await route_batch(ctx, poll)
            spent.append(hops.total() - before)
    async with ctx.uow.reader() as uow:
        tables = {
            model.__tablename__: await stored(uow.session, model.__table__)
            for model in (Contact, Conversation, InteractionRecord, MessageIndex, OutboxRow)
        }
    return seen, spent, tables


async def test_the_cache_reads_in_the_first_hop_are_those_of_a_hop_of_their_own(
    ctx: RouterContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The routing cache's reads ride the poll's first hop when none of the poll is
    known: the same statements in the same order, the same stored rows, as when they
    take a hop of their own (``Prefetch.sqlite_read`` None, the path before)."""
    riding = await routed_polls(ctx)
    apart_settings = RouterSettings(
        state_dir=tmp_path / "apart",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'apart.db'}",
        kafka=KafkaSettings(),
        csat_secret="integration-test-secret-0123456789",
        dev_mode=False,
    )
    (tmp_path / "apart").mkdir()
    engine = await open_store(apart_settings)
    monkeypatch.setattr(Prefetch, "sqlite_read", lambda self, uow: None)
    try:
        apart = await routed_polls(build_context(apart_settings, engine, clock=lambda: AT))
    finally:
        await engine.dispose()
    assert riding[0] == apart[0]  # the statements, in order
    assert riding[2] == apart[2]  # the rows stored
    stored_rows = riding[2]
    # the reads found what the earlier polls stored: replies and returning chats joined
    assert len(stored_rows[Conversation.__tablename__]) < len(
        stored_rows[InteractionRecord.__tablename__]
    )
    # a poll partly known reads in a hop of its own, as before; one all known stops early
    assert [a - r for r, a in zip(riding[1], apart[1], strict=True)] == [1, 1, 0, 0]


@pytest.fixture
async def one_hop(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = build_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.db'}")
    await migrate(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def plain(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """SQLAlchemy's own aiosqlite connection (the reference), same schema and pragmas."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def test_the_one_hop_flush_stores_what_sqlalchemy_stores(
    one_hop: AsyncEngine, plain: AsyncEngine
):
    rows = dict(rows_of(""))
    conversation_ids = [row["id"] for row in rows[Conversation]]
    update = sa.update(Conversation.__table__).where(Conversation.id == sa.bindparam("_pk"))

    # the reference: every statement through SQLAlchemy's session, then its COMMIT
    async with AsyncSession(plain) as session, session.begin():
        for model, model_rows in rows.items():
            for _, same_keys in groupby(model_rows, key=tuple):
                await session.execute(sa.insert(model.__table__), list(same_keys))
        await session.execute(
            update.values({key: sa.bindparam(key) for key in CHANGES}),
            [{"_pk": key, **CHANGES} for key in conversation_ids],
        )
        await session.execute(
            sa.update(SlaTimer.__table__)
            .where(SlaTimer.metric == "first_response", SlaTimer.cancelled_at.is_(None))
            .values(cancelled_at=AT)
        )
        session.add(SequenceCounter(name="conversation", value=2))

    # the unit of work: queued, then one hop with the COMMIT
    factory = UnitOfWorkFactory(one_hop)
    async with factory() as uow:
        for model, model_rows in rows.items():
            if model is Conversation:
                for values in model_rows:
                    uow.add_new(new_row(Conversation, values))
            else:
                for values in model_rows:
                    uow.insert_later(model, values)
        assert await uow.counters.next_value("conversation") == 1
        await uow.flush()  # the rows and the counter's ORM insert: then queued updates
        for key in conversation_ids:
            uow.update_later(Conversation, key, CHANGES)
        uow.cancel_timers_later("c1", metrics=["first_response"], at=AT)
        assert await uow.counters.next_value("conversation") == 2
        await uow.commit()

    for model, _ in [*rows_of(""), (SequenceCounter, [])]:
        async with AsyncSession(plain) as reference, AsyncSession(one_hop) as candidate:
            expected = await stored(reference, model.__table__)
            assert expected, model.__table__.name
            assert await stored(candidate, model.__table__) == expected, model.__table__.name


async def test_a_statement_failing_mid_flush_rolls_the_whole_poll_back(one_hop: AsyncEngine):
    factory = UnitOfWorkFactory(one_hop)
    rows = dict(rows_of("kept-"))
    async with factory() as uow:
        for values in rows[Contact]:
            uow.insert_later(Contact, values)
        for values in rows[Conversation]:
            uow.add_new(new_row(Conversation, values))
        for values in rows[MessageIndex]:
            uow.insert_later(MessageIndex, values)
        await uow.commit()

    lost = dict(rows_of("lost-"))
    with pytest.raises(sqlite3.IntegrityError):
        async with factory() as uow:
            for values in lost[Contact]:  # the flush's first statement: written, then undone
                uow.insert_later(Contact, values)
            for values in lost[OutboxRow]:
                uow.insert_later(OutboxRow, values)
            uow.insert_later(MessageIndex, rows[MessageIndex][0])  # the primary key is taken
            await uow.commit()
    assert not uow.committed

    with pytest.raises(RuntimeError, match="conversations: 0 of 1 rows updated"):
        async with factory() as uow:
            for values in lost[Contact]:
                uow.insert_later(Contact, values)
            uow.update_later(Conversation, "no-such-conversation", {"status": "resolved"})
            await uow.commit()  # the row count is checked before the COMMIT

    async with factory() as uow:  # the connection is usable: no transaction left open
        uow.insert_later(Contact, {"id": "after", "display_name": None, "created_at": AT})
        await uow.commit()
    async with AsyncSession(one_hop) as session:
        contacts = [row[0] for row in await stored(session, Contact.__table__)]
        outbox = await stored(session, OutboxRow.__table__)
    assert sorted(contacts) == sorted([*(row["id"] for row in rows[Contact]), "after"])
    assert outbox == []


async def test_agents_loaded_by_the_driver_are_the_orms(ctx: RouterContext):
    await seed_agents(ctx)
    await set_agent_status(ctx, "agent-lee", AgentStatus.ONLINE)  # a stored datetime, JSON
    columns = [prop.key for prop in sa.inspect(Agent).column_attrs]
    async with ctx.uow.reader() as uow:
        by_orm = list(await uow.session.scalars(sa.select(Agent).order_by(Agent.id)))
        expected = [{key: getattr(agent, key) for key in columns} for agent in by_orm]
    async with ctx.uow() as uow:
        held = await uow.agents.get("agent-lee")
        assert held is not None
        held.status = "away"  # changed in this transaction, not yet written
        loaded = await uow.agents.all()  # the driver's TrackedLoad on SQLite
        assert held in loaded  # the session's own object, as the ORM's load returns it
        held.status = "online"
        assert [{key: getattr(agent, key) for key in columns} for agent in loaded] == expected
        assert all(sa.inspect(agent).persistent for agent in loaded)
        other = next(agent for agent in loaded if agent.id == "agent-park")
        other.last_assigned_at = AT  # tracked: the commit writes it
        await uow.commit()
    async with ctx.uow.reader() as uow:
        stored_agent = await uow.agents.get("agent-park")
        assert stored_agent is not None and stored_agent.last_assigned_at == AT
        assert (await uow.agents.get("agent-lee")).status == "online"  # type: ignore[union-attr]


async def test_agents_with_loads_are_one_hop_and_the_separate_reads(ctx: RouterContext):
    """The assignment pool's reads (every agent, then their loads) in one hop to the
    thread (``lookups.in_one_hop``) give what the two reads give one after the other."""
    await seed_agents(ctx)
    for agent in ctx.config.current.roster.agents:
        await set_agent_status(ctx, agent.id, AgentStatus.ONLINE)
    await route_batch(ctx, [chat(n) for n in range(6)])  # assigned: loads to read
    columns = [prop.key for prop in sa.inspect(Agent).column_attrs]
    async with ctx.uow.reader() as uow:
        agents = await uow.agents.all()
        expected = [{key: getattr(agent, key) for key in columns} for agent in agents]
        expected_loads = await uow.conversations.loads(agent.id for agent in agents)
    assert any(expected_loads.values())
    seen: list[str] = []
    with HopCount(ctx.uow.engine) as hops, ctx.uow.watching_driver(seen.append):
        async with ctx.uow() as uow:
            await uow.interactions.known(["begin"])  # the transaction and its connection
            before = hops.total()
            loaded, loads = await uow.agents.all_with_loads()
            spent = hops.total() - before
            assert all(sa.inspect(agent).persistent for agent in loaded)
            assert [{key: getattr(agent, key) for key in columns} for agent in loaded] == expected
    assert spent == 1
    assert dict(loads) == dict(expected_loads)
    assert len(seen) == 3  # known, agents, loads: each told to watching_driver
