"""A routed poll costs a fixed handful of SQL statements, whatever its size: lookups
are prefetched per poll and writes are one multi-row statement per table (no
per-interaction round trip) — on SQLite and PostgreSQL, for new conversations and
for repeat customers' messages.

Counted with SQLAlchemy's ``before_cursor_execute``, plus the inserts the unit of work
sends to the driver itself, which that event does not see (SQLite's executemany through
aiosqlite, PostgreSQL's COPY): ``UnitOfWorkFactory.watching_driver``."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import replace

import pytest
from sqlalchemy import event

from libs.common.events.interaction import (
    Channel,
    CustomerIdentity,
    Interaction,
    MessageBody,
    ThreadHints,
)
from services.router.service.agents import seed_agents
from services.router.service.interactions import Incoming, route_batch
from services.router.store.bulk import SQLITE_ROWS_A_STATEMENT
from services.router.store.unit_of_work import UnitOfWorkFactory

pytestmark = pytest.mark.integration

#: Upper bound of statements per poll (today 15-20 depending on store and mix).
HANDFUL = 25


def poll(clock, customers: range, *, round_: int) -> list[Incoming]:
    """One interaction per customer: even customers write mail (a reply to their
    previous mail after the first round), odd ones chat on their WhatsApp thread."""
    now = clock()
    items = []
    for n in customers:
        if n % 2:
            interaction = Interaction(
                channel=Channel.CHAT,
                provider="whatsapp",
                integration="wa",
                occurred_at=now,
                received_at=now,
                customer=CustomerIdentity(phone=f"+8210{n:08d}"),
                body=MessageBody(text="출금이 지연되고 있어요"),
                thread=ThreadHints(provider_thread_id=f"t{n}"),
            )
        else:
            previous = [f"<r{round_ - 1}.{n}@example.com>"] if round_ else []
            interaction = Interaction(
                channel=Channel.EMAIL,
                provider="imap",
                integration="support",
                occurred_at=now,
                received_at=now,
                customer=CustomerIdentity(email=f"c{n}@example.com"),
                subject="Deposit not credited",
                body=MessageBody(text="My deposit is missing"),
                thread=ThreadHints(message_id=f"<r{round_}.{n}@example.com>", in_reply_to=previous),
            )
        items.append(Incoming(f"poll{round_}-{n}", interaction))
    return items


async def statements_of(ctx, items: list[Incoming]) -> Counter[str]:
    seen: Counter[str] = Counter()

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        seen[" ".join(statement.split())[:60]] += 1

    sync_engine = ctx.uow.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        with ctx.uow.watching_driver(lambda statement: count(None, None, statement)):
            assert await route_batch(ctx, items) == len(items)
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    return seen


async def test_statements_per_poll_do_not_grow_with_the_poll(ctx, clock):
    factory = ctx.uow
    ctx = replace(
        ctx,
        # PostgreSQL sends a poll's append-only rows every send_ahead_every interactions
        # (test_send_ahead.py counts those sends): here the statements of one commit
        options=replace(ctx.options, send_ahead_every=0),
        uow=UnitOfWorkFactory(
            factory.engine, before_commit=factory.before_commit, copy_from=sys.maxsize
        ),
    )
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(1000, 1004), round_=0))  # counters exist

    small_new = await statements_of(ctx, poll(clock, range(0, 20), round_=0))
    large_new = await statements_of(ctx, poll(clock, range(20, 220), round_=0))
    clock.advance(minutes=5)
    small_repeat = await statements_of(ctx, poll(clock, range(0, 20), round_=1))
    large_repeat = await statements_of(ctx, poll(clock, range(20, 220), round_=1))

    assert _runs_as_one(large_new) == _runs_as_one(small_new), (small_new, large_new)
    assert _runs_as_one(large_repeat) == _runs_as_one(small_repeat), (small_repeat, large_repeat)
    assert sum(_runs_as_one(large_new).values()) <= HANDFUL, large_new
    assert sum(_runs_as_one(large_repeat).values()) <= HANDFUL, large_repeat


def _runs_as_one(seen: Counter[str]) -> Counter[str]:
    """``seen`` with a SQLite run's INSERTs counted as one: its rows go in multi-row
    INSERTs of each of ``SQLITE_ROWS_A_STATEMENT``'s sizes and those left over in the
    one-row INSERT (an executemany of each size of one table in the flush's hop, at most
    one a size whatever the run's length; a short run is the last alone)."""
    return Counter(
        {
            key: 1
            if key.startswith("INSERT OR FAIL INTO") and count <= len(SQLITE_ROWS_A_STATEMENT) + 1
            else count
            for key, count in seen.items()
        }
    )


#: A poll of one interaction: its lookups (event id, identities, Message-IDs or threads,
#: agents and their loads) and one statement per table it writes.
POLL_OF_ONE = 16


async def test_a_poll_of_one_reads_each_thing_once(ctx, clock):
    """The pipeline's polls are small: a poll's fixed cost is its statements. Every
    lookup is one statement, none is repeated, and none runs with nothing to look up."""
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(1000, 1004), round_=0))  # counters exist
    for customer in (0, 1):  # a mail, a chat
        first = await statements_of(ctx, poll(clock, range(customer, customer + 1), round_=0))
        clock.advance(minutes=5)
        repeat = await statements_of(ctx, poll(clock, range(customer, customer + 1), round_=1))
        for seen in (first, repeat):
            assert sum(seen.values()) <= POLL_OF_ONE, seen
            assert all(n == 1 for n in seen.values()), seen  # each lookup, each table once
            assert not any(" IN ()" in k or "IN (NULL)" in k for k in seen), seen
            # PostgreSQL: the new conversation's counter came with the poll's first read
            # (SQLite reads it in that read's hop, a statement of its own)
            if ctx.uow.engine.dialect.name == "postgresql":
                assert not any(k.startswith("SELECT value FROM counters") for k in seen), seen
