"""SLA clocks of a conversation: durable timer rows started, paused and stopped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from libs.common.enum_members import values_of
from libs.common.events.routing import SlaMetric
from services.router.domain.escalation import TimerKind
from services.router.domain.lifecycle import TRANSITIONS, ConversationStatus, next_status
from services.router.domain.members import (
    AGENT_RESPONSE,
    CUSTOMER_MESSAGE,
    FIRST_RESPONSE,
    NEXT_RESPONSE,
    RESOLUTION,
    RESOLVED,
    status_of,
)
from services.router.domain.policies import PolicyConfig
from services.router.domain.sla import (
    BusinessCalendar,
    ClockDue,
    business_minutes_between,
    clock_due,
    clock_dues,
)
from services.router.service.columns import columns
from services.router.service.context import RouterContext
from services.router.store.models import Conversation
from services.router.store.unit_of_work import UnitOfWork, set_values, unflushed_values

RESPONSE_METRICS = (SlaMetric.FIRST_RESPONSE.value, SlaMetric.NEXT_RESPONSE.value)
#: the timer kinds' stored values, read once (an enum's ``.value`` is a Python property)
_WARNING, _BREACH = TimerKind.WARNING.value, TimerKind.BREACH.value
#: each metric's breach timer row, the keys in the table's order, those a clock sets
#: None (``_add_timers`` copies it)
_BREACH_ROWS: dict[SlaMetric, dict[str, object]] = {
    metric: {
        "conversation_id": None,
        "metric": value,
        "kind": _BREACH,
        "cycle": None,
        "target_minutes": None,
        "clock_started_at": None,
        "breach_at": None,
        "due_at": None,
        "fired_at": None,
        "cancelled_at": None,
    }
    for metric, value in values_of(SlaMetric).items()
}


def policy_for(
    ctx: RouterContext, conversation: Conversation
) -> tuple[PolicyConfig, BusinessCalendar]:
    return policy_of(ctx, columns(conversation))


def policy_of(
    ctx: RouterContext, values: Mapping[str, Any]
) -> tuple[PolicyConfig, BusinessCalendar]:
    """``policy_for`` from a conversation's ``columns`` the caller has at hand."""
    return ctx.config.current.policies.policy_and_calendar(
        values["queue"], values["priority"], values["channel"]
    )


def start_clock(
    uow: UnitOfWork,
    ctx: RouterContext,
    conversation: Conversation,
    metric: SlaMetric,
    *,
    started_at: datetime,
    elapsed_minutes: float = 0.0,
    policy: tuple[PolicyConfig, BusinessCalendar] | None = None,
) -> datetime | None:
    """Add the warning and breach timers of a (re)started clock; returns the breach time.
    ``policy``: the conversation's ``policy_for``, when the caller has it already."""
    values = columns(conversation)
    if values["automated"]:
        return None
    config, calendar = policy_for(ctx, conversation) if policy is None else policy
    due = clock_due(
        calendar, config.sla_targets, metric, started_at=started_at, elapsed_minutes=elapsed_minutes
    )
    if due is None:
        conversation.policy = config.name
        return None
    changes: dict[str, object] = {"policy": config.name}
    _add_timers(uow, values["id"], (due,), values["clock_cycle"] or 0, started_at, changes)
    # a conversation routing just opened: set in place (set_values)
    set_values(conversation, changes)
    return due.breach_at


def _add_timers(
    uow: UnitOfWork,
    conversation_id: object,
    dues: Iterable[ClockDue | None],
    cycle: int,
    started_at: datetime,
    changes: dict[str, object],
) -> None:
    """The warning and breach timer rows of each started clock of ``dues`` (None: a
    clock not started), numbered on from ``cycle``, queued in one
    ``UnitOfWork.insert_timers_later`` (a new conversation's four rows: one call, not
    one a clock), and what they change on the conversation put in ``changes`` (its
    ``clock_cycle``, a first response's due time). A warning is a copy of its breach's
    row with its kind and due time (the same keys in the same order), as a breach is a
    copy of its metric's row in ``_BREACH_ROWS``. ``tests/unit/router/test_clock_starts.py``
    holds it equal to a reference that queues them clock by clock and row by row."""
    rows = []
    for due in dues:
        if due is None:
            continue
        cycle += 1
        changes["clock_cycle"] = cycle
        breach_at = due.breach_at
        if due.metric is FIRST_RESPONSE:
            changes["first_response_due_at"] = breach_at
        # a copy of the metric's breach row, its other values set: a dict display of
        # ten keys costs twice a copy and six sets (callgrind)
        breach = _BREACH_ROWS[due.metric].copy()
        breach["conversation_id"] = conversation_id
        breach["cycle"] = cycle
        breach["target_minutes"] = due.target_minutes
        breach["clock_started_at"] = started_at
        breach["breach_at"] = breach_at
        breach["due_at"] = breach_at
        warning_at = due.warning_at
        if warning_at is not None:
            warning = breach.copy()  # the same keys in the same order
            warning["kind"] = _WARNING
            warning["due_at"] = warning_at
            rows.append(warning)
        rows.append(breach)
    if rows:
        uow.insert_timers_later(conversation_id, tuple(rows))


def start_resolution_clock(
    uow: UnitOfWork,
    ctx: RouterContext,
    conversation: Conversation,
    at: datetime,
    *,
    policy: tuple[PolicyConfig, BusinessCalendar] | None = None,
) -> None:
    values = columns(conversation)
    if values["automated"] or values["resolution_running_since"] is not None:
        return
    set_values(conversation, {"resolution_running_since": at})  # in place on a new one
    start_clock(
        uow,
        ctx,
        conversation,
        RESOLUTION,
        started_at=at,
        elapsed_minutes=values["resolution_elapsed_minutes"] or 0.0,
        policy=policy,
    )


def pause_resolution_clock(
    uow: UnitOfWork, ctx: RouterContext, conversation: Conversation, at: datetime
) -> None:
    running_since = conversation.resolution_running_since
    if running_since is None:
        return
    _, calendar = policy_for(ctx, conversation)
    conversation.resolution_elapsed_minutes = (
        conversation.resolution_elapsed_minutes or 0.0
    ) + business_minutes_between(calendar, running_since, at)
    conversation.resolution_running_since = None
    # timers started earlier in this transaction are cancelled too (in memory)
    uow.cancel_timers_later(conversation.id, metrics=[RESOLUTION.value], at=at)


def on_customer_message(
    uow: UnitOfWork, ctx: RouterContext, conversation: Conversation, at: datetime
) -> None:
    """A customer wrote (or called): the response clock runs until we answer.

    What ``on_customer_message_by_steps`` does (the status, then ``start_resolution_clock``,
    then the response clock), with the clocks that start here worked out together: one
    policy look-up, their due instants in one ``clock_dues`` and the conversation's
    changes set at once (in place on one routing just opened). A new conversation starts
    both (``tests/unit/router/test_clock_starts.py`` holds them equal). The status from
    ``_AFTER_CUSTOMER_MESSAGE`` (``next_status`` for the statuses a message leaves
    open; a resolved one goes through it, for its error), the clocks as a tuple made at
    once and the policy looked up here, not by ``policy_for`` (which reads the columns
    again): four Python calls less a new conversation."""
    values = columns(conversation)  # a live view
    current = values["status"]
    status = _AFTER_CUSTOMER_MESSAGE.get(current)
    if status is None:
        status = next_status(status_of(current), CUSTOMER_MESSAGE)  # raises for resolved
    # a conversation routing just opened has its values set in place, as set_values
    # would (its INSERT writes them): written straight into them here, not gathered in a
    # dict and merged at the end (each value is read, below, before it is written)
    unflushed = unflushed_values(conversation)
    changes: dict[str, object] = {} if unflushed is None else unflushed
    # a loaded conversation already open is not set open again (a returning customer's
    # message: an ORM set is ~5 K instructions of tracking, and the UPDATE skips an equal
    # value anyway); one routing just opened is set in place, as before
    if status != current or unflushed is not None:
        changes["status"] = status
    automated = values["automated"]
    resolution = not automated and values["resolution_running_since"] is None
    if resolution:
        changes["resolution_running_since"] = at
    awaiting = values["awaiting_since"] is None
    if awaiting:
        # already waiting for an answer otherwise: the running clock keeps its start
        changes["awaiting_since"] = at
    if automated or not (resolution or awaiting):
        if changes and unflushed is None:
            set_values(conversation, changes)
        return
    response = (FIRST_RESPONSE if values["first_response_at"] is None else NEXT_RESPONSE, 0.0)
    if resolution:
        elapsed = (RESOLUTION, values["resolution_elapsed_minutes"] or 0.0)
        clocks = (elapsed, response) if awaiting else (elapsed,)
    else:
        clocks = (response,)
    config, calendar = ctx.config.current.policies.policy_and_calendar(
        values["queue"], values["priority"], values["channel"]
    )  # policy_for's, from the values read here
    dues = clock_dues(calendar, config.sla_targets, clocks, started_at=at)
    changes["policy"] = config.name
    _add_timers(uow, values["id"], dues, values["clock_cycle"] or 0, at, changes)
    if unflushed is None:
        set_values(conversation, changes)


#: the status a customer's message leaves a conversation in, by its stored status
#: (``next_status``'s transitions; a status missing here goes through it)
_AFTER_CUSTOMER_MESSAGE: dict[str, ConversationStatus] = {
    current.value: after
    for (current, trigger), after in TRANSITIONS.items()
    if trigger is CUSTOMER_MESSAGE
}


def on_customer_message_by_steps(
    uow: UnitOfWork, ctx: RouterContext, conversation: Conversation, at: datetime
) -> None:
    """``on_customer_message`` one clock at a time (``start_resolution_clock``, then
    ``start_clock``): the general path its combined one is held equal to in tests."""
    values = columns(conversation)  # a live view: it reads what is set below
    current = values["status"]
    status = next_status(status_of(current), CUSTOMER_MESSAGE)
    if status != current or unflushed_values(conversation) is not None:
        set_values(conversation, {"status": status})
    starts = values["resolution_running_since"] is None or values["awaiting_since"] is None
    policy = policy_for(ctx, conversation) if starts and not values["automated"] else None
    start_resolution_clock(uow, ctx, conversation, at, policy=policy)
    if values["awaiting_since"] is not None:
        return
    set_values(conversation, {"awaiting_since": at})
    metric = FIRST_RESPONSE if values["first_response_at"] is None else NEXT_RESPONSE
    start_clock(uow, ctx, conversation, metric, started_at=at, policy=policy)


def on_agent_response(
    uow: UnitOfWork, ctx: RouterContext, conversation: Conversation, at: datetime
) -> None:
    """We answered: response clocks stop, the resolution clock pauses."""
    if conversation.status == RESOLVED:
        return
    if conversation.first_response_at is None:
        conversation.first_response_at = at
    conversation.awaiting_since = None
    # timers started earlier in this transaction are cancelled too (in memory)
    uow.cancel_timers_later(conversation.id, metrics=RESPONSE_METRICS, at=at)
    conversation.status = next_status(status_of(conversation.status), AGENT_RESPONSE)
    pause_resolution_clock(uow, ctx, conversation, at)


async def on_reply_accepted(
    uow: UnitOfWork,
    ctx: RouterContext,
    conversation: Conversation,
    at: datetime,
    *,
    requested_at: datetime,
) -> None:
    """A person's reply was accepted by the provider or relay at ``at``: the customer is answered.

    A customer message that came in after the agent wrote the reply is not answered
    by it: its clock keeps running (the first response is still recorded).
    """
    if conversation.awaiting_since is not None and conversation.awaiting_since > requested_at:
        if conversation.first_response_at is None:
            conversation.first_response_at = at
        return
    on_agent_response(uow, ctx, conversation, at)


def stop_all_clocks(
    uow: UnitOfWork, ctx: RouterContext, conversation: Conversation, at: datetime
) -> None:
    pause_resolution_clock(uow, ctx, conversation, at)
    conversation.awaiting_since = None
    # timers started earlier in this transaction are cancelled too (in memory)
    uow.cancel_timers_later(conversation.id, metrics=[m.value for m in SlaMetric], at=at)
