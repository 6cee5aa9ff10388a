"""The escalation ladder: what happens at an SLA warning and at a breach."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from libs.common.events.routing import Priority, SlaMetric

PRIORITY_LADDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)


class TimerKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


class EscalationStep(BaseModel):
    """One rung, configured per policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: TimerKind
    metrics: list[SlaMetric] = Field(default_factory=list, description="Empty: every metric.")
    notify_assignee: bool = False
    raise_priority: bool = False
    notify_supervisor: bool = False
    move_to_queue: str | None = None
    reassign: bool = False


DEFAULT_LADDER: tuple[EscalationStep, ...] = (
    EscalationStep(at=TimerKind.WARNING, notify_assignee=True),
    EscalationStep(at=TimerKind.BREACH, raise_priority=True, notify_supervisor=True),
)


@dataclass(frozen=True)
class ConversationPosition:
    queue: str
    priority: Priority
    assignee_id: str | None


@dataclass(frozen=True)
class EscalationOutcome:
    step: int  # index of the rung in the ladder
    kind: TimerKind
    metric: SlaMetric
    from_queue: str
    to_queue: str
    from_priority: Priority
    to_priority: Priority
    notify_assignee: bool
    notify_supervisor: bool
    unassign: bool
    reason: str

    @property
    def changes_routing(self) -> bool:
        return (
            self.to_queue != self.from_queue
            or self.to_priority != self.from_priority
            or self.unassign
            or self.notify_supervisor
        )


def raise_priority(priority: Priority) -> Priority:
    index = PRIORITY_LADDER.index(priority)
    return PRIORITY_LADDER[min(index + 1, len(PRIORITY_LADDER) - 1)]


def escalate(
    ladder: tuple[EscalationStep, ...] | list[EscalationStep],
    kind: TimerKind,
    metric: SlaMetric,
    position: ConversationPosition,
) -> list[EscalationOutcome]:
    """The rungs that apply to this timer, applied one after another."""
    outcomes = []
    queue, priority = position.queue, position.priority
    assignee = position.assignee_id
    for index, step in enumerate(ladder):
        if step.at is not kind or (step.metrics and metric not in step.metrics):
            continue
        to_priority = raise_priority(priority) if step.raise_priority else priority
        to_queue = step.move_to_queue or queue
        unassign = bool(assignee) and (step.reassign or to_queue != queue)
        outcomes.append(
            EscalationOutcome(
                step=index,
                kind=kind,
                metric=metric,
                from_queue=queue,
                to_queue=to_queue,
                from_priority=priority,
                to_priority=to_priority,
                notify_assignee=step.notify_assignee and assignee is not None,
                notify_supervisor=step.notify_supervisor,
                unassign=unassign,
                reason=_reason(kind, metric, step, to_priority, to_queue),
            )
        )
        queue, priority = to_queue, to_priority
        assignee = None if unassign else assignee
    return outcomes


def _reason(
    kind: TimerKind, metric: SlaMetric, step: EscalationStep, priority: Priority, queue: str
) -> str:
    actions = []
    if step.notify_assignee:
        actions.append("notify assignee")
    if step.raise_priority:
        actions.append(f"priority -> {priority}")
    if step.notify_supervisor:
        actions.append("notify supervisor")
    if step.move_to_queue:
        actions.append(f"move to queue {queue}")
    if step.reassign:
        actions.append("reassign")
    return f"{metric} SLA {kind}: {', '.join(actions) or 'record only'}"
