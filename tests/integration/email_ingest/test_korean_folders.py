"""Issue #17 item 11: non-ASCII folder names (modified UTF-7 on the wire) on Dovecot."""

from __future__ import annotations

import logging

import pytest

from libs.common.cloudevents import decode
from services.email_ingest.imap.folders import encode_folder
from tests.helpers.waiting import eventually
from tests.integration.email_ingest.helpers import (
    count_at_least,
    mailbox_config,
    make_mail,
    reader,
    running_service,
    service_settings,
)

pytestmark = pytest.mark.integration

INBOX_KO = "받은편지함"
REFUNDS = "고객문의/환불"
DONE = "처리완료/환불"


async def test_korean_watch_list_and_move_target(
    dovecot, imap_user, kafka_topics, tmp_path, caplog
):
    for folder in ("고객문의", INBOX_KO, REFUNDS):
        dovecot.create_folder(imap_user, folder)
    mailbox = mailbox_config(
        dovecot, imap_user, folders=[INBOX_KO, REFUNDS], post_action="move", move_to=DONE
    )
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    with caplog.at_level(logging.INFO, logger="services.email_ingest"):
        async with (
            reader(kafka_topics, kafka_topics.topics.interactions) as topic,
            running_service(settings),
        ):
            await dovecot.append(imap_user, make_mail(1, subject="입금 문의"), INBOX_KO)
            await dovecot.append(imap_user, make_mail(2, subject="환불 요청"), REFUNDS)
            records = await topic.until(count_at_least(2))
            await eventually(lambda: dovecot.message_count(imap_user, DONE) == 2)
    subjects = sorted(decode(list(r.headers), r.value).data.subject for r in records)
    assert subjects == ["입금 문의", "환불 요청"]
    assert dovecot.message_count(imap_user, INBOX_KO) == 0
    assert dovecot.message_count(imap_user, REFUNDS) == 0
    # logs name the folders as people read them, not as the wire spells them
    messages = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{imap_user}/{REFUNDS}: watching" in messages
    assert encode_folder(REFUNDS) not in messages


async def test_korean_quarantine_folder_is_created(dovecot, imap_user, kafka_topics, tmp_path):
    mailbox = mailbox_config(dovecot, imap_user, quarantine_folder="격리함")
    settings = service_settings(kafka_topics, tmp_path, [mailbox])
    async with running_service(settings):
        await dovecot.append(imap_user, b"\r\n\r\n")  # empty: quarantined
        await eventually(lambda: _count_or_zero(dovecot, imap_user, "격리함") == 1)


def _count_or_zero(dovecot, user: str, folder: str) -> int:  # type: ignore[no-untyped-def]
    try:
        return dovecot.message_count(user, folder)
    except Exception:  # not created yet
        return 0
