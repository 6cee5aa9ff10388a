"""The assignment pool keeps each online agent's state current as work is taken and
released; the states (and so every choice) must be those rebuilt from the agents and
their loads, as the pool did on every assignment before. And ``choose_agent``'s
one-pass form chooses as its first list-then-min form did."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority
from services.router.domain.assignment import (
    AgentState,
    AgentStatus,
    AssignmentChoice,
    WorkItem,
    _preference,
    can_take,
    choose_agent,
)
from services.router.service.pool import (
    AssignmentPool,
    assignment_pool,
    keep_assignment_pool,
    kept_assignment_pool,
)
from services.router.store.models import Agent
from tests.unit.router.factories import T0

CHANNELS = ("chat", "email", "phone")
QUEUES = ("general", "ko-support", "security")

agents_strategy = st.lists(
    st.tuples(
        st.sampled_from(("online", "away", "offline")),
        st.sets(st.sampled_from(QUEUES), min_size=1),
        st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3)),
        st.sets(st.sampled_from(("ko", "en"))),
        st.dictionaries(st.sampled_from(CHANNELS), st.integers(0, 3)),  # initial load
    ),
    min_size=1,
    max_size=6,
)
#: (take or release, agent index, channel, queue, skills, sticky agent index or None)
steps_strategy = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(0, 5),
        st.sampled_from(CHANNELS),
        st.sampled_from(QUEUES),
        st.sets(st.sampled_from(("ko", "en")), max_size=1),
        st.one_of(st.none(), st.integers(0, 5)),
    ),
    max_size=30,
)


def build(spec: list[tuple]) -> tuple[list[Agent], dict[str, dict[str, int]]]:
    agents = [
        Agent(
            id=f"a{n}",
            name=f"Agent {n}",
            status=status,
            queues=sorted(queues),
            capacity=capacity,
            skills=sorted(skills),
            last_assigned_at=T0 - timedelta(minutes=n % 3) if n % 2 else None,
        )
        for n, (status, queues, capacity, skills, _) in enumerate(spec)
    ]
    return agents, {f"a{n}": dict(load) for n, (*_, load) in enumerate(spec) if load}


def rebuilt(pool: AssignmentPool, *, exclude: str | None = None) -> list[AgentState]:
    """What ``online_states`` gave before: every online agent rebuilt from its row."""
    return [
        pool.state(agent)
        for agent in pool.agents.values()
        if agent.status == "online" and agent.id != exclude
    ]


@settings(max_examples=200, deadline=None)
@given(agents_strategy, steps_strategy)
def test_kept_states_are_the_rebuilt_ones_and_choose_the_same(spec, steps) -> None:
    agents, loads = build(spec)
    pool = AssignmentPool(agents, loads)
    for minute, (take, index, channel, queue, skills, previous) in enumerate(steps):
        agent = agents[index % len(agents)]
        exclude = agents[(index + 1) % len(agents)].id if minute % 4 == 0 else None
        kept = pool.online_states(exclude=exclude)
        assert kept == rebuilt(pool, exclude=exclude)
        item = WorkItem(
            conversation_id=f"c{minute}",
            queue=queue,
            channel=Channel(channel),
            priority=Priority.NORMAL,
            queued_at=T0,
            skills=frozenset(skills),
            previous_agent_id=None if previous is None else f"a{previous}",
        )
        for sticky in (False, True):
            expected = choose_agent(item, rebuilt(pool, exclude=exclude), sticky=sticky)
            assert choose_agent(item, kept, sticky=sticky) == expected
            # the pool's own choice remembers work nobody could take until a release
            assert pool.choose(item, sticky=sticky, exclude=exclude) == expected
            assert pool.choose(item, sticky=sticky, exclude=exclude) == expected
        if take:
            agent.last_assigned_at = T0 + timedelta(minutes=minute)
            pool.take(agent, channel)
        else:
            pool.release(agent.id, channel)
    assert pool.online_states() == rebuilt(pool)


def choice_as_first_written(item: WorkItem, agents: list[AgentState], *, sticky: bool):
    """``choose_agent`` as it read before its one-pass form: the specification."""
    able = [a for a in agents if can_take(a, item)]
    if not able:
        return None
    if sticky and item.previous_agent_id:
        for agent in able:
            if agent.id == item.previous_agent_id:
                return AssignmentChoice(item.conversation_id, agent.id, sticky=True)
    best = min(able, key=lambda a: _preference(a, item.channel))
    return AssignmentChoice(item.conversation_id, best.id, sticky=False)


state_strategy = st.builds(
    AgentState,
    id=st.sampled_from(["a", "b", "c", "d"]),  # repeated ids: the first of equals wins
    status=st.sampled_from(list(AgentStatus)),
    queues=st.frozensets(st.sampled_from(QUEUES), min_size=1),
    capacity=st.dictionaries(st.sampled_from(list(Channel)), st.integers(0, 3)),
    load=st.dictionaries(st.sampled_from(list(Channel)), st.integers(0, 3)),
    skills=st.frozensets(st.sampled_from(("ko", "en"))),
    last_assigned_at=st.one_of(
        st.none(), st.sampled_from([T0, T0 - timedelta(minutes=1), T0 + timedelta(minutes=1)])
    ),
)


@settings(max_examples=500, deadline=None)
@given(
    agents=st.lists(state_strategy, max_size=8),
    queue=st.sampled_from(QUEUES),
    channel=st.sampled_from(list(Channel)),
    skills=st.frozensets(st.sampled_from(("ko", "en")), max_size=1),
    previous=st.one_of(st.none(), st.just(""), st.sampled_from(["a", "b", "c", "d", "x"])),
    sticky=st.booleans(),
)
def test_one_pass_choice_is_the_list_then_min_choice(
    agents, queue, channel, skills, previous, sticky
) -> None:
    item = WorkItem("c1", queue, channel, Priority.NORMAL, T0, skills, previous)
    assert choose_agent(item, agents, sticky=sticky) == choice_as_first_written(
        item, agents, sticky=sticky
    )


def test_the_kept_pool_is_what_assignment_pool_returns() -> None:
    """``kept_assignment_pool``: the transaction's pool without a coroutine once it is
    loaded, None before (then ``assignment_pool`` loads it)."""

    class Agents:
        loaded = 0

        async def all_with_loads(self) -> tuple[list[Agent], dict[str, dict[str, int]]]:
            Agents.loaded += 1
            return [], {}

    uow: Any = SimpleNamespace(cache={}, agents=Agents())
    assert kept_assignment_pool(uow) is None
    pool = asyncio.run(assignment_pool(uow))
    assert kept_assignment_pool(uow) is pool
    assert asyncio.run(assignment_pool(uow)) is pool
    assert Agents.loaded == 1
    kept = keep_assignment_pool(uow, [], {})
    assert kept_assignment_pool(uow) is kept is asyncio.run(assignment_pool(uow))
