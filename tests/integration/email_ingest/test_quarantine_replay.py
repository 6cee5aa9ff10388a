"""issue #18 item 5: a mail quarantined by the service is replayed with the
current normaliser/settings through `omnidesk email quarantine replay`: it is
published exactly once; replaying again publishes nothing and says so."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from libs.common.cloudevents import decode
from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail
from tests.integration.email_ingest.helpers import (
    count_at_least,
    mailbox_config,
    make_mail,
    reader,
    running_service,
    service_settings,
)
from tests.integration.privacy.helpers import cli_env, omnidesk, write_artifact

pytestmark = pytest.mark.integration

BODY = "제 출금이 3일째 보류 중입니다. 확인 부탁드립니다.\n" * 10


async def test_a_quarantined_mail_is_replayed_once_after_the_fix(
    dovecot, imap_user, kafka_topics, tmp_path
):
    mailbox = mailbox_config(dovecot, imap_user, mailbox_id="kr-desk")
    raw = make_mail(7, sender="minji@example.kr", subject="출금 보류", body=BODY,
                    message_id="withdrawal-7")  # fmt: skip
    # The limit of the moment quarantines it (the "normaliser bug" a setting fixes).
    strict = service_settings(kafka_topics, tmp_path, [mailbox], max_message_bytes=300)
    async with (
        reader(kafka_topics, kafka_topics.topics.deadletter) as deadletters,
        running_service(strict),
    ):
        await dovecot.append(imap_user, raw)
        (letter,) = await deadletters.until(count_at_least(1))
    assert dict(letter.headers)["dlq_error_type"] == b"oversize"

    env = cli_env(kafka_topics, state_dir=tmp_path, mailboxes=[mailbox])
    listed = await omnidesk("email", "quarantine", "list", env=env)
    assert listed.code == 0, listed.output
    assert "kr-desk/INBOX/1" in listed.output and "oversize" in listed.output
    assert f"{len(raw)} bytes" in listed.output

    shown = await omnidesk("email", "quarantine", "show", "1", env=env)
    assert shown.code == 0, shown.output
    assert "reason:   oversize" in shown.output and "Subject: 출금 보류" in shown.output
    assert "From: Customer 7 <minji@example.kr>" in shown.output
    assert "출금이 3일째" not in shown.output  # no body without --raw

    # The id the watcher would have given it: mailbox + Message-ID.
    normal = normalise_mail(raw, MailContext("kr-desk"), received_at=datetime.now(UTC))
    assert isinstance(normal, NormalisedMail)
    expected_id = normal.event_id
    async with reader(kafka_topics, kafka_topics.topics.interactions) as interactions:
        first = await omnidesk("email", "quarantine", "replay", "1", env=env)
        assert first.code == 0, first.output
        assert first.output.startswith("published:") and expected_id in first.output
        (record,) = await interactions.until(count_at_least(1))
        event = decode(list(record.headers), record.value)
        assert event.id == expected_id
        assert event.data.customer.email == "minji@example.kr"
        assert "출금이 3일째" in event.data.body.text

        again = await omnidesk("email", "quarantine", "replay", "1", env=env)
        assert again.code == 0, again.output
        assert again.output.startswith("already_published:") and "nothing sent" in again.output
        assert len(await interactions.settle(2.0)) == 1

        # The service, now with the fixed setting, does not publish it a third time.
        fixed = service_settings(kafka_topics, tmp_path, [mailbox])
        async with running_service(fixed):
            assert len(await interactions.settle(3.0)) == 1
    after = await omnidesk("email", "quarantine", "list", env=env)
    assert f"replayed as {expected_id}" in after.output
    write_artifact(
        "replay-email.md",
        "Email quarantine replay after the fix (oversize limit raised)",
        [
            ("omnidesk email quarantine replay 1", first.output),
            ("omnidesk email quarantine replay 1 (again)", again.output),
            ("interactions on the topic, also after the fixed service ran", "1"),
            ("omnidesk email quarantine list (after)", after.output),
        ],
    )


async def test_a_mail_still_unreadable_is_not_published_and_unknown_ids_are_errors(
    dovecot, imap_user, kafka_topics, tmp_path
):
    mailbox = mailbox_config(dovecot, imap_user)
    strict = service_settings(kafka_topics, tmp_path, [mailbox], max_message_bytes=300)
    async with (
        reader(kafka_topics, kafka_topics.topics.deadletter) as deadletters,
        running_service(strict),
    ):
        await dovecot.append(imap_user, make_mail(8, body="x" * 2000))
        await deadletters.until(count_at_least(1))
    env = cli_env(kafka_topics, state_dir=tmp_path, mailboxes=[mailbox],
                  EMAIL_INGEST_MAX_MESSAGE_BYTES="300")  # fmt: skip
    async with reader(kafka_topics, kafka_topics.topics.interactions) as interactions:
        still = await omnidesk("email", "quarantine", "replay", "1", env=env)
        assert still.code == 2 and still.output.startswith("still_quarantined: oversize")
        assert await interactions.settle(1.0) == []
    missing = await omnidesk("email", "quarantine", "replay", "99", env=env)
    assert missing.code == 1 and "no quarantined mail with id 99" in missing.output
