from libs.common.events.routing import Priority, SlaMetric
from services.router.domain.escalation import (
    DEFAULT_LADDER,
    ConversationPosition,
    EscalationStep,
    TimerKind,
    escalate,
    raise_priority,
)

LADDER = (
    EscalationStep(at=TimerKind.WARNING, notify_assignee=True),
    EscalationStep(at=TimerKind.BREACH, raise_priority=True, notify_supervisor=True),
    EscalationStep(
        at=TimerKind.BREACH,
        metrics=[SlaMetric.FIRST_RESPONSE],
        move_to_queue="escalations",
        reassign=True,
    ),
)
POSITION = ConversationPosition("general", Priority.NORMAL, "agent-1")


def test_raise_priority_caps_at_urgent():
    assert raise_priority(Priority.LOW) is Priority.NORMAL
    assert raise_priority(Priority.URGENT) is Priority.URGENT


def test_warning_notifies_the_assignee_only():
    (outcome,) = escalate(LADDER, TimerKind.WARNING, SlaMetric.FIRST_RESPONSE, POSITION)
    assert outcome.notify_assignee and not outcome.changes_routing
    assert outcome.reason == "first_response SLA warning: notify assignee"


def test_breach_climbs_every_rung_in_order():
    first, second = escalate(LADDER, TimerKind.BREACH, SlaMetric.FIRST_RESPONSE, POSITION)
    assert (first.step, first.to_priority, first.notify_supervisor) == (1, Priority.HIGH, True)
    assert (second.from_priority, second.to_queue, second.unassign) == (
        Priority.HIGH,
        "escalations",
        True,
    )


def test_metric_filter_skips_rungs():
    outcomes = escalate(LADDER, TimerKind.BREACH, SlaMetric.RESOLUTION, POSITION)
    assert [o.step for o in outcomes] == [1]


def test_unassigned_conversation_is_not_unassigned_again():
    position = ConversationPosition("general", Priority.HIGH, None)
    outcomes = escalate(LADDER, TimerKind.BREACH, SlaMetric.FIRST_RESPONSE, position)
    assert not any(o.unassign for o in outcomes) and not outcomes[0].notify_assignee


def test_default_ladder_warns_then_raises():
    kinds = [s.at for s in DEFAULT_LADDER]
    assert kinds == [TimerKind.WARNING, TimerKind.BREACH]
