"""The poll's plain lookups (``store/lookups.py``) give the same rows through the driver
(SQLite's text with ``?``, PostgreSQL's with ``= ANY($1)`` on asyncpg) as through their
Core statement, on a routed database: known event ids,
identity owners, agents' loads by channel, contacts' assignees in activity order."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import and_, or_, select
from sqlalchemy import inspect as sa_inspect

from services.router.domain.assignment import AgentStatus
from services.router.domain.contacts import identity_keys
from services.router.service.agents import seed_agents, set_agent_status
from services.router.service.interactions import route_batch
from services.router.store import repositories
from services.router.store.lookups import KEYS, Lookup
from services.router.store.models import Agent, Conversation
from tests.integration.router.test_statements_per_poll import poll

pytestmark = pytest.mark.integration


async def test_driver_text_and_core_statement_agree(ctx, clock):
    await seed_agents(ctx)
    async with ctx.uow() as uow:
        ids = [a.id for a in await uow.agents.all()]
    for agent_id in ids:
        await set_agent_status(ctx, agent_id, AgentStatus.ONLINE)
    await route_batch(ctx, poll(clock, range(0, 30), round_=0))
    clock.advance(minutes=5)
    await route_batch(ctx, poll(clock, range(0, 30), round_=1))
    async with ctx.uow() as uow:
        agents = [a.id for a in await uow.agents.all()]
        contacts = [
            c
            for (c,) in (
                await uow.session.execute(
                    repositories._conversations.select().with_only_columns(
                        repositories._conversations.c.contact_id
                    )
                )
            ).all()
        ]
        identities = [
            v
            for (v,) in (
                await uow.session.execute(
                    repositories._identities.select().with_only_columns(
                        repositories._identities.c.value
                    )
                )
            ).all()
        ]
        cases: list[tuple[Lookup, list[object]]] = [
            (repositories._KNOWN, ["poll0-3", "poll1-4", "nobody"]),
            # past EXACT_KEYS_UP_TO: SQLite's list padded with the last key again
            (repositories._KNOWN, [*(f"poll1-{n}" for n in range(31)), "nobody", "no one"]),
            (repositories._ASSIGNEES, [*sorted(set(contacts)), "nobody", "no one", "none"]),
            (repositories._OWNERS, [*identities[:10], "+821000000000"]),
            (repositories._LOADS, agents),
            (repositories._ASSIGNEES, sorted(set(contacts))),
            (
                repositories._MESSAGE_CONVERSATIONS,
                ["r0.0@example.com", "r1.2@example.com", "nobody@example.com"],
            ),
        ]
        for lookup, keys in cases:
            driver = await lookup.rows(uow.session, keys)
            core = [
                tuple(r) for r in await uow.session.execute(lookup.statement, {lookup.param: keys})
            ]
            assert driver, lookup.sqlite  # the data exercises every lookup
            ordered = lookup is repositories._ASSIGNEES  # the latest assignee wins
            assert (driver if ordered else sorted(driver)) == (core if ordered else sorted(core))


async def test_candidates_are_the_conversations_each_condition_selects(ctx, clock):
    """``ConversationRepository.candidates`` (its statement built once per store and set
    of conditions: ``= ANY`` arrays on PostgreSQL, expanding IN on SQLite) returns what
    the per-poll ``in_()`` query it replaced returns, for each condition and all at once."""
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(0, 20), round_=0))
    async with ctx.uow() as uow:
        rows = list(await uow.session.scalars(select(Conversation)))
        chats = [c for c in rows if c.channel == "chat"]
        since = min(c.last_activity_at for c in rows)
        wanted = {
            "ids": [rows[0].id, rows[3].id, "nothing"],
            "references": [rows[1].reference, "nothing"],
            "threads": [c.thread_key for c in chats[:3] if c.thread_key],
            "recent_contacts": [chats[4].contact_id, chats[5].contact_id],
        }
        conditions = {
            "ids": Conversation.id.in_(wanted["ids"]),
            "references": Conversation.reference.in_(wanted["references"]),
            "threads": Conversation.thread_key.in_(wanted["threads"]),
            "recent_contacts": and_(
                Conversation.contact_id.in_(wanted["recent_contacts"]),
                Conversation.channel.in_(["chat"]),
                Conversation.last_activity_at >= since,
            ),
        }
        recent = {"channels": ["chat"], "since": since}
        for name, keys in wanted.items():
            found = await uow.conversations.candidates(
                **{name: keys}, **(recent if name == "recent_contacts" else {})
            )
            expected = await uow.session.scalars(select(Conversation).where(conditions[name]))
            assert found and sorted(c.id for c in found) == sorted(c.id for c in expected), name
        everything = await uow.conversations.candidates(**wanted, **recent)
        expected = await uow.session.scalars(select(Conversation).where(or_(*conditions.values())))
        assert sorted(c.id for c in everything) == sorted(c.id for c in expected)
        assert await uow.conversations.candidates(ids=[], references=[]) == []


async def test_candidates_read_by_the_driver_are_the_orms_objects(ctx, clock):
    """``candidates`` reads the rows by the driver (``_candidate_sql``) and makes them the
    session's tracked objects (``TrackedLoad``): every column equal to what the ORM's
    query (``candidates_by_orm``) loads, in its order on SQLite (routing sorts them by
    activity, ties in the order read; PostgreSQL gives no order either way), an object
    the session holds returned as it is, and changes to them written by the commit."""
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(0, 20), round_=0))
    clock.advance(minutes=5)
    await route_batch(ctx, poll(clock, range(0, 12), round_=1))
    columns = [prop.key for prop in sa_inspect(Conversation).column_attrs]
    async with ctx.uow.reader() as uow:
        rows = list(await uow.session.scalars(select(Conversation).order_by(Conversation.id)))
    chats = [c for c in rows if c.channel == "chat"]
    calls = [c.call_group_key for c in rows if c.call_group_key]
    keys = {
        "ids": [rows[0].id, rows[3].id, "nothing"],
        "references": [rows[1].reference, rows[5].reference],
        "threads": [c.thread_key for c in chats[:3] if c.thread_key],
        "calls": calls[:2] or ["nothing"],
        "recent_contacts": sorted({c.contact_id for c in chats}),
        "channels": ["chat", "phone"],
        "since": min(c.last_activity_at for c in rows),
    }
    subsets = [keys, {"ids": keys["ids"]}, {k: keys[k] for k in ("threads", "references")}]
    for wanted in subsets:
        async with ctx.uow.reader() as uow:
            by_orm = await uow.conversations.candidates_by_orm(**wanted)
            expected = [[getattr(c, k) for k in columns] for c in by_orm]
        async with ctx.uow.reader() as uow:
            found = await uow.conversations.candidates(**wanted)
            assert all(sa_inspect(c).persistent for c in found)
            values = [[getattr(c, k) for k in columns] for c in found]
        assert expected, wanted
        assert (values if not ctx.uow.postgres else sorted(values, key=str)) == (
            expected if not ctx.uow.postgres else sorted(expected, key=str)
        )
    async with ctx.uow() as uow:
        held = await uow.conversations.get(rows[0].id)
        assert held is not None
        held.subject = "changed, not yet written"
        found = await uow.conversations.candidates(ids=[rows[0].id, rows[3].id])
        assert held in found  # the session's own object, as the ORM's load returns it
        other = next(c for c in found if c is not held)
        other.subject = "written by the commit"
        await uow.commit()
    async with ctx.uow.reader() as uow:
        assert (await uow.conversations.get(rows[3].id)).subject == "written by the commit"  # type: ignore[union-attr]
        assert (await uow.conversations.get(rows[0].id)).subject == "changed, not yet written"  # type: ignore[union-attr]


def _load_state(item: object, session: Any) -> dict[str, object]:
    """What SQLAlchemy's instance state says of a loaded object (``store/persistent.py``
    makes the driver's objects in the state the ORM's load leaves)."""
    state = sa_inspect(item)
    return {
        "persistent": state.persistent,
        "key": state.key,
        "identity_token": state.identity_token,
        "held": session.identity_map.get(state.key) is item,
        "mine": state.session_id == session.hash_key,
        "committed_state": dict(state.committed_state),
        "modified": state.modified,
        "expired": set(state.expired_attributes),
        "unloaded": set(state.unloaded),
        "load_path": state.load_path,
        "load_options": state.load_options,
    }


async def test_candidates_are_in_the_state_the_orms_load_leaves(ctx, clock):
    """The driver's objects (``persistent.PersistentRows``) have the instance state the
    ORM's query gives: persistent, in the session's identity map under the same key,
    nothing committed or expired, the same load path; a change is tracked as the ORM's
    (only the changed column, written by the flush); a held object's expired attributes
    are filled from the row (no lazy load: the async session cannot make one); and no
    ``load`` / ``loaded_as_persistent`` listener exists, which these objects would not fire."""
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(0, 8), round_=0))
    async with ctx.uow.reader() as uow:
        ids = sorted(await uow.session.scalars(select(Conversation.id)))[:4]
    states = []
    for read in ("candidates_by_orm", "candidates"):
        async with ctx.uow() as uow:
            found = sorted(await getattr(uow.conversations, read)(ids=ids), key=lambda c: c.id)
            session = uow.session.sync_session
            before = [_load_state(c, session) for c in found]
            found[0].subject = "changed"
            after = _load_state(found[0], session)
            states.append((before, after, found[0] in session.dirty))
    assert states[0] == states[1]
    assert states[1][1]["committed_state"].keys() == {"subject"}, states[1][1]
    async with ctx.uow() as uow:
        held = await uow.conversations.get(ids[0])
        assert held is not None
        stored = (held.subject, held.status)
        uow.session.expire(held, ["subject", "status"])
        [found] = await uow.conversations.candidates(ids=[ids[0]])
        assert found is held
        assert {"subject", "status"} <= held.__dict__.keys()  # read, not lazy-loaded
        assert not sa_inspect(held).expired_attributes
        assert (held.subject, held.status) == stored
        assert _load_state(held, uow.session.sync_session)["unloaded"] == set()
    for model in (Conversation, Agent):
        assert not sa_inspect(model).class_manager.dispatch.load
    async with ctx.uow.reader() as uow:
        assert not uow.session.sync_session.dispatch.loaded_as_persistent


async def test_reads_made_together_are_the_reads_made_apart(ctx, clock):
    """The poll's shared reads (``in_one_hop`` on SQLite; one statement each on
    PostgreSQL: ``_PG_KNOWN_AND_AGENTS``, ``_PG_OWNERS_AND_MESSAGES``) give what each
    read gives alone: owners, Message-IDs, the owners' latest assignees (agents online,
    so there are some), known event ids, every agent (each column) and its loads."""
    await seed_agents(ctx)
    async with ctx.uow() as uow:
        ids = [a.id for a in await uow.agents.all()]
    for agent_id in ids[:2]:
        await set_agent_status(ctx, agent_id, AgentStatus.ONLINE)
    await route_batch(ctx, poll(clock, range(0, 10), round_=0))
    clock.advance(minutes=5)
    await route_batch(ctx, poll(clock, range(0, 6), round_=1))
    async with ctx.uow() as uow:
        keys = [
            key
            for i in poll(clock, range(0, 12), round_=1)
            for key in identity_keys(i.interaction.customer)
        ]
        message_ids = ["r0.0@example.com", "r0.4@example.com", "nobody@example.com"]
        read = await uow.contacts.owners_and_messages(keys, message_ids)
        assert read.owners and read.owners == await uow.contacts.owners(keys)
        assert read.messages and sorted(read.messages) == sorted(
            await uow.conversations.message_conversations(message_ids)
        )
        assigned = await uow.conversations.last_assignees(set(read.owners.values()))
        assert read.last_assignees and read.last_assignees == assigned
        # a value owned under another kind is not an owner, nor are its assignees
        email = next(k for k in keys if k.kind.value == "email")
        phone = next(k for k in keys if k.kind.value == "phone")
        crossed = [email._replace(kind=phone.kind), phone]
        read = await uow.contacts.owners_and_messages(crossed, [])
        assert read.owners == await uow.contacts.owners(crossed)
        assert read.last_assignees == await uow.conversations.last_assignees(
            set(read.owners.values())
        )
        empty = await uow.contacts.owners_and_messages([], [])
        assert (empty.owners, empty.messages, empty.last_assignees) == ({}, [], {})
        known, agents = await uow.interactions.known_and_agents(["poll0-3", "nobody"])
        assert known == await uow.interactions.known(["poll0-3", "nobody"]) == {"poll0-3"}
        assert agents is not None
    async with ctx.uow() as uow:  # another session: the ORM's own objects
        alone = await uow.agents.all_with_loads()
    columns = [prop.key for prop in sa_inspect(Agent).column_attrs]
    assert [[getattr(a, c) for c in columns] for a in agents[0]] == [
        [getattr(a, c) for c in columns] for a in alone[0]
    ]
    assert agents[1] and agents[1] == alone[1]
    async with ctx.uow() as uow:  # loaded rows the session tracks: changes are written
        _, agents = await uow.interactions.known_and_agents([])
        assert agents is not None
        agents[0][0].locale = "ko-KR"
        await uow.commit()
    async with ctx.uow() as uow:
        assert (await uow.agents.get(ids[0])).locale == "ko-KR"  # type: ignore[union-attr]


async def test_candidates_read_with_the_owners_are_the_candidates_read_after_them(ctx, clock):
    """``owners_messages_and_candidates`` (on SQLite one hop, the candidates' keys worked
    out between the reads) gives what ``owners_and_messages`` then ``candidates`` give:
    the same contacts, the same conversations (each column), the keys made of the
    contacts that were read."""
    await seed_agents(ctx)
    await route_batch(ctx, poll(clock, range(0, 10), round_=0))
    clock.advance(minutes=5)
    await route_batch(ctx, poll(clock, range(0, 6), round_=1))
    keys = [
        key
        for i in poll(clock, range(0, 12), round_=1)
        for key in identity_keys(i.interaction.customer)
    ]
    message_ids = ["r0.0@example.com", "r0.4@example.com", "nobody@example.com"]
    seen: list[repositories.PollContacts] = []

    def candidate_keys(read: repositories.PollContacts) -> repositories.CandidateKeys:
        seen.append(read)
        return repositories.CandidateKeys(
            ids={conversation_id for _, conversation_id in read.messages},
            references=["C-1", "C-404"],
            recent_contacts=set(read.owners.values()),
            channels=["chat", "phone"],
            since=clock() - timedelta(hours=1),
        )

    columns = [prop.key for prop in sa_inspect(Conversation).column_attrs]
    async with ctx.uow() as uow:
        read, found = await uow.contacts.owners_messages_and_candidates(
            uow.conversations, keys, message_ids, candidate_keys
        )
        together = sorted([getattr(c, k) for k in columns] for c in found)
    async with ctx.uow() as uow:
        apart = await uow.contacts.owners_and_messages(keys, message_ids)
        expected = await uow.conversations.candidates(**candidate_keys(apart)._asdict())
        alone = sorted([getattr(c, k) for k in columns] for c in expected)
    assert seen[0] == read == apart
    assert read.owners and read.messages
    assert found and together == alone
    async with ctx.uow() as uow:  # no key at all: no statement, no candidate
        empty, none = await uow.contacts.owners_messages_and_candidates(
            uow.conversations, [], [], lambda _read: repositories.CandidateKeys()
        )
    assert (empty.owners, empty.messages, none) == ({}, [], [])


async def test_lookups_run_in_the_unit_of_works_transaction_and_are_counted(ctx):
    """A driver statement sent before any other would run outside the transaction on
    PostgreSQL (SQLAlchemy's adapter begins it with its first statement): there the
    first lookup goes through SQLAlchemy, the next ones to asyncpg inside it; those sent
    to the driver reach ``watching_driver`` (the statement counts of a poll)."""
    seen: list[str] = []
    with ctx.uow.watching_driver(seen.append):
        async with ctx.uow() as uow:
            assert await repositories._KNOWN.rows(uow.session, ["nobody"]) == []
            raw = (await (await uow.session.connection()).get_raw_connection()).driver_connection
            if uow.postgres:
                assert raw.is_in_transaction()
            assert await repositories._KNOWN.rows(uow.session, ["nobody", "none"]) == []
    through_driver = 1 if ctx.uow.postgres else 2
    assert len(seen) == through_driver, seen
    assert all("FROM interactions WHERE event_id" in sql for sql in seen), seen
    if ctx.uow.postgres:
        assert seen == [repositories._KNOWN.postgres]  # one text for any number of keys


LOOKUP_KEYS: list[tuple[Lookup, list[object]]] = [
    (repositories._KNOWN, ["e1", "e2"]),
    (repositories._OWNERS, ["a@customer.example", "+821000000000"]),
    (repositories._LOADS, ["agent-a", "agent-b"]),
    (repositories._ASSIGNEES, ["c1", "c2"]),
    (repositories._MESSAGE_CONVERSATIONS, ["<a@example.com>", "<b@example.com>"]),
]


@pytest.mark.parametrize(("lookup", "keys"), LOOKUP_KEYS, ids=lambda v: getattr(v, "param", ""))
async def test_every_lookup_is_served_by_an_index(ctx, lookup, keys):
    """Each poll makes these lookups: a full scan costs in proportion to the store (the
    owners lookup on ``value`` alone scanned every contact identity, so a backlog's
    polls grew dearer as contacts piled up). SQLite's plan must SEARCH, never SCAN a
    table. PostgreSQL, with sequential scans priced out, must still not plan one (it
    does only when no index fits) and must name the key column in an Index Cond; this
    half is weaker: PostgreSQL also lists a non-leading column there (a whole-index
    scan), so the old owners lookup passed it — SQLite's half is the one that caught it."""
    async with ctx.uow() as uow:
        await repositories._KNOWN.rows(uow.session, ["begin"])  # the transaction is open
        raw = (await (await uow.session.connection()).get_raw_connection()).driver_connection
        if uow.postgres:
            if lookup is repositories._OWNERS:
                # a joined set of keys is planned by the table's size: on an empty table
                # any plan is as good, so give it identities (and their statistics)
                await raw.execute(
                    "INSERT INTO contacts (id, created_at) SELECT 'c' || n, now()"
                    " FROM generate_series(1, 2000) AS n;"
                    "INSERT INTO contact_identities (kind, value, contact_id)"
                    " SELECT 'email', 'c' || n || '@customer.example', 'c' || n"
                    " FROM generate_series(1, 2000) AS n;"
                    "ANALYZE contact_identities"
                )
            await raw.execute("SET LOCAL enable_seqscan = off")
            plan = [row[0] for row in await raw.fetch("EXPLAIN " + lookup.postgres, keys)]
            column = re.search(r"(\w+) IN \(\{keys\}\)", lookup.sqlite).group(1)  # type: ignore[union-attr]
            bounded = [line for line in plan if "Index Cond" in line and column in line]
            assert bounded and not any("Seq Scan" in line for line in plan), plan
        else:
            sql = lookup.sqlite.replace(KEYS, f"IN ({', '.join('?' * len(keys))})")
            plan = [row[3] for row in await raw.execute_fetchall("EXPLAIN QUERY PLAN " + sql, keys)]
            column = re.search(r"(\w+) IN \(\{keys\}\)", lookup.sqlite).group(1)  # type: ignore[union-attr]
            assert not any(line.startswith("SCAN") for line in plan), plan
            # and the index searched is bounded by the keys: the loads lookup searched
            # the status index (every open conversation) until (assignee_id, status)
            assert any(
                line.startswith("SEARCH") and re.search(rf"[( ]{column}=\?", line) for line in plan
            ), plan


async def test_owners_generic_plan_never_walks_the_keys_row_by_row(ctx):
    """PostgreSQL: asyncpg reuses the owners lookup's prepared statement, whose generic
    plan on a table without statistics (a new store's first minute) filtered every
    identity with ``value = ANY($1)``: each row compared with each of a poll's ~500
    values (12-30 ms a poll on ~3,000 identities). The keys are a set to join instead."""
    if not ctx.uow.postgres:
        pytest.skip("PostgreSQL's prepared statements")
    async with ctx.uow() as uow:
        await repositories._KNOWN.rows(uow.session, ["begin"])  # the transaction is open
        raw = (await (await uow.session.connection()).get_raw_connection()).driver_connection
        await raw.execute(
            "INSERT INTO contacts (id, created_at) SELECT 'c' || n, now()"
            " FROM generate_series(1, 3000) AS n;"
            "INSERT INTO contact_identities (kind, value, contact_id)"
            " SELECT 'email', 'c' || n || '@customer.example', 'c' || n"
            " FROM generate_series(1, 3000) AS n;"
            "SET LOCAL plan_cache_mode = force_generic_plan"
        )
        keys = [f"c{n}@customer.example" for n in range(1, 500)]
        assert len(await raw.fetch(repositories._OWNERS.postgres, keys)) == len(keys)
        await raw.execute(f"PREPARE owners AS {repositories._OWNERS.postgres}")
        array = "ARRAY[" + ", ".join(f"'{key}'" for key in keys) + "]::varchar[]"
        plan = [row[0] for row in await raw.fetch(f"EXPLAIN EXECUTE owners({array})")]
        assert "$1" in " ".join(plan), plan  # the generic plan: the keys are a parameter
        assert not any("Filter" in line and "ANY" in line for line in plan), plan
