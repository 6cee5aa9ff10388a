"""A readable per-conversation timeline from the three topics.

interactions → routing decisions → notifications, with times. Pure: the
reading of topics is in :mod:`tools.demo.topics`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from libs.common.cloudevents import CloudEvent
from libs.common.events import (
    ConversationAssigned,
    ConversationEscalated,
    ConversationQueued,
    ConversationTransferred,
    Interaction,
    InteractionRouted,
    NotificationOutcome,
    RoutingEvent,
    SlaBreached,
    SlaWarning,
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    stage: str  # "interaction", "routing" or "notification"
    event_type: str
    summary: str
    event_id: str


@dataclass(frozen=True)
class ConversationTimeline:
    conversation_id: str
    reference: str
    queue: str
    entries: list[TimelineEntry]

    def types(self) -> list[str]:
        return [entry.event_type for entry in self.entries]


def build_timelines(
    interactions: list[CloudEvent],
    routing: list[CloudEvent],
    notifications: list[CloudEvent],
    *,
    tz: tzinfo = UTC,
) -> list[ConversationTimeline]:
    """Entries per conversation; times inside summaries (SLA due) are shown in ``tz``."""
    by_id = {event.id: event for event in interactions}
    routing_by_id = {event.id: event for event in routing}
    entries: dict[str, list[TimelineEntry]] = defaultdict(list)
    last_snapshot: dict[str, RoutingEvent] = {}
    for event in routing:
        data = event.data
        assert isinstance(data, RoutingEvent)
        conv = data.conversation.conversation_id
        last_snapshot[conv] = data
        if isinstance(data, InteractionRouted) and data.interaction_id in by_id:
            entries[conv].append(_interaction_entry(by_id[data.interaction_id]))
        entries[conv].append(
            TimelineEntry(
                data.occurred_at, "routing", event.type, _routing_summary(data, tz), event.id
            )
        )
    for event in notifications:
        data = event.data
        assert isinstance(data, NotificationOutcome)
        entries[data.conversation_id].append(
            TimelineEntry(
                data.occurred_at,
                "notification",
                f"notification.{data.status}",
                _notification_summary(data, routing_by_id),
                event.id,
            )
        )
    timelines = []
    for conv, items in entries.items():
        snapshot = last_snapshot.get(conv)
        reference = snapshot.conversation.reference if snapshot else conv
        queue = snapshot.conversation.queue if snapshot else "?"
        order = {"interaction": 0, "routing": 1, "notification": 2}
        items.sort(key=lambda e: (e.at, order[e.stage]))
        timelines.append(ConversationTimeline(conv, reference, queue, items))
    timelines.sort(key=lambda t: t.entries[0].at if t.entries else datetime.max)
    return timelines


def _interaction_entry(event: CloudEvent) -> TimelineEntry:
    data = event.data
    assert isinstance(data, Interaction)
    who = data.customer.display_name or data.customer_key
    text = (data.subject or data.body.text or "").replace("\n", " ")[:60]
    summary = f"{data.channel}/{data.provider} {data.direction} {data.kind} from {who}"
    if text:
        summary += f": {text}"
    return TimelineEntry(data.received_at, "interaction", event.type, summary, event.id)


def _routing_summary(data: RoutingEvent, tz: tzinfo) -> str:
    conv = data.conversation
    base = f"{conv.reference} [{conv.queue}/{conv.priority}]"
    if isinstance(data, ConversationAssigned):
        return f"{base} assigned to {data.agent.name or data.agent.agent_id}"
    if isinstance(data, ConversationTransferred):
        to_agent = data.to_agent.agent_id if data.to_agent else "queue"
        return f"{base} {data.from_queue}→{data.to_queue}, to {to_agent}"
    if isinstance(data, ConversationEscalated):
        moves = f"{data.from_queue}→{data.to_queue}, {data.from_priority}→{data.to_priority}"
        return f"{base} escalated step {data.step}: {moves}"
    if isinstance(data, SlaWarning | SlaBreached):
        due = data.due_at.astimezone(tz)
        return (
            f"{base} {data.metric} due {due:%H:%M:%S} {zone_label(tz)} ({data.target_minutes} min)"
        )
    if isinstance(data, ConversationQueued):
        return f"{base} waiting in {data.queue}"
    if isinstance(data, InteractionRouted):
        state = "opened" if data.opened_conversation else "joined"
        return f"{base} {state}" + (f" ({data.ignored_reason})" if data.ignored_reason else "")
    return base + (f": {data.reason}" if data.reason else "")


def _notification_summary(data: NotificationOutcome, routing: dict[str, CloudEvent]) -> str:
    cause = routing.get(data.routing_event_id)
    why = cause.type if cause else data.routing_event_type
    text = f"{data.channel} {data.template} → {data.recipient} ({why})"
    return text + (f": {data.reason}" if data.reason else "")


def zone_label(tz: tzinfo) -> str:
    """``Asia/Seoul (UTC+09:00)``: the zone a reader should read the times in."""
    name = getattr(tz, "key", None) or str(tz)
    offset = datetime.now(tz).strftime("%z")
    return name if offset in ("", "+0000") else f"{name} (UTC{offset[:3]}:{offset[3:]})"


def render(timelines: list[ConversationTimeline], *, tz: tzinfo = UTC) -> str:
    lines: list[str] = [f"\nTimes in {zone_label(tz)}."]
    for timeline in timelines:
        lines.append(
            f"\n== {timeline.reference}  (queue {timeline.queue}, {timeline.conversation_id})"
        )
        for entry in timeline.entries:
            at = entry.at.astimezone(tz)
            lines.append(
                f"  {at:%H:%M:%S}  {entry.stage:<12} {entry.event_type:<34} {entry.summary}"
            )
    return "\n".join(lines)
