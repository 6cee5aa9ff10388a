"""RoutingCache.remember_conversation keeps per key the conversation with the latest
activity (the last remembered of equals), as its helper-per-index form did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.router.service.columns import columns
from services.router.service.routing_cache import ANY, RoutingCache
from services.router.store.models import Conversation
from services.router.store.unit_of_work import _insert_columns, new_row

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _keep_latest(index: dict, key: tuple, conversation: Conversation, at: datetime) -> None:  # type: ignore[type-arg]
    current = index.get(key)
    if current is None or columns(current)["last_activity_at"] <= at:
        index[key] = conversation


def remember_by_helper(cache: RoutingCache, conversation: Conversation) -> None:
    """remember_conversation as it was (before the indexes were kept inline)."""
    values = columns(conversation)
    cache.conversations[values["id"]] = conversation
    cache.by_reference[values["reference"]] = conversation
    contact, at = values["contact_id"], values["last_activity_at"]
    if values["thread_key"]:
        _keep_latest(cache.by_thread, (values["thread_key"], contact), conversation, at)
    if values["call_group_key"]:
        _keep_latest(cache.by_call_group, (values["call_group_key"], contact), conversation, at)
    for integration in (values["integration"], ANY):
        _keep_latest(cache.latest, (contact, values["channel"], integration), conversation, at)
    if values["assignee_id"]:
        cache.previous_agents[contact] = values["assignee_id"]


conversations = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["c1", "c2", "c3", "c4"]),
            "reference": st.sampled_from(["C-1", "C-2", "C-3"]),
            "contact_id": st.sampled_from(["k1", "k2"]),
            "thread_key": st.none() | st.sampled_from(["", "wa:t1", "wa:t2"]),
            "call_group_key": st.none() | st.sampled_from(["", "ph:g1"]),
            "channel": st.sampled_from(["email", "chat", "phone"]),
            "integration": st.sampled_from(["wa", "support", ANY]),
            "last_activity_at": st.integers(0, 5).map(lambda m: T0 + timedelta(minutes=m)),
            "assignee_id": st.none() | st.sampled_from(["a1", "a2"]),
        }
    ),
    max_size=12,
)


def _indexes(cache: RoutingCache) -> list[dict[object, object]]:
    indexes = (
        cache.conversations,
        cache.by_reference,
        cache.by_thread,
        cache.by_call_group,
        cache.latest,
    )
    kept: list[dict[object, object]] = [
        {key: id(value) for key, value in index.items()}  # the very objects
        for index in indexes
    ]
    return [*kept, dict(cache.previous_agents)]


@settings(max_examples=300, deadline=None)
@given(conversations)
def test_remembered_as_by_the_helper(rows: list[dict[str, object]]) -> None:
    blank = {k: None for k, _ in _insert_columns(Conversation).keys}
    made = [new_row(Conversation, blank | row) for row in rows]
    inline, by_helper = RoutingCache(), RoutingCache()
    # some remembered again, as a conversation an interaction joined is
    for conversation in [*made, *made[::2]]:
        inline.remember_conversation(conversation, columns(conversation))
        remember_by_helper(by_helper, conversation)
    assert _indexes(inline) == _indexes(by_helper)
