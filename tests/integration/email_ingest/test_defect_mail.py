"""The issue #17 defect fixtures through a real mailbox and broker: each one an event."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from libs.common.cloudevents import decode
from tests.integration.email_ingest.helpers import (
    count_at_least,
    mailbox_config,
    reader,
    running_service,
    service_settings,
)

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parents[2] / "unit" / "email_ingest" / "fixtures" / "defects"


async def test_every_defect_fixture_is_published_and_oddities_are_logged(
    dovecot, imap_user, kafka_topics, tmp_path, caplog
):
    mails = sorted(FIXTURES.glob("*.eml"))
    settings = service_settings(kafka_topics, tmp_path, [mailbox_config(dovecot, imap_user)])
    with caplog.at_level(logging.WARNING, logger="services.email_ingest"):
        async with (
            reader(kafka_topics, kafka_topics.topics.interactions) as topic,
            running_service(settings),
        ):
            for path in mails:
                await dovecot.append(imap_user, path.read_bytes())
            records = await topic.until(count_at_least(len(mails)))
    events = [decode(list(r.headers), r.value).data for r in records]
    assert all(event.subject for event in events)
    assert "Account locked" in {event.subject for event in events}  # headers after a banner
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        f"{imap_user}/INBOX/" in message and "encoded word in the local part" in message
        for message in warnings
    )
