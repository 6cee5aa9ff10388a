"""``plan_prefetch`` works a poll's read out in one pass over its interactions: the same
keys, Message-IDs and candidate keys as one comprehension per set (as it was)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

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
from services.router.store.repositories import PollContacts
from tests.unit.router.factories import T0
from tests.unit.router.test_field_reads import interactions

WINDOW = timedelta(hours=24)


def plan_prefetch_by_sets(interactions: list[Interaction], recent_window: timedelta) -> Planned:
    """What ``plan_prefetch`` read by before its one pass, one comprehension a set."""
    recent = [i for i in interactions if i.channel in RECENT_CHANNELS]
    wanted = {m for i in interactions for m in referenced_ids(i)}
    return Planned(
        keys={k for i in interactions for k in identity_keys(i.customer)},
        message_ids=wanted | {m for i in interactions for m in (own_message_id(i),) if m},
        tokens={t for i in interactions for t in (i.thread.subject_token,) if t},
        threads={k for i in interactions for k in (thread_key(i),) if k},
        calls={k for i in interactions for k in (call_group_key(i),) if k},
        recent_keys={k for i in recent for k in identity_keys(i.customer)},
        channels={i.channel.value for i in recent},
        since=min((i.occurred_at for i in recent), default=datetime.max) - recent_window,
    )


class Planned(NamedTuple):
    keys: set[IdentityKey]
    message_ids: set[str]
    tokens: set[str]
    threads: set[str]
    calls: set[str]
    recent_keys: set[IdentityKey]
    channels: set[str]
    since: datetime


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
    expected = plan_prefetch_by_sets(poll, WINDOW)
    assert plan.keys == expected.keys
    assert plan.message_ids == expected.message_ids
    read = read_owners(plan.keys)
    found = plan.candidate_keys(read)
    assert found.ids == {"c1"}
    assert (found.references, found.threads, found.calls, found.channels) == (
        expected.tokens,
        expected.threads,
        expected.calls,
        expected.channels,
    )
    recent_contacts = {read.owners[k] for k in expected.recent_keys if k in read.owners}
    assert found.recent_contacts == recent_contacts
    assert found.since == (expected.since if recent_contacts else None)
    for interaction in poll:  # kept for resolution: not worked out again
        assert plan.cache.identity_keys(interaction) == identity_keys(interaction.customer)
        assert plan.cache.keys[id(interaction)][0] is interaction
