"""Openings: where a waiting conversation could be assigned now (issue #16).

The scheduler's drain trusts two facts about them; both are checked here against the
assignment rules themselves, over generated agents and queues:
- ``someone_could_take`` is ``can_take`` by some agent (the unlocked look skips the
  lock only when no waiting conversation passes it);
- planning page by page over the waiting conversations of the openings, in queue
  order, pages growing from twice the free slots, each from the states the pages before
  left, chooses exactly what one plan over every waiting conversation chooses.
"""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.domain.assignment import (
    AgentState,
    AgentStatus,
    WorkItem,
    can_take,
    plan_assignments,
    queue_order,
)
from services.router.domain.openings import free_slots, openings, someone_could_take
from tests.unit.router.factories import T0

QUEUES = ("general", "vip", "security")
SKILLS = ("ko", "en", "ja")
CHANNELS = (Channel.CHAT, Channel.EMAIL)

agents_strategy = st.lists(
    st.builds(
        AgentState,
        id=st.sampled_from(["a", "b", "c", "d"]),
        status=st.sampled_from(list(AgentStatus)),
        queues=st.frozensets(st.sampled_from(QUEUES), max_size=2),
        capacity=st.fixed_dictionaries(
            {Channel.CHAT: st.integers(0, 2), Channel.EMAIL: st.integers(0, 2)}
        ),
        load=st.fixed_dictionaries(
            {Channel.CHAT: st.integers(0, 3), Channel.EMAIL: st.integers(0, 1)}
        ),
        skills=st.frozensets(st.sampled_from(SKILLS), max_size=2),
    ),
    max_size=4,
    unique_by=lambda a: a.id,
)
items_strategy = st.lists(
    st.builds(
        WorkItem,
        conversation_id=st.uuids().map(str),
        queue=st.sampled_from(QUEUES),
        channel=st.sampled_from(CHANNELS),
        priority=st.sampled_from(list(Priority)),
        queued_at=st.integers(0, 20).map(lambda m: T0 + timedelta(minutes=m)),
        skills=st.frozensets(st.sampled_from(SKILLS), max_size=1),
    ),
    max_size=25,
)


def online(aid: str, *, chat: int, load: int = 0, queues=("general",)) -> AgentState:
    return AgentState(
        aid,
        AgentStatus.ONLINE,
        frozenset(queues),
        {Channel.CHAT: chat, Channel.EMAIL: 0},
        {Channel.CHAT: load},
        frozenset({"ko"}),
    )


def test_openings_are_queue_and_channel_where_an_online_agent_has_room():
    agents = [
        online("full", chat=2, load=2, queues=("vip",)),
        online("room", chat=2, load=1, queues=("general", "faq")),
        AgentState("away", AgentStatus.AWAY, frozenset({"security"}), {Channel.CHAT: 3}),
    ]
    assert openings(agents) == {("general", "chat"), ("faq", "chat")}
    assert free_slots(agents) == 1
    assert someone_could_take("general", "chat", ["ko"], agents)
    assert not someone_could_take("general", "chat", ["ja"], agents)  # nobody has it
    assert not someone_could_take("vip", "chat", [], agents)  # full
    assert not someone_could_take("security", "chat", [], agents)  # away


def test_everyone_full_has_no_openings():
    assert openings([online("a", chat=2, load=2), online("b", chat=0)]) == frozenset()


@settings(max_examples=300, deadline=None)
@given(agents_strategy, items_strategy)
def test_someone_could_take_is_can_take_by_some_agent(agents, items):
    for item in items:
        expected = any(can_take(a, item) for a in agents)
        assert someone_could_take(item.queue, item.channel.value, item.skills, agents) == expected
        if expected:
            assert (item.queue, item.channel.value) in openings(agents)


def paged_plan(items: list[WorkItem], agents: list[AgentState]) -> dict[str, str]:
    """The drain's locked round without the store: pages of the openings' waiting
    conversations in queue order, each planned from the states the pages before left."""
    states = {a.id: a for a in agents}
    chosen: dict[str, str] = {}
    seen: set[str] = set()
    limit = 0
    while True:
        room = openings(states.values())
        if not room:
            break
        # the drain's sizing with PAGE_MIN = 1, so that small cases page too
        limit = max(1, 2 * free_slots(states.values()), 2 * limit)
        page = [
            i
            for i in queue_order(items)
            if (i.queue, i.channel.value) in room and i.conversation_id not in seen
        ][:limit]
        for choice in plan_assignments(page, states.values(), sticky=False, now=T0):
            item = next(i for i in page if i.conversation_id == choice.conversation_id)
            states[choice.agent_id] = states[choice.agent_id].with_one_more(item.channel, T0)
            chosen[choice.conversation_id] = choice.agent_id
        if len(page) < limit:
            break
        seen.update(i.conversation_id for i in page)
    return chosen


@settings(max_examples=300, deadline=None)
@given(agents_strategy, items_strategy)
def test_paged_plan_chooses_what_one_plan_over_everything_chooses(agents, items):
    everything = plan_assignments(items, agents, sticky=False, now=T0)
    assert paged_plan(items, agents) == {c.conversation_id: c.agent_id for c in everything}
