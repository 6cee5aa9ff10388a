"""Assignment: load agents and work, ask the pure domain, store and announce."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from libs.common.events.routing import (
    ConversationAssigned,
    ConversationQueued,
)
from services.router.domain.assignment import (
    PRIORITY_RANK,
    AssignmentChoice,
    WorkItem,
    plan_assignments,
)
from services.router.domain.members import channel_of, priority_of
from services.router.domain.openings import free_slots, openings, someone_could_take
from services.router.service.columns import columns
from services.router.service.context import RouterContext
from services.router.service.events import SNAPSHOT_COLUMNS, Emitter
from services.router.service.pool import assignment_pool, kept_assignment_pool
from services.router.store.models import Agent, Conversation
from services.router.store.unit_of_work import UnitOfWork, set_values


def work_item(conversation: Conversation, previous_agent_id: str | None = None) -> WorkItem:
    values = columns(conversation)
    return WorkItem(
        conversation_id=values["id"],
        queue=values["queue"],
        channel=channel_of(values["channel"]),
        priority=priority_of(values["priority"]),
        queued_at=values["queued_at"] or values["opened_at"],
        skills=frozenset(values["skills"] or []),
        previous_agent_id=previous_agent_id,
    )


async def apply_choice(
    emitter: Emitter,
    conversation: Conversation,
    agent: Agent,
    choice: AssignmentChoice,
    *,
    reason: str,
) -> None:
    values = columns(conversation)
    assignee_id, channel = values["assignee_id"], values["channel"]
    previous = await emitter.agent(assignee_id)
    pool = kept_assignment_pool(emitter.uow) or await assignment_pool(emitter.uow)
    if assignee_id is not None:
        pool.release(assignee_id, channel)
    agent.last_assigned_at = emitter.now
    pool.take(agent, channel)
    remembered = emitter.uow.cache.get("previous_agents")
    if isinstance(remembered, dict):
        remembered[values["contact_id"]] = agent.id
    set_values(conversation, {"assignee_id": agent.id, "queued_at": None})  # as above
    await emitter.emit(
        ConversationAssigned,
        conversation,
        reason=reason,
        agent=emitter.agent_reference(agent),
        previous_agent=emitter.agent_reference(previous),
        sticky=choice.sticky,
    )


async def assign_or_queue(
    uow: UnitOfWork,
    ctx: RouterContext,
    emitter: Emitter,
    conversation: Conversation,
    *,
    previous_agent_id: str | None = None,
    exclude: str | None = None,
    reason: str,
    unchanged: bool = False,
    values: Mapping[str, Any] | None = None,
) -> None:
    """``unchanged``: the caller's word that nothing the conversation's snapshot is built
    from changed since ``emitter``'s last event over it (``Emitter.emit``); nothing here
    changes it before it is queued (``queue_conversation``). ``values``: the
    conversation's ``columns`` when the caller has them (a live view), else read here."""
    pool = kept_assignment_pool(uow) or await assignment_pool(uow)
    if values is None:
        values = columns(conversation)
    skills = frozenset(values["skills"] or [])
    if pool.nobody_can_take(values["queue"], channel_of(values["channel"]), skills, exclude):
        await queue_conversation(
            emitter,
            conversation,
            reason=f"{reason}; no agent free",
            unchanged=unchanged,
            values=values,
        )
        return
    if previous_agent_id is None and ctx.options.sticky:
        previous_agent_id = await previous_agent_of(uow, conversation)
    choice = pool.choose(
        work_item(conversation, previous_agent_id), sticky=ctx.options.sticky, exclude=exclude
    )
    if choice is not None:
        sticky_note = "; the customer's previous agent" if choice.sticky else ""
        await apply_choice(
            emitter, conversation, pool.agents[choice.agent_id], choice, reason=reason + sticky_note
        )
        return
    await queue_conversation(
        emitter, conversation, reason=f"{reason}; no agent free", unchanged=unchanged, values=values
    )


async def previous_agent_of(uow: UnitOfWork, conversation: Conversation) -> str | None:
    """The customer's last agent: from the batch cache when routing, else a query."""
    values = columns(conversation)
    remembered = uow.cache.get("previous_agents")
    if isinstance(remembered, dict):
        return remembered.get(values["contact_id"])
    return await uow.conversations.previous_agent(values["contact_id"], exclude=values["id"])


async def queue_conversation(
    emitter: Emitter,
    conversation: Conversation,
    *,
    reason: str,
    unchanged: bool = False,
    values: Mapping[str, Any] | None = None,
) -> None:
    """``unchanged``: as ``assign_or_queue``'s, of the conversation before this call;
    ``values`` likewise."""
    if values is None:
        values = columns(conversation)
    assignee_id = values["assignee_id"]
    if assignee_id is not None:
        pool = kept_assignment_pool(emitter.uow) or await assignment_pool(emitter.uow)
        pool.release(assignee_id, values["channel"])
    # in place on a conversation routing just opened (set_values)
    set_values(conversation, {"assignee_id": None, "queued_at": values["queued_at"] or emitter.now})
    await emitter.emit(
        ConversationQueued,
        conversation,
        reason=reason,
        queue=values["queue"],
        # with no assignee before, only queued_at changed, which no snapshot shows
        unchanged=unchanged and assignee_id is None and _QUEUED_AT_UNSEEN,
    )


#: a snapshot does not show when its conversation was queued (``queue_conversation``)
_QUEUED_AT_UNSEEN = "queued_at" not in SNAPSHOT_COLUMNS


#: Waiting rows the unlocked look reads (queue, channel, skills only); as many without one
#: that fits means "maybe": the locked round decides.
LOOK_ROWS = 100
#: Waiting conversations one locked page loads: twice the free slots, at least PAGE_MIN
#: (a few dozen rows cost little more than two, and spare a round trip when the first
#: ones need skills nobody free has), doubling page after page, at most PAGE_MAX.
PAGE_MIN = 50
PAGE_MAX = 500
#: Most waiting conversations one drain looks at (its old limit was 500, oldest first):
#: bounds the lock's hold when thousands wait that nobody free has the skills for.
SCAN_MAX = 2000


async def drain_queues(ctx: RouterContext, *, reason: str) -> int:
    """Assign waiting conversations while capacity allows: priority, then age.

    First a look without the assignment lock (a reader: on SQLite it does not wait for
    the write lock either): is there an online agent with room in a queue and channel
    where a conversation waits whose skills they have? If not, nothing is locked. The
    look is only an optimisation, the locked round re-checks everything:
    - a false "maybe" (the look saw room that a poll took meanwhile, or many waiting rows
      none of which fits) costs one locked round that assigns nothing, as every round did;
    - a false "nothing" means capacity was freed, an agent came online or a conversation
      started waiting after the look read. Whatever did it committed after the look: an
      agent's status or settings change, a resolution or a transfer, a handoff and a
      configuration reload each call ``drain_queues`` after committing, so their own look
      sees it; a routed conversation is assigned on arrival when someone has room; and
      the scheduler looks again on its next tick. So it cannot outlast one interval.
    """
    if not await _may_assign(ctx):
        return 0
    return await _drain_locked(ctx, reason=reason)


async def _may_assign(ctx: RouterContext) -> bool:
    async with ctx.uow.reader() as uow:
        states = (await assignment_pool(uow)).online_states()
        room = openings(states)
        if not room:
            return False
        kinds = await uow.conversations.waiting_kinds(room, limit=LOOK_ROWS)
    if len(kinds) >= LOOK_ROWS:
        return True
    return any(someone_could_take(q, channel, skills, states) for q, channel, skills in kinds)


async def _drain_locked(ctx: RouterContext, *, reason: str) -> int:
    """Under the assignment lock: the pool, then the waiting conversations that could be
    assigned, page by page in the order the queue serves them (priority, then age), each
    page planned by ``plan_assignments`` from the pool as the pages before left it.

    The same choices as planning over every waiting conversation at once: the plan is
    greedy in that order, a page is the next stretch of it, and a conversation outside
    the pool's openings could not be taken (capacity only shrinks while planning). Pages
    are sized by the free slots (``PAGE_MIN``): not every waiting row ``FOR UPDATE``
    each round, as before. Up to ``SCAN_MAX`` rows per drain (the old round's 500)."""
    now = ctx.clock()
    rank = {priority.value: r for priority, r in PRIORITY_RANK.items()}
    assigned = 0
    async with ctx.uow() as uow:
        await uow.serialise_assignment()
        pool = await assignment_pool(uow)
        emitter = Emitter(uow, ctx, cause=f"drain:{uuid.uuid4()}", now=now)
        seen: list[str] = []
        limit = 0
        while len(seen) < SCAN_MAX:
            states = pool.online_states()
            room = openings(states)
            if not room:
                break
            limit = min(PAGE_MAX, max(PAGE_MIN, 2 * free_slots(states), 2 * limit))
            page = await uow.conversations.waiting_in_turn(
                room, priority_rank=rank, limit=limit, exclude=seen, lock=True
            )
            waiting = {c.id: c for c in page}
            choices = plan_assignments([work_item(c) for c in page], states, sticky=False, now=now)
            for choice in choices:
                await apply_choice(
                    emitter,
                    waiting[choice.conversation_id],
                    pool.agents[choice.agent_id],
                    choice,
                    reason=reason,
                )
            assigned += len(choices)
            if len(page) < limit:
                break
            seen.extend(waiting)
        if assigned:
            await uow.commit()
    return assigned
