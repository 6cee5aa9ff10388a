"""Who takes a conversation — pure decision functions.

Among online agents of the queue with free capacity on the channel and the
required skills: the customer's previous agent when free (if sticky), else the
least loaded, then the longest idle. Nobody free: the conversation waits in its
queue; waiting conversations are served by priority, then age.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from libs.common.events.interaction import Channel
from libs.common.events.routing import Priority

PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AgentStatus(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


@dataclass(frozen=True)
class AgentState:
    id: str
    status: AgentStatus
    queues: frozenset[str]
    capacity: Mapping[Channel, int]
    load: Mapping[Channel, int] = field(default_factory=dict)
    skills: frozenset[str] = frozenset()
    last_assigned_at: datetime | None = None

    def free(self, channel: Channel) -> int:
        return self.capacity.get(channel, 0) - self.load.get(channel, 0)

    def total_load(self) -> int:
        return sum(self.load.values())

    def with_one_more(self, channel: Channel, at: datetime) -> AgentState:
        load = dict(self.load)
        load[channel] = load.get(channel, 0) + 1
        return replace(self, load=load, last_assigned_at=at)


class WorkItem(NamedTuple):
    """Immutable like the frozen dataclasses these were (one per assignment decision;
    a frozen dataclass sets each field through ``object.__setattr__``)."""

    conversation_id: str
    queue: str
    channel: Channel
    priority: Priority
    queued_at: datetime
    skills: frozenset[str] = frozenset()
    previous_agent_id: str | None = None


class AssignmentChoice(NamedTuple):
    conversation_id: str
    agent_id: str
    sticky: bool


def can_take(agent: AgentState, item: WorkItem) -> bool:
    return (
        agent.status is AgentStatus.ONLINE
        and item.queue in agent.queues
        and agent.free(item.channel) > 0
        and item.skills <= agent.skills
    )


def _preference(agent: AgentState, channel: Channel) -> tuple[int, int, datetime, str]:
    idle_since = agent.last_assigned_at or _EPOCH
    return (agent.total_load(), agent.load.get(channel, 0), idle_since, agent.id)


def choose_agent(
    item: WorkItem, agents: Iterable[AgentState], *, sticky: bool
) -> AssignmentChoice | None:
    """The previous agent if able (sticky), else the able agent of least preference
    (the first of equals, as ``min`` would): one pass over the agents, no list of the
    able ones — every decision of a large desk runs this over all its online agents."""
    previous = item.previous_agent_id if sticky else None
    best: AgentState | None = None
    best_preference: tuple[int, int, datetime, str] | None = None
    for agent in agents:
        if not can_take(agent, item):
            continue
        if previous and agent.id == previous:
            return AssignmentChoice(item.conversation_id, agent.id, sticky=True)
        preference = _preference(agent, item.channel)
        if best_preference is None or preference < best_preference:
            best, best_preference = agent, preference
    if best is None:
        return None
    return AssignmentChoice(item.conversation_id, best.id, sticky=False)


def queue_order(items: Iterable[WorkItem]) -> list[WorkItem]:
    """Highest priority first, then the longest waiting."""
    return sorted(items, key=lambda i: (-PRIORITY_RANK[i.priority], i.queued_at, i.conversation_id))


def plan_assignments(
    waiting: Iterable[WorkItem], agents: Iterable[AgentState], *, sticky: bool, now: datetime
) -> list[AssignmentChoice]:
    """Assign as many waiting items as capacity allows, never exceeding it."""
    pool = {a.id: a for a in agents}
    choices: list[AssignmentChoice] = []
    for item in queue_order(waiting):
        choice = choose_agent(item, pool.values(), sticky=sticky)
        if choice is None:
            continue
        pool[choice.agent_id] = pool[choice.agent_id].with_one_more(item.channel, now)
        choices.append(choice)
    return choices


def work_to_requeue(
    agent_before: AgentStatus,
    agent_after: AgentStatus,
    open_conversations: Iterable[str],
    *,
    requeue_on_offline: bool,
) -> list[str]:
    """An agent going offline hands their open work back to the queue (a setting)."""
    going_offline = agent_before is not AgentStatus.OFFLINE and agent_after is AgentStatus.OFFLINE
    if not (going_offline and requeue_on_offline):
        return []
    return sorted(open_conversations)
