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
    choose_agent,
    plan_assignments,
    queue_order,
    work_to_requeue,
)
from tests.unit.router.factories import T0

CHAT, EMAIL = Channel.CHAT, Channel.EMAIL


def agent(
    aid,
    *,
    status=AgentStatus.ONLINE,
    queues=("general",),
    chat=3,
    email=10,
    load=None,
    skills=("ko", "en"),
    idle=None,
) -> AgentState:
    return AgentState(
        aid,
        status,
        frozenset(queues),
        {CHAT: chat, EMAIL: email},
        load or {},
        frozenset(skills),
        idle,
    )


def item(
    cid="c1",
    *,
    queue="general",
    channel=CHAT,
    priority=Priority.NORMAL,
    age=0,
    skills=(),
    previous=None,
) -> WorkItem:
    return WorkItem(
        cid, queue, channel, priority, T0 - timedelta(minutes=age), frozenset(skills), previous
    )


def test_only_online_queue_members_with_capacity_and_skills_can_take():
    assert can_take(agent("a"), item())
    assert not can_take(agent("a", status=AgentStatus.AWAY), item())
    assert not can_take(agent("a", queues=("other",)), item())
    assert not can_take(agent("a", chat=1, load={CHAT: 1}), item())
    assert not can_take(agent("a", skills=("en",)), item(skills=("ko",)))


def test_least_loaded_wins_then_longest_idle():
    busy = agent("busy", load={CHAT: 2})
    idle_long = agent("idle-long", idle=T0 - timedelta(hours=2))
    idle_short = agent("idle-short", idle=T0 - timedelta(minutes=1))
    assert choose_agent(item(), [busy, idle_short, idle_long], sticky=False).agent_id == "idle-long"


def test_sticky_prefers_previous_agent_when_free():
    prev = agent("prev", load={CHAT: 2})
    other = agent("other")
    assert choose_agent(item(previous="prev"), [prev, other], sticky=True).sticky
    assert choose_agent(item(previous="prev"), [prev, other], sticky=False).agent_id == "other"
    full = agent("prev", chat=2, load={CHAT: 2})
    assert choose_agent(item(previous="prev"), [full, other], sticky=True).agent_id == "other"


def test_nobody_free_means_waiting():
    assert choose_agent(item(), [agent("a", status=AgentStatus.OFFLINE)], sticky=True) is None


def test_queue_order_priority_then_age():
    items = [
        item("new-urgent", priority=Priority.URGENT, age=1),
        item("old-normal", age=60),
        item("new-normal", age=1),
    ]
    assert [i.conversation_id for i in queue_order(items)] == [
        "new-urgent",
        "old-normal",
        "new-normal",
    ]


def test_plan_assigns_in_order_until_capacity_runs_out():
    agents = [agent("a", chat=1), agent("b", chat=1)]
    waiting = [
        item("low", priority=Priority.LOW, age=100),
        item("high", priority=Priority.HIGH),
        item("normal", age=5),
    ]
    plan = plan_assignments(waiting, agents, sticky=False, now=T0)
    assert [c.conversation_id for c in plan] == ["high", "normal"]
    assert {c.agent_id for c in plan} == {"a", "b"}


def test_requeue_only_when_going_offline_and_enabled():
    assert work_to_requeue(
        AgentStatus.ONLINE, AgentStatus.OFFLINE, ["c2", "c1"], requeue_on_offline=True
    ) == ["c1", "c2"]
    assert (
        work_to_requeue(AgentStatus.ONLINE, AgentStatus.OFFLINE, ["c1"], requeue_on_offline=False)
        == []
    )
    assert (
        work_to_requeue(AgentStatus.ONLINE, AgentStatus.AWAY, ["c1"], requeue_on_offline=True) == []
    )


agents_strategy = st.lists(
    st.builds(
        agent,
        st.uuids().map(str),
        status=st.sampled_from(list(AgentStatus)),
        queues=st.lists(st.sampled_from(["general", "ko", "en"]), min_size=1, max_size=3),
        chat=st.integers(0, 3),
        email=st.integers(0, 4),
        load=st.fixed_dictionaries({CHAT: st.integers(0, 3), EMAIL: st.integers(0, 4)}),
        skills=st.lists(st.sampled_from(["ko", "en"]), max_size=2),
    ),
    max_size=6,
    unique_by=lambda a: a.id,
)
items_strategy = st.lists(
    st.builds(
        item,
        st.uuids().map(str),
        queue=st.sampled_from(["general", "ko", "en"]),
        channel=st.sampled_from([CHAT, EMAIL]),
        priority=st.sampled_from(list(Priority)),
        age=st.integers(0, 500),
        skills=st.lists(st.sampled_from(["ko", "en"]), max_size=1),
    ),
    max_size=25,
    unique_by=lambda i: i.conversation_id,
)


@settings(max_examples=120)
@given(agents=agents_strategy, waiting=items_strategy)
def test_capacity_never_exceeded_and_every_item_assigned_or_queued(agents, waiting):
    plan = plan_assignments(waiting, agents, sticky=True, now=T0)
    by_id = {a.id: a for a in agents}
    assigned = [c.conversation_id for c in plan]
    assert len(assigned) == len(set(assigned))  # nobody assigned twice
    for a in agents:
        for channel in (CHAT, EMAIL):
            new = sum(
                1
                for c in plan
                if c.agent_id == a.id
                and next(i for i in waiting if i.conversation_id == c.conversation_id).channel
                is channel
            )
            before = a.load.get(channel, 0)
            assert new == 0 or before + new <= a.capacity[channel]
    queued = [i for i in waiting if i.conversation_id not in set(assigned)]
    assert len(assigned) + len(queued) == len(waiting)  # each is assigned or stays queued
    for choice in plan:
        chosen = next(i for i in waiting if i.conversation_id == choice.conversation_id)
        assert by_id[choice.agent_id].status is AgentStatus.ONLINE
        assert chosen.queue in by_id[choice.agent_id].queues
    # a queued item really had nobody left: replay the plan's loads and check
    final = {a.id: a for a in agents}
    for choice in plan:
        chosen = next(i for i in waiting if i.conversation_id == choice.conversation_id)
        final[choice.agent_id] = final[choice.agent_id].with_one_more(chosen.channel, T0)
    for left in queued:
        assert not any(can_take(a, left) for a in final.values())
