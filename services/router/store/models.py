"""Tables of the router's store (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value.tzinfo is not UTC:  # most values already are (a bulk insert binds thousands)
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: sa.Dialect, coltype: object) -> Any:
        """SQLite: ``_sqlite_utc``; a driver that gives datetimes as they are (asyncpg:
        aware, in UTC) ``_aware_utc``; otherwise the decorator's processing as usual."""
        if dialect.name == "sqlite":
            return _sqlite_utc
        if self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype) is None:
            return _aware_utc
        return super().result_processor(dialect, coltype)


def _sqlite_utc(value: str | None) -> datetime | None:
    """SQLite's stored text as an aware UTC datetime, as SQLAlchemy's processing reads it
    (``datetime.fromisoformat``, then ``process_result_value``), in one C call: the
    stored text is naive UTC, so with "+00:00" appended ``fromisoformat`` gives the
    datetime in ``UTC`` itself. ~0.08 µs where the decorator's chain (its wrapper, the
    dialect's processor, ``process_result_value``'s ``replace(tzinfo=UTC)``) took ~0.75
    µs; a loaded conversation has 11 datetime columns. Any other text (a date alone, one
    with its own offset, not a string) goes the usual way."""
    if value is None:
        return None
    try:
        read = _FROM_ISO(value + "+00:00")
    except (TypeError, ValueError):
        read = None
    if read is not None and read.tzinfo is UTC:  # "2026-03-02+00:00" reads as naive
        return read
    parsed = _FROM_ISO(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_FROM_ISO = datetime.fromisoformat


def _aware_utc(value: datetime | None) -> datetime | None:
    """``process_result_value`` for a driver's datetime, in one call: asyncpg gives a
    ``timestamptz`` aware in ``UTC`` (``astimezone(UTC)`` would return it as it is):
    0.33-0.41 µs a value where the decorator's chain (its wrapper, then the method)
    took 0.92-1.09 (timeit, 3 runs each, interleaved, load ~6). A candidate conversation
    read on PostgreSQL has 11 datetime columns, a poll of 500 reads ~190-290."""
    if value is None or value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _index_of_values(name: str, column: str) -> sa.Index:
    """An index of only the rows where ``column`` has a value (migration 0009): for a
    column empty in most rows and read only for values, a NULL row costs no entry.

    Partial on both stores; only ``sqlite_where`` is stated here because a
    ``postgresql_where`` would load SQLAlchemy's PostgreSQL dialect into every SQLite
    router (~2.3 MB, ``test_memory_footprint``). The migrations make the schema (the
    router never creates tables from these models)."""
    return sa.Index(name, column, sqlite_where=sa.text(f"{column} IS NOT NULL"))


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: sa.JSON, list[str]: sa.JSON}


#: ``Column.info`` of a column (not JSON) holding one value in every row of a run of new
#: rows as most polls write them (the poll's time, a new conversation's constants): on
#: SQLite a multi-row INSERT whose rows all hold it binds it once (``bulk._constants``);
#: the rows stored are the same.
RUN_CONSTANT = {"repeats": "constant"}


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(sa.String(200))
    locale: Mapped[str | None] = mapped_column(sa.String(35))
    created_at: Mapped[datetime] = mapped_column(info=RUN_CONSTANT)
    #: Set by erasure (issue #18): the contact then names no one; aggregates stay.
    tombstone_id: Mapped[str | None] = mapped_column(sa.String(60))
    erased_at: Mapped[datetime | None]
    __table_args__ = (_index_of_values("ix_contacts_tombstone_id", "tombstone_id"),)


def _foreign_key(target: str) -> sa.ForeignKey:
    """Deferrable (``0011_deferrable_foreign_keys``): a routing transaction on PostgreSQL
    checks its foreign keys at COMMIT, having sent rows ahead of the conversations they
    point at; every other transaction checks them statement by statement, as before."""
    return sa.ForeignKey(target, deferrable=True, initially="IMMEDIATE")


class ContactIdentity(Base):
    __tablename__ = "contact_identities"
    kind: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(320), primary_key=True)
    contact_id: Mapped[str] = mapped_column(_foreign_key("contacts.id"), index=True)
    #: SQLite: the primary key's b-tree is the table (migration 0012)
    __table_args__ = {"sqlite_with_rowid": False}


#: Assistant statuses in which the assistant, not a person, holds the conversation.
ASSISTANT_HOLDING = ("offered", "answered", "awaiting_feedback")


#: ``Column.info`` of a JSON column whose values repeat from row to row (a conversation's
#: flags, tags and skills): the bulk inserter looks their text up (``bulk._repeating_json``)
REPEATING_JSON = {"repeating_json": True}


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(20), unique=True)
    #: indexed by ix_conversations_contact_channel (leading column)
    contact_id: Mapped[str] = mapped_column(_foreign_key("contacts.id"))
    channel: Mapped[str] = mapped_column(sa.String(10))
    provider: Mapped[str] = mapped_column(sa.String(40))
    integration: Mapped[str] = mapped_column(sa.String(120))
    status: Mapped[str] = mapped_column(sa.String(24), index=True, info=RUN_CONSTANT)
    queue: Mapped[str] = mapped_column(sa.String(80))  # leads ix_conversations_waiting
    priority: Mapped[str] = mapped_column(sa.String(10))
    language: Mapped[str | None] = mapped_column(sa.String(10))
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    tags: Mapped[list[str]] = mapped_column(default=list, info=REPEATING_JSON)
    skills: Mapped[list[str]] = mapped_column(default=list, info=REPEATING_JSON)
    automated: Mapped[bool] = mapped_column(default=False, info=RUN_CONSTANT)
    customer: Mapped[dict[str, Any]] = mapped_column(default=dict)  # latest CustomerIdentity
    customer_flags: Mapped[dict[str, Any]] = mapped_column(default=dict, info=REPEATING_JSON)
    #: indexed by ix_conversations_assignee_status_channel (leading column)
    assignee_id: Mapped[str | None] = mapped_column(_foreign_key("agents.id"))
    queued_at: Mapped[datetime | None] = mapped_column(info=RUN_CONSTANT)
    opened_at: Mapped[datetime]
    last_activity_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    first_response_due_at: Mapped[datetime | None]
    awaiting_since: Mapped[datetime | None]  # oldest unanswered customer message
    policy: Mapped[str | None] = mapped_column(sa.String(80))
    resolution_elapsed_minutes: Mapped[float] = mapped_column(default=0.0, info=RUN_CONSTANT)
    resolution_running_since: Mapped[datetime | None]
    breached: Mapped[bool] = mapped_column(default=False, info=RUN_CONSTANT)
    escalation_level: Mapped[int] = mapped_column(default=0, info=RUN_CONSTANT)
    clock_cycle: Mapped[int] = mapped_column(default=0, info=RUN_CONSTANT)
    last_message_id: Mapped[str | None] = mapped_column(sa.String(998))
    references: Mapped[list[str]] = mapped_column(default=list)
    thread_key: Mapped[str | None] = mapped_column(sa.String(300))  # chats only
    call_group_key: Mapped[str | None] = mapped_column(sa.String(300))  # calls only
    reply_path: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)  # ReplyPath
    customer_last_inbound_at: Mapped[datetime | None]
    # The assistant (issue #13): None = never offered; see service/assistant_flow.py
    assistant_status: Mapped[str | None] = mapped_column(sa.String(20))
    assistant_answers: Mapped[int] = mapped_column(default=0, info=RUN_CONSTANT)
    assistant_article_id: Mapped[str | None] = mapped_column(sa.String(120))
    assistant_question: Mapped[str | None] = mapped_column(sa.Text)
    assistant_outcome: Mapped[str | None] = mapped_column(sa.String(60))  # reason / resolution
    assistant_quiet_check_at: Mapped[datetime | None]
    #: When retention (or erasure) blanked its message text (issue #18).
    text_purged_at: Mapped[datetime | None]
    __table_args__ = (
        # not last_activity_at (migration 0009): a customer's next message changes it, and
        # an index holding it made that UPDATE move the conversation's index entry
        sa.Index("ix_conversations_contact_channel", "contact_id", "channel"),
        sa.Index("ix_conversations_waiting", "queue", "assignee_id", "status"),
        # agents' loads (every poll): bounded by the agents' open conversations, not by
        # every open conversation (status alone) nor by each agent's history (assignee
        # alone); the channel too, so the count reads the index alone (migration 0010)
        sa.Index("ix_conversations_assignee_status_channel", "assignee_id", "status", "channel"),
        # mostly empty columns, read only for values: rows without one are not indexed
        _index_of_values("ix_conversations_thread_key", "thread_key"),
        _index_of_values("ix_conversations_call_group_key", "call_group_key"),
        _index_of_values("ix_conversations_assistant_status", "assistant_status"),
        _index_of_values("ix_conversations_assistant_quiet_check_at", "assistant_quiet_check_at"),
    )


class MessageIndex(Base):
    """Message-IDs seen in a conversation, for In-Reply-To/References threading."""

    __tablename__ = "message_ids"
    message_id: Mapped[str] = mapped_column(sa.String(998), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"), primary_key=True)
    #: SQLite: the primary key's b-tree is the table (migration 0012)
    __table_args__ = {"sqlite_with_rowid": False}


class InteractionRecord(Base):
    """Every interaction processed; the primary key makes processing idempotent."""

    __tablename__ = "interactions"
    event_id: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"), index=True)
    contact_id: Mapped[str | None] = mapped_column(sa.String(36))
    channel: Mapped[str] = mapped_column(sa.String(10))
    direction: Mapped[str] = mapped_column(sa.String(10), info=RUN_CONSTANT)
    kind: Mapped[str] = mapped_column(sa.String(20), info=RUN_CONSTANT)
    occurred_at: Mapped[datetime]
    processed_at: Mapped[datetime] = mapped_column(info=RUN_CONSTANT)
    message_id: Mapped[str | None] = mapped_column(sa.String(998))
    author: Mapped[str | None] = mapped_column(sa.String(200))
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    note: Mapped[str | None] = mapped_column(sa.String(300))


class Reply(Base):
    """A message we send the customer (an agent's reply) and what became of it."""

    __tablename__ = "replies"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(sa.String(64))
    purpose: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.String(10))
    provider: Mapped[str | None] = mapped_column(sa.String(40))
    state: Mapped[str] = mapped_column(sa.String(12))
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(300), index=True)
    error_code: Mapped[str | None] = mapped_column(sa.String(60))
    error_detail: Mapped[str | None] = mapped_column(sa.String(1000))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]


class ReplyReport(Base):
    """Every report about a reply (notifier outcome or provider receipt), once.

    The key makes applying a report idempotent; a receipt that arrives before
    the reply's provider message id is known waits here (``reply_id`` NULL)
    and is attached when the acceptance names that id.
    """

    __tablename__ = "reply_reports"
    key: Mapped[str] = mapped_column(sa.String(250), primary_key=True)
    reply_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(300), index=True)
    source: Mapped[str] = mapped_column(sa.String(12))  # outcome | receipt
    state: Mapped[str] = mapped_column(sa.String(12))
    at: Mapped[datetime]
    error_code: Mapped[str | None] = mapped_column(sa.String(60))
    error_detail: Mapped[str | None] = mapped_column(sa.String(1000))


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    locale: Mapped[str | None] = mapped_column(sa.String(35))
    queues: Mapped[list[str]] = mapped_column(default=list)
    skills: Mapped[list[str]] = mapped_column(default=list)
    capacity: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(sa.String(10), default="offline")
    status_changed_at: Mapped[datetime]
    last_assigned_at: Mapped[datetime | None]


class SlaTimer(Base):
    __tablename__ = "sla_timers"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    #: indexed by uq_timer_cycle (leading column)
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"))
    metric: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(10))
    cycle: Mapped[int]
    target_minutes: Mapped[int]
    clock_started_at: Mapped[datetime]
    breach_at: Mapped[datetime]
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    __table_args__ = (
        sa.UniqueConstraint("conversation_id", "metric", "kind", "cycle", name="uq_timer_cycle"),
        sa.Index("ix_sla_timers_pending", "fired_at", "cancelled_at", "due_at"),
    )


class OutboxRow(Base):
    """Routing events committed with the state change that caused them. A row is unsent
    while its id is in ``outbox_pending`` (put there in the inserting transaction,
    migration 0008), so publishing it never rewrites the ~1.5 KB row. On SQLite insert
    rows only through ``UnitOfWork.insert_later`` / ``BulkInserter`` (``bulk.
    SQLITE_QUEUES``): a row inserted any other way is never queued, so never published
    (PostgreSQL's trigger queues any insert)."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)
    ce_type: Mapped[str] = mapped_column(sa.String(80))
    conversation_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    occurred_at: Mapped[datetime] = mapped_column(info=RUN_CONSTANT)  # a poll's time
    payload: Mapped[str] = mapped_column(sa.Text)


class OutboxPending(Base):
    """The ids of the outbox rows not published yet: a row's id is inserted with it, in
    its transaction (PostgreSQL: trigger ``outbox_pending_insert``, migration 0008;
    SQLite: the bulk insert's hop, ``bulk.SQLITE_QUEUES``) and deleted by the relay once
    Kafka acknowledged the row. A narrow queue: marking a row sent deletes a ~10-byte
    entry of a table that stays small."""

    __tablename__ = "outbox_pending"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)


class OutboxSentMark(Base):
    """When the relay had published the outbox up to which id (at most one row a minute,
    ``relay.SENT_MARK_EVERY_S``): what retention's "published more than
    ``ROUTER_OUTBOX_KEEP_HOURS`` ago" reads, now that rows carry no ``sent_at``."""

    __tablename__ = "outbox_sent_marks"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    sent_at: Mapped[datetime]
    last_id: Mapped[int] = mapped_column(sa.Integer)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(12))
    name: Mapped[str] = mapped_column(sa.String(120))
    agent_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CsatRating(Base):
    __tablename__ = "csat_ratings"
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"), primary_key=True)
    rating: Mapped[int]
    comment: Mapped[str | None] = mapped_column(sa.String(2000))
    rated_at: Mapped[datetime]


class SequenceCounter(Base):
    """Named counters, e.g. the human conversation number behind ``C-1234``."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class AuditRow(Base):
    """Who did what, when, from where (issue #18). Append-only: a database
    trigger refuses UPDATE and DELETE. Holds no customer identifier or text;
    an erased contact is shown by its tombstone id."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(200), index=True)
    role: Mapped[str] = mapped_column(sa.String(12))
    action: Mapped[str] = mapped_column(sa.String(120))
    conversation_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    contact_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    agent_id: Mapped[str | None] = mapped_column(sa.String(64))
    key_id: Mapped[str | None] = mapped_column(sa.String(36))
    address: Mapped[str | None] = mapped_column(sa.String(64))
    outcome: Mapped[str] = mapped_column(sa.String(40))
    before: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)


class ErasedContact(Base):
    """A contact id that was erased, and the tombstone that replaced it.

    The erased contact's rows now hang off a new contact named by the tombstone;
    this row makes a second erasure of the same id a harmless no-op and lets the
    audit trail show the tombstone instead of the old id.
    """

    __tablename__ = "erased_contacts"
    contact_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    tombstone_id: Mapped[str] = mapped_column(sa.String(60), index=True)
    erased_at: Mapped[datetime]


class AttachmentRow(Base):
    """An interaction's attachment or call recording (issue #18): metadata and where
    the bytes are (``sha256`` in the blob store, or a provider ``url``)."""

    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(200))
    conversation_id: Mapped[str] = mapped_column(_foreign_key("conversations.id"), index=True)
    ordinal: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(12))  # attachment | recording
    name: Mapped[str | None] = mapped_column(sa.String(300))
    content_type: Mapped[str] = mapped_column(sa.String(200))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    sha256: Mapped[str | None] = mapped_column(sa.String(64))
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    inline: Mapped[bool] = mapped_column(default=False)
