"""Outcomes about no reply: the notifier marks them, the router's outcome consumer
commits them undecoded — and they are exactly ones ``apply_outcomes`` would drop."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiokafka.structs import ConsumerRecord

from libs.common.cloudevents import encode
from libs.common.events.notification import (
    NotificationOutcome,
    NotificationStatus,
    SingleUsePart,
    about_a_reply,
)
from libs.common.kafka.producer import EventProducer
from libs.common.settings import KafkaSettings
from services.notifier.handler import KafkaOutcomePublisher
from services.router.consumer import build_outcome_consumer
from services.router.service.replies import apply_outcomes
from tools.testing.samples import notification

AT = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def _outcome(status: NotificationStatus, **extra: object) -> NotificationOutcome:
    """The sample outcome with ``status`` and ``extra`` (a reply id, a single-use part)."""
    return notification().model_copy(update={"status": status, **extra})


SINGLE_USE = SingleUsePart(part="reply_token", expires_at=AT)
CASES = [
    *[(_outcome(status), False) for status in NotificationStatus],
    *[(_outcome(status, reply_id="reply-1"), True) for status in NotificationStatus],
    *[(_outcome(status, single_use=SINGLE_USE), True) for status in NotificationStatus],
]


def _record(outcome: NotificationOutcome) -> ConsumerRecord:
    publisher = KafkaOutcomePublisher(None, topic="t", source="notifier")  # type: ignore[arg-type]
    headers, value = encode(publisher._event(outcome))
    return ConsumerRecord(
        topic="support.notifications.v1",
        partition=0,
        offset=0,
        timestamp=0,
        timestamp_type=0,
        key=b"conv-1",
        value=value,
        checksum=None,
        serialized_key_size=6,
        serialized_value_size=len(value),
        headers=headers,
    )


@pytest.mark.parametrize(("outcome", "about"), CASES)
def test_the_router_skips_only_what_the_notifier_marked_as_about_no_reply(
    outcome: NotificationOutcome, about: bool
) -> None:
    kafka = KafkaSettings()
    runner = build_outcome_consumer(
        kafka,
        object(),  # type: ignore[arg-type]  # the handlers keep it; nothing is applied here
        EventProducer(kafka, client_id="router"),
        group_id="outcomes",
    )
    assert about_a_reply(outcome) is about
    assert runner._is_ignored(_record(outcome)) is not about


class _NoStore:
    """A context whose store must not be opened: the outcome changes nothing."""

    def uow(self) -> None:
        raise AssertionError("apply_outcomes opened a transaction for a skipped outcome")


@pytest.mark.parametrize(
    "outcome", [outcome for outcome, about in CASES if not about], ids=lambda o: o.status
)
async def test_what_is_skipped_is_what_apply_outcomes_drops(outcome: NotificationOutcome) -> None:
    assert await apply_outcomes(_NoStore(), [("ce-1", outcome)]) == 0  # type: ignore[arg-type]
