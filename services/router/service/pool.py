"""The agents and their load, loaded once per transaction and kept current in memory.

Loaded after ``serialise_assignment`` (PostgreSQL) or under the SQLite write lock,
so the counts stay exact while the transaction assigns and releases work.
"""

from __future__ import annotations

from collections import defaultdict

from libs.common.events.interaction import Channel
from services.router.domain.assignment import (
    AgentState,
    AgentStatus,
    AssignmentChoice,
    WorkItem,
    choose_agent,
)
from services.router.domain.members import channel_of
from services.router.store.models import Agent
from services.router.store.unit_of_work import UnitOfWork

#: where the transaction's pool is kept in ``uow.cache``
POOL_KEY = "assignment_pool"


class AssignmentPool:
    def __init__(self, agents: list[Agent], loads: dict[str, dict[str, int]]) -> None:
        self.agents = {a.id: a for a in agents}
        self.loads: dict[str, dict[str, int]] = defaultdict(dict)
        for agent_id, load in loads.items():
            self.loads[agent_id].update(load)
        # What routing does not change in a transaction (status, queues, capacity,
        # skills), converted once per pool; each online agent's state is then kept
        # current as work is taken and released. Rebuilding every online agent's state
        # on every assignment was 0.8 of 1.2 CPU-s of assignment in the backlog profile.
        self._fixed = {a.id: _fixed_state(a) for a in agents}
        self._online = {
            agent_id: self._current(fixed, self.agents[agent_id])
            for agent_id, fixed in self._fixed.items()
            if fixed.status is AgentStatus.ONLINE
        }
        #: (queue, channel, skills, excluded agent) nobody online can take: taking work
        #: only fills agents up, so it stays so until work is released
        self._nobody: set[tuple[object, ...]] = set()

    def state(self, agent: Agent) -> AgentState:
        return self._current(_fixed_state(agent), agent)

    def online_states(self, *, exclude: str | None = None) -> list[AgentState]:
        if exclude is None:
            return list(self._online.values())
        return [state for agent_id, state in self._online.items() if agent_id != exclude]

    def choose(
        self, item: WorkItem, *, sticky: bool, exclude: str | None = None
    ) -> AssignmentChoice | None:
        """``choose_agent(item, self.online_states(exclude=exclude), sticky=sticky)``,
        without asking again for work nobody could take since the last release: in a
        backlog every agent is full after the first few decisions, and each later one
        asked every online agent (``can_take`` depends on the item's queue, channel and
        skills only; ``tests/unit/router/test_assignment_pool.py``)."""
        key = (item.queue, item.channel, item.skills, exclude)
        if key in self._nobody:
            return None
        choice = choose_agent(item, self.online_states(exclude=exclude), sticky=sticky)
        if choice is None:
            self._nobody.add(key)
        return choice

    def nobody_can_take(
        self, queue: str, channel: Channel, skills: frozenset[str], exclude: str | None = None
    ) -> bool:
        """What ``choose`` knows already: nobody online could take such work (since the
        last release), whoever the previous agent was. Asked before a work item and the
        customer's previous agent are looked up (a backlog's every decision, once every
        agent is full)."""
        return (queue, channel, skills, exclude) in self._nobody

    def _current(self, fixed: AgentState, agent: Agent) -> AgentState:
        """``fixed`` with what routing changes: the agent's load and last assignment."""
        load = self.loads[agent.id]
        return AgentState(  # not dataclasses.replace: it inspects the fields every call
            id=fixed.id,
            status=fixed.status,
            queues=fixed.queues,
            capacity=fixed.capacity,
            load={channel_of(k): v for k, v in load.items()} if load else {},
            skills=fixed.skills,
            last_assigned_at=agent.last_assigned_at,
        )

    def take(self, agent: Agent, channel: str) -> None:
        """``agent`` takes one more conversation (its ``last_assigned_at`` already set)."""
        load = self.loads[agent.id]
        load[channel] = load.get(channel, 0) + 1
        self._changed(agent.id)

    def release(self, agent_id: str | None, channel: str) -> None:
        if agent_id is None:
            return
        load = self.loads[agent_id]
        load[channel] = max(0, load.get(channel, 0) - 1)
        self._nobody.clear()  # room again, maybe
        self._changed(agent_id)

    def _changed(self, agent_id: str) -> None:
        if agent_id in self._online:
            self._online[agent_id] = self._current(self._fixed[agent_id], self.agents[agent_id])


def _fixed_state(agent: Agent) -> AgentState:
    return AgentState(
        id=agent.id,
        status=AgentStatus(agent.status),
        queues=frozenset(agent.queues or []),
        capacity={Channel(k): int(v) for k, v in (agent.capacity or {}).items()},
        skills=frozenset(agent.skills or []),
    )


def kept_assignment_pool(uow: UnitOfWork) -> AssignmentPool | None:
    """The transaction's pool when it is loaded already (routing loads it before a
    batch; ``keep_assignment_pool``), else None: what ``assignment_pool`` returns then,
    without a coroutine made and awaited (assignment asks for it per decision)."""
    pool = uow.cache.get(POOL_KEY)
    assert pool is None or isinstance(pool, AssignmentPool)
    return pool


async def assignment_pool(uow: UnitOfWork) -> AssignmentPool:
    pool = uow.cache.get(POOL_KEY)
    if pool is None:
        pool = AssignmentPool(*await uow.agents.all_with_loads())
        uow.cache[POOL_KEY] = pool
    assert isinstance(pool, AssignmentPool)
    return pool


def keep_assignment_pool(
    uow: UnitOfWork, agents: list[Agent], loads: dict[str, dict[str, int]]
) -> AssignmentPool:
    """The transaction's pool from agents and loads read already (by the poll's first
    hop on SQLite): what ``assignment_pool`` returns from then on."""
    pool = uow.cache[POOL_KEY] = AssignmentPool(agents, loads)
    return pool
