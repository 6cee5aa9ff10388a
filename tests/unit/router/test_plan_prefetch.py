"""``plan_prefetch`` works a poll's read out in one pass over its interactions: the same
keys, Message-IDs and candidate keys as one comprehension per set (as it was)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from libs.common.events.interaction import Interaction
from services.router.domain.contacts import IdentityKey, identity_keys
from services.router.domain.intake import (
    call_group_key,
    own_message_id,
    referenced_ids,
    thread_key,
)
from services.router.service.routing_cache import RECENT_CHANNELS, plan_prefetch
from services.router.store.repositories import CandidateKeys, PollContacts
from tests.unit.router.factories import T0
from tests.unit.router.test_field_reads import interactions

WINDOW = timedelta(hours=24)


def plan_prefetch_by_sets(
    interactions: list[Interaction], recent_window: timedelta
) -> tuple[set[IdentityKey], set[str], CandidateKeys]:
    """What ``plan_prefetch`` read by before its one pass: the keys, the Message-IDs and
    the candidate keys of ``read_owners`` (every recent key owned by "k-" + its value)."""
    keys = {k for i in interactions for k in identity_keys(i.customer)}
    tokens = {t for i in interactions for t in (i.thread.subject_token,) if t}
    threads = {k for i in interactions for k in (thread_key(i),) if k}
    calls = {k for i in interactions for k in (call_group_key(i),) if k}
    recent = [i for i in interactions if i.channel in RECENT_CHANNELS]
    recent_keys = {k for i in recent for k in identity_keys(i.customer)}
    channels = {i.channel.value for i in recent}
    since = min((i.occurred_at for i in recent), default=datetime.max) - recent_window
    wanted = {m for i in interactions for m in referenced_ids(i)}
    message_ids = wanted | {m for i in interactions for m in (own_message_id(i),) if m}
    owners = read_owners(keys)
    recent_contacts = {owners.owners[k] for k in recent_keys if k in owners.owners}
    candidate_keys = CandidateKeys(
        ids={conversation_id for _, conversation_id in owners.messages},
        references=tokens,
        threads=threads,
        calls=calls,
        recent_contacts=recent_contacts,
        channels=channels,
        since=since if recent_contacts else None,
    )
    return keys, message_ids, candidate_keys


def read_owners(keys: set[IdentityKey]) -> PollContacts:
    """Every other key owned (by a contact named after it), one Message-ID indexed."""
    owned = sorted(keys)[::2]
    return PollContacts(
        owners={key: f"k-{key.value}" for key in owned},
        messages=[("own@x", "c1")],
        last_assignees={},
    )


polls = st.lists(
    st.tuples(interactions(), st.integers(-120, 120)).map(
        lambda drawn: drawn[0].model_copy(update={"occurred_at": T0 + timedelta(minutes=drawn[1])})
    ),
    max_size=6,
)


@given(polls)
def test_one_pass_plans_the_read_of_one_comprehension_per_set(
    poll: list[Interaction],
) -> None:
    plan = plan_prefetch(poll, recent_window=WINDOW)
    keys, message_ids, candidate_keys = plan_prefetch_by_sets(poll, WINDOW)
    assert plan.keys == keys
    assert plan.message_ids == message_ids
    assert plan.candidate_keys(read_owners(plan.keys)) == candidate_keys
    for interaction in poll:  # kept for resolution: not worked out again
        assert plan.cache.identity_keys(interaction) == identity_keys(interaction.customer)
        assert plan.cache.keys[id(interaction)][0] is interaction
