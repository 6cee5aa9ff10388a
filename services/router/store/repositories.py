"""Repositories: keyword-only queries over one session."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeEngine

from services.router.domain.contacts import IdentityKey, IdentityKind
from services.router.domain.lifecycle import ACTIVE_STATUSES
from services.router.store.lookups import (
    Lookup,
    ThreadReads,
    TrackedLoad,
    in_one_hop,
    padded,
    postgres_rows,
    sqlite_rows,
)
from services.router.store.models import (
    ASSISTANT_HOLDING,
    Agent,
    ApiKey,
    Contact,
    ContactIdentity,
    Conversation,
    InteractionRecord,
    MessageIndex,
    SequenceCounter,
    SlaTimer,
)

_ACTIVE = [s.value for s in ACTIVE_STATUSES]

# The lookups every routed poll makes (see ``lookups.py``): built once, over the tables'
# columns, returning plain rows.
_identities = ContactIdentity.__table__
_interactions = InteractionRecord.__table__
_conversations = Conversation.__table__
_counters = SequenceCounter.__table__
#: ``UnitOfWork.update_later``: an UPDATE of a row by primary key, written at the flush
UpdateLater = Callable[[type, object, dict[str, object]], None]
# Every kind is named so that the primary key (kind, value) serves the lookup: on
# ``value`` alone both stores scanned the whole table, once per poll (a backlog's poll
# cost grew with the number of contacts).
_KINDS = [kind.value for kind in IdentityKind]
_KINDS_SQL = ", ".join(f"'{kind}'" for kind in _KINDS)  # the enum's own values
_OWNERS = Lookup(
    select(_identities.c.kind, _identities.c.value, _identities.c.contact_id).where(
        _identities.c.kind.in_(_KINDS),
        _identities.c.value.in_(bindparam("values", expanding=True)),
    ),
    "values",
    "SELECT kind, value, contact_id FROM contact_identities"  # noqa: S608
    " WHERE kind IN (" + _KINDS_SQL + ") AND value IN ({keys})",
    # PostgreSQL: the values as a set to join, not ``value = ANY($1)``. asyncpg reuses
    # the prepared statement, and PostgreSQL's generic plan of ``= ANY($1)`` on a table
    # without statistics yet (a new store, its first minutes of a backlog) scanned every
    # identity of the three kinds and compared each with every value of the array, one
    # by one: 12-30 ms a poll of 500 on ~3,000 identities, growing with the table. The
    # semi-join hashes the values (0.7-0.9 ms there) and, on a large table, probes the
    # primary key per value (generic plan 2.8 ms at ~200,000 identities, against 3.5).
    postgres_keys="IN (SELECT unnest($1::varchar[]))",
)
_ALL_AGENTS = TrackedLoad(Agent, "id")
_COUNTER = Lookup(
    select(_counters.c.value).where(_counters.c.name.in_(bindparam("names", expanding=True))),
    "names",
    "SELECT value FROM counters WHERE name IN ({keys})",
)
#: PostgreSQL: ``_COUNTER`` row-locked (as the ORM's ``SELECT … FOR UPDATE`` was), by the
#: driver: replicas opening conversations take their numbers one after another
_PG_COUNTER_LOCKED = "SELECT value FROM counters WHERE name = $1 FOR UPDATE"
_KNOWN = Lookup(
    select(_interactions.c.event_id).where(
        _interactions.c.event_id.in_(bindparam("ids", expanding=True))
    ),
    "ids",
    "SELECT event_id FROM interactions WHERE event_id IN ({keys})",
)
_ACTIVE_SQL = ", ".join(f"'{status}'" for status in _ACTIVE)  # the enum's own values
#: Rows per (agent, status, channel): grouped in the order of the index that answers it
#: (migration 0010: read from the index alone, no temporary B-tree to group in), the
#: statuses summed by ``_loads_by_agent``. SQLite, 100,000 open conversations of 6 agents
#: (a backlog's agents of unbounded capacity), CPU a lookup: 220 → 20 ms.
_LOADS = Lookup(
    select(_conversations.c.assignee_id, _conversations.c.channel, func.count())
    .where(
        _conversations.c.assignee_id.in_(bindparam("ids", expanding=True)),
        _conversations.c.status.in_(_ACTIVE),
    )
    .group_by(_conversations.c.assignee_id, _conversations.c.status, _conversations.c.channel),
    "ids",
    # the statuses are the enum's own values, written in as the Core statement binds them
    "SELECT assignee_id, channel, count(*) FROM conversations"  # noqa: S608
    " WHERE assignee_id IN ({keys}) AND status IN (" + _ACTIVE_SQL + ")"
    " GROUP BY assignee_id, status, channel",
)
_ASSIGNEES = Lookup(
    select(_conversations.c.contact_id, _conversations.c.assignee_id)
    .where(
        _conversations.c.contact_id.in_(bindparam("contacts", expanding=True)),
        _conversations.c.assignee_id.is_not(None),
    )
    .order_by(_conversations.c.last_activity_at),
    "contacts",
    "SELECT contact_id, assignee_id FROM conversations"
    " WHERE contact_id IN ({keys}) AND assignee_id IS NOT NULL ORDER BY last_activity_at",
)
_MESSAGE_CONVERSATIONS = Lookup(
    select(MessageIndex.message_id, MessageIndex.conversation_id).where(
        MessageIndex.message_id.in_(bindparam("ids", expanding=True))
    ),
    "ids",
    "SELECT message_id, conversation_id FROM message_ids WHERE message_id IN ({keys})",
)
# PostgreSQL: a poll's reads in two round trips instead of seven. asyncpg cannot send
# several statements and take several result sets in one round trip, so each pair of
# reads that do not need the client in between is one statement: the routed poll's
# (``route_batch``) first read is the known event ids with every agent and its loads
# (as on SQLite's first hop), the second the identity owners with the Message-IDs and
# the owners' latest assignees (the owners a CTE both read). Each part is the SQL of
# its own lookup above; ``tests/integration/router/test_poll_reads.py`` holds the
# results equal to those lookups'. Poll of 500 (``bench.router_pg_statements``):
# statements 19 → 15.
_AGENT_COLUMNS = ", ".join(f'a."{name}"' for name in _ALL_AGENTS.column_names)
#: one row per agent (by id), or one row of NULL agent columns when there is none; every
#: row carries the known event ids (``known``), each agent its loads as two arrays
#: (a channel and a count per (status, channel) row of ``_LOADS``, NULL for none)
_PG_KNOWN_AND_AGENTS = (
    "SELECT k.known, "  # noqa: S608 (the router's own tables and enum values)
    + _AGENT_COLUMNS
    + ", l.channels, l.counts"
    " FROM (SELECT ARRAY(SELECT event_id FROM interactions WHERE event_id = ANY($1))"
    " AS known) AS k"
    " LEFT JOIN agents AS a ON true"
    " LEFT JOIN LATERAL (SELECT array_agg(g.channel) AS channels, array_agg(g.n) AS counts"
    " FROM (SELECT channel, count(*) AS n FROM conversations"
    " WHERE assignee_id = a.id AND status IN (" + _ACTIVE_SQL + ")"
    " GROUP BY status, channel) AS g) AS l ON a.id IS NOT NULL"
    ' ORDER BY a."id"'
)
#: ``_PG_KNOWN_AND_AGENTS`` with the counter ``$2`` row-locked, as ``_PG_COUNTER_LOCKED``
#: (NULL: no such row yet), a last column on every row: a routed poll that opens a
#: conversation took its number in a round trip of its own after this one (the
#: ``counters`` argument of ``InteractionRepository.known_and_agents``). The lock is
#: taken after the poll's advisory lock (``serialise_assignment``), as before, in every
#: routed poll (any interaction may open one; the advisory lock already serialises
#: them, so the row lock waits for nothing more). A poll of
#: 5 (``bench.router_pg_statements``): 6 → 5 statements; ``bench.router_store_callgrind``
#: 10.10 → 9.95 M instructions a poll. SQLite reads it in the first hop: 5 → 4 hops to
#: the database thread a poll that opens a conversation (``bench.router_poll_cpu``).
_PG_KNOWN_AGENTS_AND_COUNTER = _PG_KNOWN_AND_AGENTS.replace(
    " FROM (SELECT ARRAY(",
    ", k.counter FROM (SELECT (SELECT value FROM counters WHERE name = $2 FOR UPDATE)"
    " AS counter, ARRAY(",
    1,
)
#: rows (part, kind, value, reference, at): part 0 the owners (kind, value, contact),
#: 1 the Message-IDs (message id, conversation), 2 the assignees (contact, agent) of
#: every owner found, in activity order (the latest last). asyncpg prepares it once and
#: PostgreSQL soon plans it generically, not knowing the arrays: the Message-IDs are a
#: set to join, not ``= ANY($2)`` (as ``_OWNERS``' values: the generic plan compared
#: each row of a small table with every id of the array, 84 ms a poll of 500 against
#: 0.3 by the join), and the owners' assignees are looked up by an array of their
#: contacts (``_ASSIGNEES``' index probe per contact), not by a join the generic plan
#: could make a scan of every assigned conversation.
_PG_OWNERS_AND_MESSAGES = (
    "WITH owners AS (SELECT kind, value, contact_id FROM contact_identities"  # noqa: S608
    " WHERE kind IN (" + _KINDS_SQL + ") AND value IN (SELECT unnest($1::varchar[])))"
    " SELECT 0 AS part, kind, value, contact_id AS reference, NULL::timestamptz AS at"
    " FROM owners"
    " UNION ALL SELECT 1, NULL, message_id, conversation_id, NULL FROM message_ids"
    " WHERE message_id IN (SELECT unnest($2::varchar[]))"
    " UNION ALL SELECT 2, NULL, contact_id, assignee_id, last_activity_at FROM conversations"
    " WHERE contact_id = ANY(ARRAY(SELECT contact_id FROM owners)) AND assignee_id IS NOT NULL"
    " ORDER BY part, at"
)


def _pg_known_and_agents(
    rows: Sequence[Any],
) -> tuple[list[str], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of ``_PG_KNOWN_AND_AGENTS`` as (known event ids, agents' rows as
    ``_ALL_AGENTS`` reads them, ``_LOADS``' rows)."""
    known = list(rows[0][0]) if rows else []
    width = len(_ALL_AGENTS.column_names)
    key = _ALL_AGENTS.key_index
    agents, loads = [], []
    for row in rows:
        values = tuple(row[1 : 1 + width])
        if values[key] is None:  # no agent at all: the one row of NULLs
            continue
        agents.append(values)
        channels, counts = row[1 + width], row[2 + width]
        if channels is not None:
            loads.extend((values[key], c, n) for c, n in zip(channels, counts, strict=True))
    return known, agents, loads


def _pg_owners_and_messages(keys: list[IdentityKey], rows: Sequence[Any]) -> PollContacts:
    owned, messages, assignees = [], [], []
    for part, kind, value, reference, _at in rows:
        if part == 0:
            owned.append((kind, value, reference))
        elif part == 1:
            messages.append((value, reference))
        else:
            assignees.append((value, reference))
    owners = _owners(keys, owned)
    # the CTE's owners are every kind's (``_owners`` keeps the poll's): their assignees
    # only, as ``_ASSIGNEES`` of the kept owners returns
    contacts = set(owners.values())
    last = _last_assignees(row for row in assignees if row[0] in contacts)
    return PollContacts(owners, messages, last)


#: The ways a conversation is a routing candidate (``ConversationRepository.candidates``)
CANDIDATE_KEYS = ("ids", "references", "threads", "calls", "recent")


def _keys_in(
    column: Any, name: str, postgres: bool, key_type: type[TypeEngine[Any]] = String
) -> ColumnElement[bool]:
    """``column IN keys``: on PostgreSQL ``= ANY($n)`` with the keys as one array (of
    ``key_type``), one statement text whatever their number (an IN-list of another
    length is another statement: a PREPARE round trip and a plan, every poll); on
    SQLite an expanding IN."""
    if postgres:
        # here, not at module level: on SQLite the PostgreSQL dialect is never loaded (~2 MB)
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(name, type_=ARRAY(key_type)))
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]


def _candidate_query(wanted: tuple[str, ...], postgres: bool) -> Select[Any]:
    conditions = {
        "ids": lambda: _keys_in(Conversation.id, "ids", postgres),
        "references": lambda: _keys_in(Conversation.reference, "references", postgres),
        "threads": lambda: _keys_in(Conversation.thread_key, "threads", postgres),
        "calls": lambda: _keys_in(Conversation.call_group_key, "calls", postgres),
        "recent": lambda: and_(
            _keys_in(Conversation.contact_id, "contacts", postgres),
            _keys_in(Conversation.channel, "channels", postgres),
            Conversation.last_activity_at >= bindparam("since"),
        ),
    }
    # One SELECT for every way a conversation can be a candidate (each condition uses
    # its own index: SQLite's OR-by-union, PostgreSQL's BitmapOr).
    return select(Conversation).where(or_(*(conditions[key]() for key in wanted)))


#: built once per (store, conditions present): a poll built its ``in_()`` clauses anew
_CANDIDATE_QUERIES: dict[tuple[bool, tuple[str, ...]], Select[Any]] = {}
#: The candidates as the session's tracked objects, read by the driver (``TrackedLoad``):
#: what ``session.scalars(_candidate_query(...))`` returns without SQLAlchemy's per-query
#: work (compile-cache lookup, execution context, ORM loading). A poll of 5
#: (``bench.router_store_callgrind``, 10 polls), with the objects made as the ORM's
#: loader makes them (``persistent.py``): SQLite 7.98 → 6.43 M instructions,
#: PostgreSQL 11.70 → 10.21 M. Per conversation no dearer than the ORM's load
#: (``bench.router_candidate_objects``, 300 by id, thread_time under load ~15: SQLite
#: 20.4 against 22.5 µs, PostgreSQL 40.8 against 45.4; SQLite instructions 119.5 k
#: against 121.4 k), so a backlog's poll of 500 does not lose what a small poll gains
#: (2 polls of 500: SQLite 437.5 → 436.6 M, PostgreSQL 465.5 → 465.2 M).
_CANDIDATES = TrackedLoad(Conversation, "id")
#: each condition of ``_candidate_query`` as SQL text: its column(s) and parameter names
#: (the keys' lists; ``since`` the one value), rendered per store by ``_candidate_sql``
_CANDIDATE_TERMS: dict[str, tuple[tuple[str, str], ...]] = {
    "ids": (("id", "ids"),),
    "references": (("reference", "references"),),
    "threads": (("thread_key", "threads"),),
    "calls": (("call_group_key", "calls"),),
    "recent": (("contact_id", "contacts"), ("channel", "channels"), ("last_activity_at", "since")),
}


#: columns whose index holds only the rows with a value (``models._index_of_values``):
#: PostgreSQL uses such an index for ``= ANY($n)`` only where the query says the value is
#: not NULL (a generic plan cannot know the array is not empty, which is what would imply
#: it); without the index the OR of the candidate conditions is a scan of every
#: conversation
_PARTIALLY_INDEXED = frozenset({"thread_key", "call_group_key"})


def _candidate_sql(wanted: tuple[str, ...], counts: dict[str, int] | None) -> str:
    """``_candidate_query(wanted, ...)`` as SQL text selecting ``_CANDIDATES``' columns,
    its conditions in the same order: on SQLite (``counts``: keys per list) one ``?``
    per key, as SQLAlchemy's expanding IN renders them; on PostgreSQL (``counts`` None)
    ``= ANY($n)`` with each list as one array, as ``_keys_in`` binds them."""
    terms, number = [], 0
    for key in wanted:
        parts = []
        for column, name in _CANDIDATE_TERMS[key]:
            if name == "since":
                number += 1
                value = "?" if counts is not None else f"${number}::timestamptz"
                parts.append(f'conversations."{column}" >= {value}')
            elif counts is not None:
                parts.append(f'conversations."{column}" IN ({", ".join("?" * counts[name])})')
            else:
                number += 1
                parts.append(f'conversations."{column}" = ANY(${number}::varchar[])')
                if column in _PARTIALLY_INDEXED:
                    parts.append(f'conversations."{column}" IS NOT NULL')
        terms.append(parts[0] if len(parts) == 1 else f"({' AND '.join(parts)})")
    columns = ", ".join(f'conversations."{name}"' for name in _CANDIDATES.column_names)
    return f"SELECT {columns} FROM conversations WHERE {' OR '.join(terms)}"  # noqa: S608


class CandidateKeys(NamedTuple):
    """What ``ConversationRepository.candidates`` looks conversations up by."""

    ids: Iterable[str] = ()
    references: Iterable[str] = ()
    threads: Iterable[str] = ()
    calls: Iterable[str] = ()
    recent_contacts: Iterable[str] = ()
    channels: Iterable[str] = ()
    since: datetime | None = None


def _candidate_params(
    keys: CandidateKeys, dialect: Dialect
) -> tuple[tuple[str, ...], list[str], dict[str, Any]] | None:
    """The conditions ``keys`` make (``CANDIDATE_KEYS`` present), their parameter
    names in order and the parameters (``since`` bound as the store binds it); None
    when no condition is present (no statement to send)."""
    params: dict[str, Any] = {
        "ids": list(keys.ids),
        "references": list(keys.references),
        "threads": list(keys.threads),
        "calls": list(keys.calls),
        "contacts": list(keys.recent_contacts),
        "channels": list(keys.channels),
        "since": keys.since,
    }
    present = {
        "ids": params["ids"],
        "references": params["references"],
        "threads": params["threads"],
        "calls": params["calls"],
        "recent": params["contacts"] and params["channels"] and keys.since is not None,
    }
    wanted = tuple(key for key in CANDIDATE_KEYS if present[key])
    if not wanted:
        return None
    names = [name for key in wanted for _, name in _CANDIDATE_TERMS[key]]
    if "since" in names:
        params["since"] = _since_bind(dialect)(keys.since)
    return wanted, names, params


def _sqlite_candidates(keys: CandidateKeys, dialect: Dialect) -> tuple[str, list[object]] | None:
    """SQLite: the candidates' SQL text and its parameters, or None for no statement."""
    read = _candidate_params(keys, dialect)
    if read is None:
        return None
    wanted, names, params = read
    lists = {name: padded(params[name]) for name in names if name != "since"}
    sql = _candidate_sql(wanted, {name: len(keys) for name, keys in lists.items()})
    values: list[object] = []
    for name in names:
        values.extend(lists[name] if name != "since" else (params[name],))
    return sql, values


#: PostgreSQL: the SQL text per set of conditions (one prepared statement each)
_PG_CANDIDATE_SQL: dict[tuple[str, ...], str] = {}


def _since_bind(dialect: Dialect) -> Callable[[Any], Any]:
    """How SQLAlchemy binds a ``last_activity_at`` value on ``dialect`` (``UtcDateTime``,
    then the dialect's datetime: on SQLite its text); worked out once per store."""
    process = _SINCE_BIND.get(dialect.name)
    if process is None:
        found = _conversations.c.last_activity_at.type.bind_processor(dialect)
        process = _SINCE_BIND[dialect.name] = found if found is not None else _as_is
    return process


_SINCE_BIND: dict[str, Callable[[Any], Any]] = {}


def _as_is(value: Any) -> Any:
    return value


def _loads_by_agent(rows: Iterable[tuple[Any, ...]]) -> dict[str, dict[str, int]]:
    loads: dict[str, dict[str, int]] = defaultdict(dict)
    for agent_id, channel, count in rows:  # a row per status (``_LOADS``)
        load = loads[agent_id]
        load[channel] = load.get(channel, 0) + count
    return loads


def _last_assignees(rows: Iterable[tuple[Any, ...]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for contact_id, agent_id in rows:
        found[contact_id] = agent_id  # ascending: the latest wins
    return found


@dataclass
class PollContacts:
    """A poll's reads by contact: identity owners, the conversation ids of the
    Message-IDs, the owners' latest assignees."""

    owners: dict[IdentityKey, str]
    messages: list[tuple[str, str]]
    last_assignees: dict[str, str]


#: ``ContactRepository.candidates_read``'s result: the contacts read and the candidate
#: conversations' rows (made objects on the event loop: ``candidates_of``)
CandidateRows = tuple[PollContacts, list[tuple[Any, ...]]]
T = TypeVar("T")


def _poll_contacts(
    reads: ThreadReads, keys: list[IdentityKey], values: list[str], message_ids: list[str]
) -> PollContacts:
    """SQLite, in the thread: ``ContactRepository.owners_and_messages``' reads."""
    owners = _owners(keys, reads.rows(_OWNERS, values))
    messages = reads.rows(_MESSAGE_CONVERSATIONS, message_ids)
    assignees = reads.rows(_ASSIGNEES, sorted(set(owners.values())))
    return PollContacts(owners, messages, _last_assignees(assignees))  # type: ignore[arg-type]


def _owners(keys: list[IdentityKey], rows: list[tuple[Any, ...]]) -> dict[IdentityKey, str]:
    wanted = set(keys)
    found = {IdentityKey(IdentityKind(kind), value): owner for kind, value, owner in rows}
    return {k: v for k, v in found.items() if k in wanted}


def _locked(query: Select[Any], postgres: bool, *, skip_locked: bool = False) -> Select[Any]:
    return query.with_for_update(skip_locked=skip_locked) if postgres else query


def _waiting(query: Select[Any]) -> Select[Any]:
    """Conversations waiting for a person: unassigned, open, not held by the assistant."""
    return query.where(
        Conversation.assignee_id.is_(None),
        Conversation.status.in_(_ACTIVE),
        or_(  # the assistant holds it: not waiting for a person (yet)
            Conversation.assistant_status.is_(None),
            Conversation.assistant_status.not_in(ASSISTANT_HOLDING),
        ),
    )


class ContactRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owners(self, keys: Iterable[IdentityKey]) -> dict[IdentityKey, str]:
        keys = list(keys)
        if not keys:
            return {}
        return _owners(keys, await _OWNERS.rows(self.session, list({k.value for k in keys})))

    async def owners_and_messages(
        self, keys: Iterable[IdentityKey], message_ids: Iterable[str]
    ) -> PollContacts:
        """``owners(keys)``, ``ConversationRepository.message_conversations`` and the
        owners' ``last_assignees``: on SQLite in one hop to the thread."""
        keys, ids = list(keys), list(message_ids)
        values = list({k.value for k in keys})
        if self.session.bind.dialect.name != "sqlite":
            if not values and not ids:
                return PollContacts({}, [], {})
            rows = await postgres_rows(self.session, _PG_OWNERS_AND_MESSAGES, values, ids)
            return _pg_owners_and_messages(keys, rows)

        def read(reads: ThreadReads) -> PollContacts:
            return _poll_contacts(reads, keys, values, ids)

        return await in_one_hop(self.session, read)

    async def owners_messages_and_candidates(
        self,
        conversations: ConversationRepository,
        keys: Iterable[IdentityKey],
        message_ids: Iterable[str],
        candidate_keys: Callable[[PollContacts], CandidateKeys],
    ) -> tuple[PollContacts, list[Conversation]]:
        """``owners_and_messages(keys, message_ids)``, then ``conversations.candidates``
        by the keys ``candidate_keys`` makes of what it read: on SQLite both in one hop
        to the thread (``candidate_keys`` runs there, between the reads: it must only
        work out keys), on PostgreSQL one statement each, as before."""
        keys, ids = list(keys), list(message_ids)
        if self.session.bind.dialect.name != "sqlite":
            contacts = await self.owners_and_messages(keys, ids)
            return contacts, await conversations.candidates_by(candidate_keys(contacts))
        read = self.candidates_read(keys, ids, candidate_keys)
        return self.candidates_of(await in_one_hop(self.session, read))

    def candidates_read(
        self,
        keys: Iterable[IdentityKey],
        message_ids: Iterable[str],
        candidate_keys: Callable[[PollContacts], CandidateKeys],
    ) -> Callable[[ThreadReads], CandidateRows]:
        """SQLite: ``owners_messages_and_candidates``' reads as one function for the
        database thread, to run in a hop of its own or in the poll's first
        (``InteractionRepository.known_agents_and``); ``candidates_of`` makes the
        conversations of what it read."""
        keys, ids = list(keys), list(message_ids)
        values = list({k.value for k in keys})
        dialect = self.session.bind.dialect

        def read(reads: ThreadReads) -> CandidateRows:
            contacts = _poll_contacts(reads, keys, values, ids)
            statement = _sqlite_candidates(candidate_keys(contacts), dialect)
            return contacts, reads.sql_rows(*statement) if statement is not None else []

        return read

    def candidates_of(self, read: CandidateRows) -> tuple[PollContacts, list[Conversation]]:
        """The contacts and candidate conversations of ``candidates_read``'s rows."""
        contacts, rows = read
        return contacts, _CANDIDATES.objects(self.session, rows)

    async def get(self, contact_id: str) -> Contact | None:
        return await self.session.get(Contact, contact_id)

    async def identities(self, contact_id: str) -> list[ContactIdentity]:
        rows = await self.session.scalars(
            select(ContactIdentity).where(ContactIdentity.contact_id == contact_id)
        )
        return list(rows)


class ConversationRepository:
    def __init__(self, session: AsyncSession, *, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres

    async def get(self, conversation_id: str, *, lock: bool = False) -> Conversation | None:
        query = select(Conversation).where(Conversation.id == conversation_id)
        return (await self.session.scalars(_locked(query, self.postgres and lock))).first()

    async def get_many(
        self, conversation_ids: Iterable[str], *, lock: bool = False
    ) -> dict[str, Conversation]:
        """By id, in one query; locked in id order on PostgreSQL (one lock order for every
        replica's scheduler round, so two rounds never deadlock on each other)."""
        query = select(Conversation).where(_keys_in(Conversation.id, "ids", self.postgres))
        query = _locked(query.order_by(Conversation.id), self.postgres and lock)
        rows = await self.session.scalars(query, {"ids": list(set(conversation_ids))})
        return {conversation.id: conversation for conversation in rows}

    async def by_reference(self, reference: str) -> Conversation | None:
        query = select(Conversation).where(Conversation.reference == reference)
        return (await self.session.scalars(query)).first()

    def add(self, conversation: Conversation) -> None:
        self.session.add(conversation)

    async def by_message_ids(self, message_ids: Sequence[str]) -> dict[str, Conversation]:
        if not message_ids:
            return {}
        query = (
            select(MessageIndex.message_id, Conversation)
            .join(Conversation, Conversation.id == MessageIndex.conversation_id)
            .where(MessageIndex.message_id.in_(list(message_ids)))
            .order_by(Conversation.last_activity_at)
        )
        found: dict[str, Conversation] = {}
        for message_id, conversation in await self.session.execute(query):
            found[message_id] = conversation  # several customers: threading checks the contact
        return found

    async def by_message_id_for_contact(
        self, message_ids: Sequence[str], contact_id: str
    ) -> dict[str, Conversation]:
        if not message_ids:
            return {}
        query = (
            select(MessageIndex.message_id, Conversation)
            .join(Conversation, Conversation.id == MessageIndex.conversation_id)
            .where(MessageIndex.message_id.in_(list(message_ids)))
            .where(Conversation.contact_id == contact_id)
        )
        return {m: c for m, c in await self.session.execute(query)}

    async def message_conversations(self, message_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(Message-ID, conversation id) for each indexed Message-ID of ``message_ids``."""
        ids = list(message_ids)
        if not ids:
            return []
        return await _MESSAGE_CONVERSATIONS.rows(self.session, ids)

    async def candidates(
        self,
        *,
        ids: Iterable[str] = (),
        references: Iterable[str] = (),
        threads: Iterable[str] = (),
        calls: Iterable[str] = (),
        recent_contacts: Iterable[str] = (),
        channels: Iterable[str] = (),
        since: datetime | None = None,
    ) -> list[Conversation]:
        """The conversations with one of ``ids``, ``references``, thread keys or call
        group keys, and those of ``recent_contacts`` on ``channels`` active since
        ``since``: in one SELECT."""
        return await self.candidates_by(
            CandidateKeys(ids, references, threads, calls, recent_contacts, channels, since)
        )

    async def candidates_by(self, keys: CandidateKeys) -> list[Conversation]:
        """``candidates`` of keys already gathered (``prefetch``'s)."""
        dialect = self.session.bind.dialect
        if self.postgres:
            read = _candidate_params(keys, dialect)
            if read is None:
                return []
            wanted, names, params = read
            sql = _PG_CANDIDATE_SQL.get(wanted)
            if sql is None:
                sql = _PG_CANDIDATE_SQL[wanted] = _candidate_sql(wanted, None)
            rows = await postgres_rows(self.session, sql, *(params[name] for name in names))
        else:
            statement = _sqlite_candidates(keys, dialect)
            if statement is None:
                return []
            rows = await sqlite_rows(self.session, *statement)
        return _CANDIDATES.objects(self.session, rows)

    async def candidates_by_orm(self, **keys: Any) -> list[Conversation]:
        """``candidates`` through SQLAlchemy's ORM query (``_candidate_query``): the
        reference the tests hold the driver's rows and objects equal to."""
        params = {
            "ids": list(keys.get("ids", ())),
            "references": list(keys.get("references", ())),
            "threads": list(keys.get("threads", ())),
            "calls": list(keys.get("calls", ())),
            "contacts": list(keys.get("recent_contacts", ())),
            "channels": list(keys.get("channels", ())),
            "since": keys.get("since"),
        }
        present = {
            "ids": params["ids"],
            "references": params["references"],
            "threads": params["threads"],
            "calls": params["calls"],
            "recent": params["contacts"] and params["channels"] and params["since"] is not None,
        }
        wanted = tuple(key for key in CANDIDATE_KEYS if present[key])
        if not wanted:
            return []
        query = _CANDIDATE_QUERIES.get((self.postgres, wanted))
        if query is None:
            query = _CANDIDATE_QUERIES[self.postgres, wanted] = _candidate_query(
                wanted, self.postgres
            )
        used = {name for key in wanted for _, name in _CANDIDATE_TERMS[key]}
        return list(
            await self.session.scalars(query, {k: v for k, v in params.items() if k in used})
        )

    async def latest_by(self, **filters: Any) -> Conversation | None:
        query = select(Conversation).filter_by(**filters)
        query = query.order_by(Conversation.last_activity_at.desc()).limit(1)
        return (await self.session.scalars(query)).first()

    async def index_message(self, message_id: str, conversation_id: str) -> None:
        exists = await self.session.get(MessageIndex, (message_id, conversation_id))
        if exists is None:
            self.session.add(MessageIndex(message_id=message_id, conversation_id=conversation_id))

    async def waiting(
        self, *, queues: Iterable[str] | None = None, limit: int = 500, lock: bool = False
    ) -> list[Conversation]:
        query = _waiting(select(Conversation))
        if queues is not None:
            query = query.where(Conversation.queue.in_(list(queues)))
        query = query.order_by(Conversation.queued_at).limit(limit)
        return list(
            await self.session.scalars(_locked(query, self.postgres and lock, skip_locked=True))
        )

    async def active_for_agent(self, agent_id: str) -> list[Conversation]:
        query = select(Conversation).where(
            Conversation.assignee_id == agent_id, Conversation.status.in_(_ACTIVE)
        )
        return list(await self.session.scalars(_locked(query, self.postgres)))

    async def loads(self, agent_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        ids = list(agent_ids)
        return _loads_by_agent(await _LOADS.rows(self.session, ids) if ids else [])

    async def last_assignees(self, contact_ids: Iterable[str]) -> dict[str, str]:
        """Per contact, the agent of its latest assigned conversation."""
        found: dict[str, str] = {}
        contacts = list(contact_ids)
        if not contacts:
            return found
        return _last_assignees(await _ASSIGNEES.rows(self.session, contacts))

    async def previous_agent(self, contact_id: str, *, exclude: str) -> str | None:
        query = (
            select(Conversation.assignee_id)
            .where(
                Conversation.contact_id == contact_id,
                Conversation.id != exclude,
                Conversation.assignee_id.is_not(None),
            )
            .order_by(Conversation.last_activity_at.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()

    async def search(
        self, *, filters: dict[str, Any], offset: int, limit: int
    ) -> tuple[list[Conversation], int]:
        query = select(Conversation).filter_by(
            **{k: v for k, v in filters.items() if v is not None}
        )
        total = await self.session.scalar(select(func.count()).select_from(query.subquery()))
        query = query.order_by(Conversation.last_activity_at.desc()).offset(offset).limit(limit)
        return list(await self.session.scalars(query)), int(total or 0)

    async def all_since(self, since: datetime) -> list[Conversation]:
        query = select(Conversation).where(Conversation.opened_at >= since)
        return list(await self.session.scalars(query))

    async def active(self) -> list[Conversation]:
        query = select(Conversation).where(Conversation.status.in_(_ACTIVE))
        return list(await self.session.scalars(query))

    async def waiting_kinds(
        self, openings: Iterable[tuple[str, str]], *, limit: int
    ) -> list[tuple[str, str, list[str]]]:
        """(queue, channel, skills) of up to ``limit`` waiting conversations in these
        (queue, channel) openings: plain rows, no ORM objects, no row locks (the
        scheduler's look before it takes the assignment lock)."""
        pairs = list(openings)
        if not pairs:
            return []
        query = _waiting(
            select(Conversation.queue, Conversation.channel, Conversation.skills)
        ).where(tuple_(Conversation.queue, Conversation.channel).in_(pairs))
        rows = await self.session.execute(query.limit(limit))
        return [(queue, channel, list(skills or [])) for queue, channel, skills in rows]

    async def waiting_in_turn(
        self,
        openings: Iterable[tuple[str, str]],
        *,
        priority_rank: dict[str, int],
        limit: int,
        exclude: Iterable[str] = (),
        lock: bool = False,
    ) -> list[Conversation]:
        """The first ``limit`` waiting conversations of these (queue, channel) openings in
        the order the queue serves them: highest ``priority_rank`` first, then the longest
        waiting (``queued_at``, else ``opened_at``), then id — ``queue_order``'s order,
        so a page of it is a prefix of what ``plan_assignments`` would walk through."""
        pairs = list(openings)
        if not pairs:
            return []
        rank = case(priority_rank, value=Conversation.priority, else_=-1)
        query = _waiting(select(Conversation)).where(
            tuple_(Conversation.queue, Conversation.channel).in_(pairs)
        )
        skipped = list(exclude)
        if skipped:
            query = query.where(Conversation.id.not_in(skipped))
        query = query.order_by(
            rank.desc(),
            func.coalesce(Conversation.queued_at, Conversation.opened_at),
            Conversation.id,
        ).limit(limit)
        return list(
            await self.session.scalars(_locked(query, self.postgres and lock, skip_locked=True))
        )

    async def quiet_check_due(self, now: datetime) -> bool:
        """Is any assistant quiet check due (indexed ``assistant_quiet_check_at``)?"""
        query = (
            select(Conversation.id)
            .where(Conversation.assistant_quiet_check_at <= now)
            .where(Conversation.assistant_status == "awaiting_feedback")
            .limit(1)
        )
        return (await self.session.scalar(query)) is not None


class InteractionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def known(self, event_ids: Iterable[str]) -> set[str]:
        ids = list(event_ids)
        if not ids:
            return set()
        return {event_id for (event_id,) in await _KNOWN.rows(self.session, ids)}

    async def known_and_agents(
        self,
        event_ids: Iterable[str],
        *,
        counters: CounterRepository | None = None,
        counter: str = "conversation",
    ) -> tuple[set[str], tuple[list[Agent], dict[str, dict[str, int]]] | None]:
        """``known_agents_and`` without a read of its own."""
        known, agents, _ = await self.known_agents_and(
            event_ids, None, counters=counters, counter=counter
        )
        return known, agents

    async def known_agents_and(
        self,
        event_ids: Iterable[str],
        then: Callable[[ThreadReads], T] | None,
        *,
        counters: CounterRepository | None = None,
        counter: str = "conversation",
    ) -> tuple[set[str], tuple[list[Agent], dict[str, dict[str, int]]] | None, T | None]:
        """``known(event_ids)`` and every agent with its loads
        (``AgentRepository.all_with_loads``): on SQLite in the same hop to the thread, on
        PostgreSQL in one statement (``_PG_KNOWN_AND_AGENTS``). With ``counters``, also
        the value of ``counter``, read (row-locked on PostgreSQL) in that hop or
        statement and handed to ``counters.already_read``: its ``next_value`` then
        needs no read of its own.

        ``then``: on SQLite, a read of the same transaction (``ContactRepository.
        candidates_read``) run in the same hop after these when none of ``event_ids``
        is known (the usual poll), its result the third value; None when it did not
        run (an id known, or PostgreSQL): the caller reads then as before."""
        ids = list(event_ids)
        if self.session.bind.dialect.name != "sqlite":
            if counters is None:
                rows = await postgres_rows(self.session, _PG_KNOWN_AND_AGENTS, ids)
            else:
                rows = await postgres_rows(self.session, _PG_KNOWN_AGENTS_AND_COUNTER, ids, counter)
                counters.already_read(counter, rows[0][-1] if rows else None)
            known, agent_rows, load_rows = _pg_known_and_agents(rows)
            return (
                set(known),
                (_ALL_AGENTS.objects(self.session, agent_rows), _loads_by_agent(load_rows)),
                None,
            )

        def read(
            reads: ThreadReads,
        ) -> tuple[list[Any], tuple[list[Any], list[Any]], list[Any], T | None]:
            value = reads.rows(_COUNTER, [counter]) if counters is not None else []
            known = reads.rows(_KNOWN, ids)
            agents = _agent_rows_and_loads(reads)
            return known, agents, value, then(reads) if then is not None and not known else None

        known, (agents, loads), value, after = await in_one_hop(self.session, read)
        if counters is not None:
            counters.already_read(counter, value[0][0] if value else None)
        return (
            {event_id for (event_id,) in known},
            (_ALL_AGENTS.objects(self.session, agents), _loads_by_agent(loads)),
            after,
        )

    def add(self, record: InteractionRecord) -> None:
        self.session.add(record)

    async def for_conversation(self, conversation_id: str) -> list[InteractionRecord]:
        query = (
            select(InteractionRecord)
            .where(InteractionRecord.conversation_id == conversation_id)
            .order_by(InteractionRecord.occurred_at)
        )
        return list(await self.session.scalars(query))


class AgentRepository:
    def __init__(self, session: AsyncSession, *, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres

    async def get(self, agent_id: str, *, lock: bool = False) -> Agent | None:
        query = select(Agent).where(Agent.id == agent_id)
        return (await self.session.scalars(_locked(query, self.postgres and lock))).first()

    async def all(self) -> list[Agent]:
        if not self.postgres:  # every poll: the driver's one hop (lookups.TrackedLoad)
            return await _ALL_AGENTS.all(self.session)
        return list(await self.session.scalars(select(Agent).order_by(Agent.id)))

    async def all_with_loads(self) -> tuple[list[Agent], dict[str, dict[str, int]]]:
        """Every agent (by id) and its active conversations per channel: on SQLite both
        reads in one hop to the database thread (``lookups.in_one_hop``)."""
        if self.postgres:
            agents = await self.all()
            ids = [agent.id for agent in agents]
            return agents, _loads_by_agent(await _LOADS.rows(self.session, ids) if ids else [])
        rows, loads = await in_one_hop(self.session, _agent_rows_and_loads)
        return _ALL_AGENTS.objects(self.session, rows), _loads_by_agent(loads)

    async def online(self, *, lock: bool = False) -> list[Agent]:
        """Online agents; locked (in id order) on PostgreSQL while assigning."""
        query = select(Agent).where(Agent.status == "online").order_by(Agent.id)
        return list(await self.session.scalars(_locked(query, self.postgres and lock)))

    def add(self, agent: Agent) -> None:
        self.session.add(agent)


def _agent_rows_and_loads(
    reads: ThreadReads,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """In the database thread: the agents' rows, then their loads."""
    rows = reads.all_rows(_ALL_AGENTS)
    key = _ALL_AGENTS.key_index
    return rows, reads.rows(_LOADS, [row[key] for row in rows])


class TimerRepository:
    def __init__(self, session: AsyncSession, *, postgres: bool) -> None:
        self.session = session
        self.postgres = postgres

    async def cancel_pending(
        self, conversation_id: str, *, metrics: Iterable[str], at: datetime
    ) -> int:
        result = await self.session.execute(
            update(SlaTimer)
            .where(
                SlaTimer.conversation_id == conversation_id,
                SlaTimer.metric.in_(list(metrics)),
                SlaTimer.fired_at.is_(None),
                SlaTimer.cancelled_at.is_(None),
            )
            .values(cancelled_at=at)
        )
        return result.rowcount or 0  # type: ignore[attr-defined]

    async def due(self, now: datetime, *, limit: int) -> list[SlaTimer]:
        query = (
            select(SlaTimer)
            .where(SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None))
            .where(SlaTimer.due_at <= now)
            .order_by(SlaTimer.due_at, SlaTimer.id)
            .limit(limit)
        )
        return list(await self.session.scalars(_locked(query, self.postgres, skip_locked=True)))

    async def claim(self, timer_id: int, at: datetime) -> bool:
        """Mark fired unless another scheduler or a cancellation got there first."""
        result = await self.session.execute(
            update(SlaTimer)
            .where(SlaTimer.id == timer_id, SlaTimer.fired_at.is_(None))
            .where(SlaTimer.cancelled_at.is_(None))
            .values(fired_at=at)
        )
        return (result.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def claim_many(self, timer_ids: Sequence[int], at: datetime) -> set[int]:
        """``claim`` for a round's timers in one statement: the ids it marked fired (not
        those another scheduler or a cancellation got to first)."""
        if not timer_ids:
            return set()
        wanted = _keys_in(SlaTimer.id, "ids", self.postgres, Integer)
        result = await self.session.execute(
            update(SlaTimer)
            .where(wanted, SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None))
            .values(fired_at=at)
            .returning(SlaTimer.id),
            {"ids": list(timer_ids)},
        )
        return set(result.scalars())

    async def for_conversation(self, conversation_id: str) -> list[SlaTimer]:
        query = select(SlaTimer).where(SlaTimer.conversation_id == conversation_id)
        return list(await self.session.scalars(query.order_by(SlaTimer.id)))

    async def fired_kinds(self, conversation_id: str, metric: str) -> set[str]:
        query = select(SlaTimer.kind).where(
            SlaTimer.conversation_id == conversation_id,
            SlaTimer.metric == metric,
            SlaTimer.fired_at.is_not(None),
        )
        return set(await self.session.scalars(query))

    async def any_due(self, now: datetime) -> bool:
        """Is any pending timer due? One row of ``ix_sla_timers_pending``, no row lock."""
        query = (
            select(SlaTimer.id)
            .where(SlaTimer.fired_at.is_(None), SlaTimer.cancelled_at.is_(None))
            .where(SlaTimer.due_at <= now)
            .limit(1)
        )
        return (await self.session.scalar(query)) is not None


class CounterRepository:
    def __init__(
        self, session: AsyncSession, *, postgres: bool, update_later: UpdateLater | None = None
    ) -> None:
        self.session = session
        self.postgres = postgres
        self._held: dict[str, SequenceCounter] = {}
        self._update_later = update_later
        self._values: dict[str, int] = {}

    async def next_value(self, name: str) -> int:
        """The next number of ``name`` (row-locked on PostgreSQL; rolls back with the
        transaction, so numbers are gapless for committed work)."""
        update_later = self._update_later
        if update_later is not None:
            # the value read by the driver, the new one written by the unit of work's
            # flush (``_stored_value``); read already in a poll (``already_read``):
            # counted on here, no coroutine of another method awaited
            value = self._values.get(name)
            if value is None:
                value = await self._stored_value(name)
            value += 1
            self._values[name] = value
            update_later(SequenceCounter, name, {"value": value})
            return value
        counter = self._held.get(name)
        if counter is None:
            query = select(SequenceCounter).where(SequenceCounter.name == name)
            counter = (await self.session.scalars(_locked(query, self.postgres))).first()
            if counter is None:
                counter = SequenceCounter(name=name, value=0)
                self.session.add(counter)
            self._held[name] = counter
        counter.value += 1
        return counter.value

    def already_read(self, name: str, value: int | None) -> None:
        """``name``'s stored value as another statement of this transaction read it
        (``InteractionRepository.known_and_agents``; on PostgreSQL row-locked, as
        ``_stored_value`` reads it), before any ``next_value(name)``: that then reads
        nothing. None (no row yet) or the ORM's way (no ``update_later``): read as
        before."""
        if value is not None and self._update_later is not None:
            self._values.setdefault(name, value)

    async def _stored_value(self, name: str) -> int:
        """``name``'s stored value, read by the driver (on PostgreSQL row-locked; SQLite
        has one writer: no lock to take); ``next_value`` has the new one written by the
        unit of work's flush (``update_later``) instead of an ORM row's UPDATE: on SQLite
        the flush stays one hop to the database thread; on PostgreSQL the ORM's locking
        SELECT and its flush of the row (a poll's ORM flush had nothing else to write)
        were 9 % of a poll of 5's instructions (``bench.router_store_callgrind``: 13.3 →
        12.1 M a poll). A counter not stored yet (once per store) is inserted by the ORM,
        at 0, before that."""
        if self.postgres:
            rows = await postgres_rows(self.session, _PG_COUNTER_LOCKED, name)
        else:
            rows = await _COUNTER.rows(self.session, [name])
        if rows:
            [(value,)] = rows
            return value  # type: ignore[no-any-return]
        self.session.add(SequenceCounter(name=name, value=0))
        return 0


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_hash(self, key_hash: str) -> ApiKey | None:
        query = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        return (await self.session.scalars(query)).first()

    def add(self, key: ApiKey) -> None:
        self.session.add(key)

    async def by_id(self, key_id: str) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def all(self) -> list[ApiKey]:
        return list(await self.session.scalars(select(ApiKey).order_by(ApiKey.created_at)))

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(ApiKey)) or 0)
