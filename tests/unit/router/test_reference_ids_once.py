"""Routing works a mail's reference ids out once and hands them to ``thread_interaction``
(``interactions.route_one``): the same decision as when threading works them out itself."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Channel, Interaction
from services.router.domain.lifecycle import ConversationStatus
from services.router.domain.members import EMAIL
from services.router.domain.threading import (
    ConversationRef,
    ThreadCandidates,
    ThreadingPolicy,
    email_reference_ids,
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
