"""Which conversation an interaction belongs to — pure functions.

The store gathers the candidate conversations (by Message-ID, subject token,
provider thread, call group, the contact's latest phone/chat conversation);
these functions pick one, always scoped to the contact so that two customers
are never threaded together on a shared subject. The one exception is a
bounce: it is sent by a mail system, not a customer, and attaches to the
conversation of the mail it bounced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from libs.common.events.interaction import Channel, Interaction
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import CHAT, DELIVERY_STATUS, EMAIL, INBOUND, RESOLVED


class ThreadAction(StrEnum):
    JOIN = "join"  # add to an active conversation (or quietly to a resolved one)
    REOPEN = "reopen"  # a resolved conversation comes back to life
    OPEN = "open"  # a new conversation


#: read once, as the members above (``ThreadAction.OPEN`` is a slow read on 3.11)
JOINS, OPENS, REOPENS = ThreadAction.JOIN, ThreadAction.OPEN, ThreadAction.REOPEN


class ConversationRef(NamedTuple):
    """Immutable like the frozen dataclass it was, built several times cheaper (each
    thread candidate of each routed interaction is one)."""

    id: str
    contact_id: str
    channel: Channel
    status: ConversationStatus
    last_activity_at: datetime
    resolved_at: datetime | None = None


#: no Message-ID candidates (read only: the default of every chat and phone interaction)
NO_MESSAGES: Mapping[str, ConversationRef] = MappingProxyType({})


class ThreadCandidates(NamedTuple):
    """Immutable like the frozen dataclass it was (built for every routed interaction,
    like ``ThreadDecision``; a frozen dataclass sets each field by ``object.__setattr__``)."""

    by_message_id: Mapping[str, ConversationRef] = NO_MESSAGES
    by_subject_token: ConversationRef | None = None
    by_provider_thread: ConversationRef | None = None
    by_call_group: ConversationRef | None = None
    latest_on_channel: ConversationRef | None = None  # the contact's latest, same channel


@dataclass(frozen=True)
class ThreadingPolicy:
    reopen_window: timedelta = timedelta(days=7)
    phone_window: timedelta = timedelta(hours=2)
    chat_window: timedelta = timedelta(hours=24)


class ThreadDecision(NamedTuple):
    action: ThreadAction
    conversation: ConversationRef | None
    reason: str


def email_reference_ids(interaction: Interaction) -> list[str]:
    """Message-IDs this mail answers, most specific first."""
    thread = interaction.thread.__dict__  # field reads (intake.py)
    in_reply_to, references = thread["in_reply_to"], thread["references"]
    if not in_reply_to and not references:
        # a first mail, a chat, a call: ~2 a routed interaction, most of them this one
        return []
    ids = [*in_reply_to, *reversed(references)]
    return list(dict.fromkeys(i.strip("<> ") for i in ids if i))


def find_thread(
    interaction: Interaction,
    contact_id: str,
    candidates: ThreadCandidates,
    now: datetime,
    policy: ThreadingPolicy,
    reference_ids: list[str] | None = None,
) -> tuple[ConversationRef | None, str]:
    """The existing conversation this interaction continues, and why. ``reference_ids``:
    the mail's ``email_reference_ids`` when the caller has them already (worked out
    here otherwise)."""
    fields = interaction.__dict__  # field reads (intake.py)
    # most interactions are no bounce: not asked of ``_bounced_conversation`` (a call)
    bounce = _bounced_conversation(interaction, candidates) if fields["bounce"] else None
    if bounce is not None:
        return bounce, "bounce of a mail in this conversation"
    channel = fields["channel"]
    if channel is EMAIL:
        return _email_thread(interaction, contact_id, candidates, reference_ids)
    if channel is CHAT:
        return _chat_thread(contact_id, candidates, now, policy)
    return _phone_thread(contact_id, candidates, now, policy)


def _bounced_conversation(
    interaction: Interaction, candidates: ThreadCandidates
) -> ConversationRef | None:
    bounce = interaction.__dict__["bounce"]  # field reads (intake.py)
    original = bounce.__dict__["original_message_id"] if bounce else None
    if not original:
        return None
    return candidates.by_message_id.get(original.strip("<> "))


def _same_contact(ref: ConversationRef | None, contact_id: str) -> bool:
    return ref is not None and ref.contact_id == contact_id


def _email_thread(
    interaction: Interaction,
    contact_id: str,
    candidates: ThreadCandidates,
    reference_ids: list[str] | None,
) -> tuple[ConversationRef | None, str]:
    if reference_ids is None:
        reference_ids = email_reference_ids(interaction)
    for message_id in reference_ids:
        ref = candidates.by_message_id.get(message_id)
        if _same_contact(ref, contact_id):
            return ref, f"In-Reply-To/References {message_id}"
    if _same_contact(candidates.by_subject_token, contact_id):
        return candidates.by_subject_token, "subject token"
    return None, "no known Message-ID or subject token for this customer"


def _chat_thread(
    contact_id: str, candidates: ThreadCandidates, now: datetime, policy: ThreadingPolicy
) -> tuple[ConversationRef | None, str]:
    if _same_contact(candidates.by_provider_thread, contact_id):
        return candidates.by_provider_thread, "provider thread id"
    latest = candidates.latest_on_channel
    if _same_contact(latest, contact_id) and _within(latest, now, policy.chat_window):
        return latest, "the customer's recent chat"
    return None, "no chat thread for this customer"


def _phone_thread(
    contact_id: str, candidates: ThreadCandidates, now: datetime, policy: ThreadingPolicy
) -> tuple[ConversationRef | None, str]:
    if _same_contact(candidates.by_call_group, contact_id):
        return candidates.by_call_group, "call leg of the same call"
    latest = candidates.latest_on_channel
    if _same_contact(latest, contact_id) and _within(latest, now, policy.phone_window):
        return latest, "same number within the phone window"
    return None, "no recent call from this number"


def _within(ref: ConversationRef | None, now: datetime, window: timedelta) -> bool:
    return ref is not None and now - ref.last_activity_at <= window


def reopens(interaction: Interaction) -> bool:
    """Only a real customer message may reopen or start SLA clocks."""
    fields = interaction.__dict__  # field reads (intake.py)
    return (
        fields["direction"] is INBOUND
        and not fields["flags"].automated
        and (fields["kind"] is not DELIVERY_STATUS)
    )


def thread_interaction(
    interaction: Interaction,
    contact_id: str,
    candidates: ThreadCandidates,
    now: datetime,
    policy: ThreadingPolicy,
    reference_ids: list[str] | None = None,
) -> ThreadDecision:
    """``reference_ids``: as ``find_thread``'s. The decision made by ``tuple.__new__``,
    not the named tuple's ``__new__`` (a Python function: ~1.3 K instructions a routed
    interaction)."""
    found, reason = find_thread(interaction, contact_id, candidates, now, policy, reference_ids)
    if found is None:
        return _new_tuple(ThreadDecision, (OPENS, None, reason))  # type: ignore[no-any-return]
    if found.status is not RESOLVED:
        return _new_tuple(ThreadDecision, (JOINS, found, reason))  # type: ignore[no-any-return]
    if not reopens(interaction):
        return ThreadDecision(JOINS, found, f"{reason}; automated or outbound: no reopen")
    resolved_at = found.resolved_at or found.last_activity_at
    if now - resolved_at <= policy.reopen_window:
        return ThreadDecision(REOPENS, found, f"{reason}; within the reopen window")
    return ThreadDecision(OPENS, None, f"{reason}; resolved too long ago")


_new_tuple = tuple.__new__
