"""Routing one interaction: the decisions that need no store — pure functions.

The service layer (``services/router/service/interactions.py``) gathers the
conversation and contact, asks these functions, and writes what they say.
Tested in tests/unit/router/test_intake.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from libs.common.events.interaction import (
    CustomerIdentity,
    Interaction,
)
from libs.common.events.routing import ResponsePromise
from libs.common.ids import name_prefix, time_ordered_id_named
from services.router.domain.contacts import IdentityKey
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import (
    CALL_ANSWERED,
    CALL_ENDED,
    DELIVERY_STATUS,
    INBOUND,
    OUTBOUND,
    RESOLVED,
    VOICEMAIL,
)
from services.router.domain.sla import BusinessCalendar
from services.router.domain.threading import email_reference_ids

T = TypeVar("T")

#: Longest subject kept on a conversation or timeline row.
SUBJECT_CHARS = 500
#: Longest reason kept on a timeline row.
NOTE_CHARS = 300
AUTOMATED_TAG = "automated"
# Field reads: the functions routing calls for every interaction read a model's fields
# from its ``__dict__`` (``fields = interaction.__dict__``, then ``fields["kind"]``). A
# pydantic model's attribute read goes through BaseModel's ``__getattr__`` hook, which
# also keeps the interpreter from specialising it (~0.6 K instructions, a dict subscript
# ~0.1 K), and routing read ~100 fields of an interaction and its parts per interaction.
# A validated or constructed model holds every field there, the value an attribute
# read returns. "Field reads" elsewhere point here.


def first_of_each(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """One item per key (the first seen), in the order of the first occurrences."""
    seen: dict[str, T] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return list(seen.values())


def thread_key(interaction: Interaction) -> str | None:
    """A chat's provider thread, unique across providers."""
    fields = interaction.__dict__  # field reads (above)
    thread_id = fields["thread"].__dict__["provider_thread_id"]
    return f"{fields['provider']}:{thread_id}" if thread_id else None


def call_group_key(interaction: Interaction) -> str | None:
    """The legs of one call (transfers, callbacks) share it."""
    fields = interaction.__dict__  # field reads (above)
    call = fields["call"]
    if call is None:
        return None
    call_fields = call.__dict__
    return f"{fields['provider']}:{call_fields['group_id'] or call_fields['call_id']}"


def bounce_original(interaction: Interaction) -> str | None:
    """The Message-ID of the mail a bounce reports on, without angle brackets."""
    bounce = interaction.__dict__["bounce"]  # field reads (above)
    original = bounce.original_message_id if bounce else None
    return original.strip("<> ") if original else None


def referenced_ids(interaction: Interaction) -> list[str]:
    """Every Message-ID this interaction points at (replies, references, a bounce)."""
    ids = email_reference_ids(interaction)
    original = bounce_original(interaction)
    return [*ids, original] if original else ids


def own_message_id(interaction: Interaction) -> str | None:
    """This interaction's Message-ID as indexed (no angle brackets, never blank)."""
    thread = interaction.__dict__["thread"]  # field reads (above)
    return (thread.__dict__["message_id"] or "").strip("<> ") or None


def new_contact_id(interaction: Interaction, keys: tuple[IdentityKey, ...]) -> str:
    """The id of the contact the interaction creates: time-ordered by the interaction's
    ``received_at`` (``time_ordered_id``), hashed from its identity keys (anonymous: its
    customer key and time, a fresh contact per call).

    New contacts' keys append at the right edge of the indexes keyed by contact id
    (``contacts``, ``contact_identities``' and ``conversations``' by contact), as
    conversations' ids do, instead of one random B-tree page each (SQLite, a poll of
    500 at ~107,000 conversations: ~2,200 → ~1,040 WAL pages; ``bench/store_growth.py``).
    ``received_at`` rather than ``occurred_at``: a backfill of old mail or a message
    delivered late would land at its old time, deep in the index.

    Replicas and replays still agree: a replay of the same interaction yields the
    same id (its keys and ``received_at`` are in the event). Two different first
    interactions with the same keys yield different ids (intended), and nothing
    needs them to agree: a contact is only ever found by its identities
    (``contact_identities``, primary key (kind, value)), never by recomputing this id
    from an address. Replicas cannot race to create one: routing transactions take
    the assignment advisory lock before reading identity owners (PostgreSQL, read
    committed), so the second sees the first's contact; were the identity's primary
    key still to collide, the batch would roll back and each record be routed again,
    finding the first's contact (both held by tests/integration/router/
    test_contact_ids.py). It also means a customer who returns after an
    erasure gets a new contact, never the erased one's id (which ``erased_contacts``
    answers "already erased" to)."""
    fields = interaction.__dict__  # field reads (above)
    if keys:
        if len(keys) == 1:  # ``time_ordered_id("router.contact", received_at, *parts)``
            key = keys[0]
            name = f"{key.kind}:{key.value}"
        else:
            name = "\x1f".join([f"{k.kind}:{k.value}" for k in keys])
        return time_ordered_id_named(_CONTACT_IDS, fields["received_at"], name)
    return time_ordered_id_named(
        _ANONYMOUS_CONTACT_IDS,
        fields["received_at"],
        f"{fields['customer_key']}\x1f{fields['occurred_at'].isoformat()}",
    )


#: the kinds of ``new_contact_id``'s ids, hashed first (``ids.time_ordered_id_named``)
_CONTACT_IDS = name_prefix("router.contact")
_ANONYMOUS_CONTACT_IDS = name_prefix("router.contact.anonymous")


def conversation_reference(number: int) -> str:
    """``C-1234``: what customers see in subjects (``[#C-1234]``) and quote on the phone."""
    return f"C-{number}"


def customer_values(customer: CustomerIdentity) -> list[str]:
    """The values matched against the customer lists of the classification rules."""
    fields = customer.__dict__  # field reads (above)
    values = []
    for value in (fields["email"], fields["phone"], fields["handle"]):  # no comprehension call
        if value:
            values.append(value)
    return values


def is_automated(interaction: Interaction) -> bool:
    """Auto-replies, bots and delivery receipts: no SLA clock, never assigned a person."""
    fields = interaction.__dict__  # field reads (above)
    return fields["flags"].automated or fields["kind"] is DELIVERY_STATUS


def conversation_tags(rule_tags: Iterable[str], *, automated: bool) -> list[str]:
    tags = list(rule_tags)
    if automated:  # no list made and unpacked for nothing
        tags.append(AUTOMATED_TAG)
    return tags


def short_subject(subject: str | None) -> str | None:
    return (subject or "")[:SUBJECT_CHARS] or None


def from_customer(interaction: Interaction) -> bool:
    """The customer wrote or called (not a receipt, not a bounce, not our side)."""
    fields = interaction.__dict__  # field reads (above)
    return (
        fields["direction"] is INBOUND
        and fields["kind"] is not DELIVERY_STATUS
        and not fields["flags"].__dict__["bounce"]
    )


class AgentAnswer(StrEnum):
    """Whether an interaction is a person on our side answering the customer."""

    NO = "no"
    YES = "yes"
    #: an outbound message by a person: an answer unless omnidesk itself sent it
    #: (replies sent through omnidesk stop clocks when the provider accepts them;
    #: their echo on a provider's webhook is not a second answer)
    UNLESS_SENT_BY_OMNIDESK = "unless_sent_by_omnidesk"


#: read once, as the members above (``AgentAnswer.YES`` is a slow read on 3.11)
ANSWER_NO, ANSWER_YES = AgentAnswer.NO, AgentAnswer.YES
ANSWER_UNLESS_OURS = AgentAnswer.UNLESS_SENT_BY_OMNIDESK


def agent_answer(interaction: Interaction) -> AgentAnswer:
    """A person answered outside omnidesk (provider app, phone); never a receipt or a bot."""
    fields = interaction.__dict__  # field reads (above)
    kind = fields["kind"]
    if kind is DELIVERY_STATUS:
        return ANSWER_NO
    if fields["direction"] is OUTBOUND:
        if fields["flags"].automated:
            return ANSWER_NO  # bots, auto-replies: no person answered
        if not fields["provider_message_id"]:
            return ANSWER_YES  # nothing to match against our own replies
        return ANSWER_UNLESS_OURS
    call = fields["call"]
    answered = kind is CALL_ANSWERED or (
        kind is CALL_ENDED and call is not None and call.answered_at is not None
    )
    return ANSWER_YES if answered else ANSWER_NO


def ignored_reason(status: ConversationStatus, interaction: Interaction) -> str | None:
    """Why an interaction joining a conversation changes nothing, or None."""
    if status == RESOLVED:
        return "resolved conversation; automated or outbound interactions do not reopen"
    if interaction.__dict__["flags"].automated:  # field reads (above)
        return "automated mail: no SLA clock"
    return None


def newer_reply_path(last_inbound_at: datetime | None, occurred_at: datetime) -> bool:
    """False for an older message delivered late: the newer reply path stays."""
    return last_inbound_at is None or occurred_at >= last_inbound_at


def callback_reason(interaction: Interaction) -> str:
    return "voicemail" if interaction.kind is VOICEMAIL else "missed call"


def callback_phone(interaction: Interaction) -> str | None:
    return interaction.customer.phone or (
        interaction.call.from_number if interaction.call else None
    )


def response_promise(
    *,
    automated: bool,
    due_at: datetime | None,
    target_minutes: int | None,
    calendar_name: str,
    calendar: BusinessCalendar,
    at: datetime,
    build: Callable[..., ResponsePromise] = ResponsePromise,
) -> ResponsePromise | None:
    """The first-response promise as data (the notifier phrases it per language).
    ``build`` makes it from the values (the service layer's skips re-validating them)."""
    if automated or due_at is None or target_minutes is None:
        return None
    return build(
        target_minutes=target_minutes,
        due_at=due_at,
        open_now=calendar.always_open or calendar.is_open(at),
        calendar=calendar_name,
        timezone=calendar.timezone,
        always_open=calendar.always_open,
    )
