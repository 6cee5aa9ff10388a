"""APPENDed mail on a real Dovecot becomes events on a real Kafka, once each."""

from __future__ import annotations

import pytest

from libs.common.blobstore import BlobStore
from libs.common.cloudevents import decode
from libs.common.events import DeadLetter, Interaction
from libs.common.ids import deterministic_id
from libs.common.kafka.admin import create_topics
from services.email_ingest import metrics
from tests.helpers.waiting import eventually
from tests.integration.email_ingest.helpers import (
    count_at_least,
    event_ids,
    mailbox_config,
    make_mail,
    reader,
    running_service,
    service_settings,
)

pytestmark = pytest.mark.integration


async def test_appended_mail_is_published_then_flagged(dovecot, imap_user, kafka_topics, tmp_path):
    mailbox = mailbox_config(dovecot, imap_user, post_action="flag", flag="\\Seen")
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    korean = make_mail(2, subject="출금 문의", body="출금이 아직 안 됐어요.\n", charset="euc-kr")
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await dovecot.append(imap_user, korean)
        records = await topic.until(count_at_least(2))
    events = [decode(list(r.headers), r.value) for r in records]
    assert [e.id for e in events] == [
        deterministic_id("email", imap_user, "mail-1@customer.example"),
        deterministic_id("email", imap_user, "mail-2@customer.example"),
    ]
    first, second = (e.data for e in events)
    assert isinstance(first, Interaction) and isinstance(second, Interaction)
    assert first.integration == imap_user
    assert first.customer.email == "customer@example.com"
    assert records[0].key == b"customer@example.com"
    assert events[0].source == f"omnidesk/email_ingest/{imap_user}"
    assert second.subject == "출금 문의"
    assert second.body.text == "출금이 아직 안 됐어요."
    assert BlobStore(tmp_path / "blobs").exists(second.raw_ref)
    assert all("\\Seen" in flags for flags in dovecot.flags(imap_user))


async def test_implicit_tls_and_starttls(dovecot, imap_user, kafka_topics, tmp_path):
    implicit = mailbox_config(
        dovecot, imap_user, mailbox_id="tls-implicit", tls="implicit",
        port=dovecot.imaps_port, ca_file=str(dovecot.cert_file),
    )  # fmt: skip
    starttls = mailbox_config(
        dovecot, imap_user, mailbox_id="tls-starttls", tls="starttls",
        port=dovecot.imap_port, ca_file=str(dovecot.cert_file),
    )  # fmt: skip
    settings = service_settings(kafka_topics, tmp_path, [implicit, starttls])
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        records = await topic.until(count_at_least(2))
    sources = sorted(decode(list(r.headers), r.value).source for r in records)
    assert sources == ["omnidesk/email_ingest/tls-implicit", "omnidesk/email_ingest/tls-starttls"]


async def test_dropped_connection_reconnects(dovecot, imap_user, kafka_topics, tmp_path):
    settings = service_settings(kafka_topics, tmp_path, [mailbox_config(dovecot, imap_user)])
    failures = metrics.CONNECTION_FAILURES.labels(imap_user, "INBOX")
    before = failures._value.get()
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await topic.until(count_at_least(1))
        assert dovecot.kick(imap_user)  # the server says BYE and closes the connection
        await dovecot.append(imap_user, make_mail(2))
        records = await topic.until(count_at_least(2))
    assert failures._value.get() >= before + 1
    assert len(set(event_ids(records))) == 2


async def test_one_failing_mailbox_does_not_stop_the_others(
    dovecot, imap_user, kafka_topics, tmp_path
):
    broken = mailbox_config(dovecot, imap_user, mailbox_id="broken", password="wrong")
    refused = mailbox_config(dovecot, imap_user, mailbox_id="refused", port=1)
    good = mailbox_config(dovecot, imap_user, mailbox_id="good")
    settings = service_settings(kafka_topics, tmp_path, [broken, refused, good])
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        records = await topic.until(count_at_least(1))
        await topic.settle(1.0)
    assert [decode(list(r.headers), r.value).data.integration for r in records] == ["good"]


async def test_uidvalidity_change_resyncs_without_republishing(
    dovecot, imap_user, kafka_topics, tmp_path
):
    dovecot.create_folder(imap_user, "Support")
    mailbox = mailbox_config(dovecot, imap_user, folders=["Support"])
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    resyncs = metrics.RESYNCS.labels(imap_user, "Support")
    before = resyncs._value.get()
    old_mail = [make_mail(n) for n in range(1, 4)]
    async with reader(kafka_topics, kafka_topics.topics.interactions) as topic:
        async with running_service(settings):
            for raw in old_mail:
                await dovecot.append(imap_user, raw, "Support")
            await topic.until(count_at_least(3))
        # A server migration: same mail, new folder, new UIDVALIDITY, new UIDs.
        dovecot.recreate_folder(imap_user, "Support")
        for raw in [*old_mail, make_mail(4)]:
            await dovecot.append(imap_user, raw, "Support")
        async with running_service(settings):
            records = await topic.until(count_at_least(4))
            await topic.settle(1.5)
    assert resyncs._value.get() == before + 1
    assert len(records) == 4  # the three old mails were not published again
    assert len(set(event_ids(records))) == 4


async def test_post_action_move(dovecot, imap_user, kafka_topics, tmp_path):
    mailbox = mailbox_config(dovecot, imap_user, post_action="move", move_to="Processed")
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await dovecot.append(imap_user, make_mail(2))
        await topic.until(count_at_least(2))
    assert dovecot.message_count(imap_user, "INBOX") == 0
    assert dovecot.message_count(imap_user, "Processed") == 2


async def test_bad_mail_is_quarantined_with_a_dead_letter(
    dovecot, imap_user, kafka_topics, tmp_path
):
    mailbox = mailbox_config(dovecot, imap_user, quarantine_folder="Quarantine")
    settings = service_settings(kafka_topics, tmp_path, [mailbox], max_message_bytes=4_000)
    oversize = make_mail(1, body="x" * 10_000)
    no_sender = b"Subject: who sent this?\r\nMessage-ID: <anon@x>\r\n\r\nbody\r\n"
    async with (
        reader(kafka_topics, kafka_topics.topics.deadletter) as letters,
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, oversize)
        await dovecot.append(imap_user, no_sender)
        await dovecot.append(imap_user, make_mail(3))
        dead = await letters.until(count_at_least(2))
        await topic.until(count_at_least(1))
    reports = [DeadLetter.from_headers(list(r.headers)) for r in dead]
    assert [(d.error_type, d.source) for d in reports] == [
        ("oversize", f"imap:{imap_user}/INBOX/1"),
        ("no_sender", f"imap:{imap_user}/INBOX/2"),
    ]
    blobs = BlobStore(tmp_path / "blobs")
    assert blobs.get(reports[0].blob) == oversize
    assert dead[1].value == no_sender
    assert dovecot.message_count(imap_user, "Quarantine") == 2
    assert dovecot.message_count(imap_user, "INBOX") == 1


async def test_folder_recreated_while_watched_is_resynced(
    dovecot, imap_user, kafka_topics, tmp_path
):
    dovecot.create_folder(imap_user, "Support")
    mailbox = mailbox_config(dovecot, imap_user, folders=["Support"])
    # Dovecot does not tell an IDLE session its folder was replaced: the watcher
    # notices when it re-issues IDLE and checks UIDVALIDITY.
    settings = service_settings(kafka_topics, tmp_path, [mailbox], idle_renew_s=1.0)
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1), "Support")
        await topic.until(count_at_least(1))
        dovecot.recreate_folder(imap_user, "Support")
        await dovecot.append(imap_user, make_mail(1), "Support")  # the same mail again
        await dovecot.append(imap_user, make_mail(2), "Support")
        records = await topic.until(count_at_least(2))
        await topic.settle(1.0)
    assert sorted(event_ids(records)) == sorted(
        deterministic_id("email", imap_user, f"mail-{n}@customer.example") for n in (1, 2)
    )


async def test_polling_fallback_with_post_action_delete(dovecot, imap_user, kafka_topics, tmp_path):
    mailbox = mailbox_config(dovecot, imap_user, post_action="delete")
    settings = service_settings(
        kafka_topics, tmp_path, [mailbox], use_idle=False, poll_interval_s=0.3
    )
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await topic.until(count_at_least(1))
        await dovecot.append(imap_user, make_mail(2))
        records = await topic.until(count_at_least(2))
    assert len(set(event_ids(records))) == 2
    assert dovecot.message_count(imap_user, "INBOX") == 0


async def test_mail_stays_unacknowledged_until_kafka_acks(
    dovecot, imap_user, kafka_settings, tmp_path
):
    # The topics do not exist yet: every publish times out, as with Kafka down.
    kafka = kafka_settings.model_copy(update={"send_timeout_s": 1.0})
    mailbox = mailbox_config(dovecot, imap_user, post_action="flag", flag="$Published")
    settings = service_settings(kafka, tmp_path, [mailbox])
    failures = metrics.CONNECTION_FAILURES.labels(imap_user, "INBOX")
    before = failures._value.get()
    async with running_service(settings):
        await dovecot.append(imap_user, make_mail(1))
        await eventually(lambda: failures._value.get() >= before + 2)
        assert "$Published" not in dovecot.flags(imap_user)[0]
        await create_topics(kafka)
        async with reader(kafka, kafka.topics.interactions) as topic:
            records = await topic.until(count_at_least(1))
    assert event_ids(records) == [deterministic_id("email", imap_user, "mail-1@customer.example")]
    assert "$Published" in dovecot.flags(imap_user)[0]


async def test_xoauth2_login_and_refused_token(dovecot, imap_user, kafka_topics, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("ya29.stale\n")
    mailbox = mailbox_config(
        dovecot, imap_user, auth="xoauth2", password=None, oauth2_token_file=str(token_file)
    )
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    refusals = metrics.CONNECTION_FAILURES.labels(imap_user, "INBOX")
    before = refusals._value.get()
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        await dovecot.append(imap_user, make_mail(1))
        await eventually(lambda: refusals._value.get() >= before + 1)  # stale token refused
        dovecot.add_oauth2_token(imap_user, "ya29.fresh")
        token_file.write_text("ya29.fresh\n")  # a sidecar refreshed it; read at next login
        records = await topic.until(count_at_least(1))
    assert event_ids(records) == [deterministic_id("email", imap_user, "mail-1@customer.example")]


async def test_reused_message_id_does_not_swallow_a_different_mail(
    dovecot, imap_user, kafka_topics, tmp_path
):
    settings = service_settings(kafka_topics, tmp_path, [mailbox_config(dovecot, imap_user)])
    first = make_mail(1, message_id="reused", body="My deposit is missing.\n")
    redelivered = first  # the same mail delivered twice (e.g. To and Cc both us)
    different = make_mail(2, message_id="reused", body="Also my withdrawal is stuck.\n")
    async with (
        reader(kafka_topics, kafka_topics.topics.interactions) as topic,
        running_service(settings),
    ):
        for raw in (first, redelivered, different):
            await dovecot.append(imap_user, raw)
        records = await topic.until(count_at_least(2))
        await topic.settle(1.0)
    texts = [decode(list(r.headers), r.value).data.body.text for r in records]
    assert texts == ["My deposit is missing.", "Also my withdrawal is stuck."]
    assert event_ids(records)[0] == deterministic_id("email", imap_user, "reused@customer.example")
