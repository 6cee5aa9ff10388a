"""Routing works a mail's reference ids out once and hands them to ``thread_interaction``
(``interactions.route_one``): the same decision as when threading works them out itself;
and ``thread_interaction`` decides as it did before its fast paths."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Channel, Interaction
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import CHAT, EMAIL, RESOLVED
from services.router.domain.threading import (
    JOINS,
    OPENS,
    REOPENS,
    ConversationRef,
    ThreadCandidates,
    ThreadDecision,
    ThreadingPolicy,
    _bounced_conversation,
    _chat_thread,
    _email_thread,
    _phone_thread,
    email_reference_ids,
    reopens,
    thread_interaction,
)
from tests.unit.router.factories import T0
from tests.unit.router.test_field_reads import interactions

refs = st.builds(
    ConversationRef,
    id=st.sampled_from(["c1", "c2"]),
    contact_id=st.sampled_from(["k1", "k2"]),
    channel=st.sampled_from(list(Channel)),
    status=st.sampled_from(list(ConversationStatus)),
    last_activity_at=st.sampled_from([T0, T0 - timedelta(days=3), T0 - timedelta(days=30)]),
    resolved_at=st.sampled_from([None, T0 - timedelta(hours=1), T0 - timedelta(days=10)]),
)
candidates = st.builds(
    ThreadCandidates,
    by_message_id=st.dictionaries(st.sampled_from(["m1@x", "m2@x", "m3@x", "orig@x"]), refs),
    by_subject_token=st.none() | refs,
    by_provider_thread=st.none() | refs,
    by_call_group=st.none() | refs,
    latest_on_channel=st.none() | refs,
)


@given(interactions(), candidates, st.sampled_from(["k1", "k2"]))
def test_reference_ids_handed_over_decide_as_worked_out_in_threading(
    interaction: Interaction, found: ThreadCandidates, contact_id: str
) -> None:
    policy = ThreadingPolicy()
    ids = email_reference_ids(interaction) if interaction.channel is EMAIL else None
    handed = thread_interaction(interaction, contact_id, found, T0, policy, ids)
    assert handed == thread_interaction(interaction, contact_id, found, T0, policy)


def thread_interaction_before(
    interaction: Interaction, contact_id: str, found: ThreadCandidates, policy: ThreadingPolicy
) -> ThreadDecision:
    """``thread_interaction`` as it was: the bounce asked of every interaction, each
    decision made by the named tuple's ``__new__``."""
    ref = _bounced_conversation(interaction, found)
    if ref is not None:
        reason = "bounce of a mail in this conversation"
    elif interaction.channel is EMAIL:
        ref, reason = _email_thread(interaction, contact_id, found, None)
    elif interaction.channel is CHAT:
        ref, reason = _chat_thread(contact_id, found, T0, policy)
    else:
        ref, reason = _phone_thread(contact_id, found, T0, policy)
    if ref is None:
        return ThreadDecision(OPENS, None, reason)
    if ref.status is not RESOLVED:
        return ThreadDecision(JOINS, ref, reason)
    if not reopens(interaction):
        return ThreadDecision(JOINS, ref, f"{reason}; automated or outbound: no reopen")
    if T0 - (ref.resolved_at or ref.last_activity_at) <= policy.reopen_window:
        return ThreadDecision(REOPENS, ref, f"{reason}; within the reopen window")
    return ThreadDecision(OPENS, None, f"{reason}; resolved too long ago")


@given(interactions(), candidates, st.sampled_from(["k1", "k2"]))
def test_thread_interaction_decides_as_before(
    interaction: Interaction, found: ThreadCandidates, contact_id: str
) -> None:
    policy = ThreadingPolicy()
    decision = thread_interaction(interaction, contact_id, found, T0, policy)
    assert type(decision) is ThreadDecision
    assert decision == thread_interaction_before(interaction, contact_id, found, policy)
