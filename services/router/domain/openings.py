"""Where a waiting conversation could be assigned now — pure functions.

The scheduler asks these before it takes the assignment lock, over agents and loads
read without it, and again under the lock to load only the waiting conversations
that could be assigned (see ``drain_queues``).
"""

from __future__ import annotations

from collections.abc import Iterable

from libs.common.events.interaction import Channel
from services.router.domain.assignment import AgentState, AgentStatus

#: A queue and a channel on which some online agent has room.
Opening = tuple[str, str]


def openings(agents: Iterable[AgentState]) -> frozenset[Opening]:
    """(queue, channel) pairs where at least one online agent has free capacity.

    A waiting conversation outside them cannot be assigned (``can_take`` needs the
    queue among the agent's and free capacity on the channel), and assigning only
    ever shrinks them."""
    found: set[Opening] = set()
    for agent in agents:
        if agent.status is not AgentStatus.ONLINE:
            continue
        for channel in agent.capacity:
            if agent.free(channel) > 0:
                found.update((queue, channel.value) for queue in agent.queues)
    return frozenset(found)


def free_slots(agents: Iterable[AgentState]) -> int:
    """How many more conversations the online agents can take, all channels together:
    the most one drain can assign."""
    return sum(
        max(0, agent.free(channel))
        for agent in agents
        if agent.status is AgentStatus.ONLINE
        for channel in agent.capacity
    )


def someone_could_take(
    queue: str, channel: str, skills: Iterable[str], agents: Iterable[AgentState]
) -> bool:
    """Could any agent take a conversation of this queue, channel and skills now?
    (``can_take`` on the conversation's routing fields alone.)"""
    needed = frozenset(skills)
    wanted = Channel(channel)
    return any(
        agent.status is AgentStatus.ONLINE
        and queue in agent.queues
        and agent.free(wanted) > 0
        and needed <= agent.skills
        for agent in agents
    )
