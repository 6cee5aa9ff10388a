"""Consumer handler: a routing record → (if it is a turn for the assistant) its events.

Thin: decode is the runner's, the decision is ``decide_turn``, the events are
``events_for``; this only wires them, publishes, and counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aiokafka.structs import RecordMetadata

from libs.common.cloudevents import CloudEvent
from libs.common.events.assistant import AssistantTurnRequested
from libs.common.events.base import utc_now
from libs.common.kafka.consumer import Delivery
from services.assistant import metrics
from services.assistant.domain.conversation import AssistantStatus
from services.assistant.domain.decide import (
    Action,
    Decision,
    HandoffReason,
    Policy,
    decide_quiet_timeout,
    decide_turn,
)
from services.assistant.engine import Engine
from services.assistant.turns import events_for, state_of

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: str, event: CloudEvent, *, key: str) -> RecordMetadata: ...


@dataclass(frozen=True)
class HandlerConfig:
    topic: str
    source: str
    policy: Policy
    quiet_timeout: timedelta


class TurnHandler:
    def __init__(
        self,
        config: HandlerConfig,
        *,
        engine: Callable[[], Engine],
        publisher: Publisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._config = config
        self._engine = engine  # the reloader's current engine, read per turn
        self._publisher = publisher
        self._clock = clock

    async def __call__(self, delivery: Delivery) -> None:
        event = delivery.event
        if event is None or not isinstance(event.data, AssistantTurnRequested):
            return  # other routing events are not for the assistant
        await self.handle(event, event.data)

    async def handle(self, cause: CloudEvent, turn: AssistantTurnRequested) -> None:
        engine = self._engine()
        started = time.perf_counter()
        decision = self.decide(turn, engine)
        metrics.DECISION_SECONDS.observe(time.perf_counter() - started)
        if decision is None:
            log.info("turn %s: nothing to do (%s)", turn.turn_id, turn.state.status)
            return
        events = events_for(
            cause,
            turn,
            decision,
            engine,
            now=self._clock(),
            quiet_timeout=self._config.quiet_timeout,
            source=self._config.source,
        )
        for out in events:
            await self._publisher.publish(
                self._config.topic, out, key=turn.conversation.conversation_id
            )
        _count(turn, decision)
        log.info(
            "conversation %s turn %s: %s %s",
            turn.conversation.conversation_id,
            turn.turn_id,
            decision.action.value,
            decision.article_id or decision.handoff_reason or decision.resolution,
            extra={"event_id": cause.id},
        )

    def decide(self, turn: AssistantTurnRequested, engine: Engine) -> Decision | None:
        state = state_of(turn)
        if state.status not in (
            AssistantStatus.OFFERED,
            AssistantStatus.ANSWERED,
            AssistantStatus.AWAITING_FEEDBACK,
        ):
            return None  # already handed off or resolved: a late or repeated turn
        if turn.kind == "quiet_check":
            return decide_quiet_timeout(state)
        return decide_turn(
            turn.text,
            state,
            search=engine.search,
            handoff_articles=engine.handoff_articles,
            policy=self._config.policy,
        )


def _count(turn: AssistantTurnRequested, decision: Decision) -> None:
    if turn.kind == "customer_message" and turn.state.status == "offered":
        metrics.record_offered()
    if decision.article_id and decision.action is not Action.RESOLVE:
        metrics.ANSWERS.labels(decision.article_id).inc()
    if decision.action is Action.HAND_OFF and decision.handoff_reason:
        metrics.HANDOFFS.labels(decision.handoff_reason.value).inc()
        if decision.handoff_reason is HandoffReason.LOW_CONFIDENCE:
            metrics.UNANSWERED.labels(decision.language.value).inc()
    if decision.action is Action.RESOLVE and decision.resolution:
        metrics.record_resolved(decision.resolution.value)
