"""``MailPipeline.handle_batch`` (events of a fetched batch in flight together) gives
what ``handle`` mail by mail gives: outcomes, events in order, dead letters, records."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from libs.common.kafka.producer import PublishError
from services.email_ingest.imap.fetch import FetchedMessage
from services.email_ingest.mailboxes import MailboxConfig
from services.email_ingest.normalise import MailContext
from tests.unit.email_ingest.privacy_helpers import Desk, FakeProducer, customer_mail

MAILBOX = MailboxConfig(id="kr", host="127.0.0.1", username="u", password="p")
#: Mails above this are quarantined (too large): a batch mixes published and quarantined.
LIMIT = 1_400
TEXTS = ["short question", "another short question", "long question " * 60]

#: (Message-ID number, text, sender): repeats make redeliveries, reused Message-IDs
#: (same number, other text) and identical quarantined mails.
mails = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(TEXTS), st.sampled_from(["a", "b"])),
    min_size=1,
    max_size=8,
)


def _raw(number: int, text: str, sender: str) -> bytes:
    return customer_mail(number, name=sender, address=f"{sender}@example.com", text=text)


def _context() -> MailContext:
    return MailContext(mailbox_id=MAILBOX.id, max_message_bytes=LIMIT)


def _state(desk: Desk) -> dict[str, list[tuple[object, ...]]]:
    """The records, without the times they were written at."""
    with sqlite3.connect(desk.checkpoints.path) as db:
        return {
            "handled": db.execute(
                "SELECT mailbox, message_key, folder, uidvalidity, uid, outcome,"
                " post_action_pending, fingerprint, sender_hash FROM handled_message ORDER BY uid"
            ).fetchall(),
            "blobs": db.execute(
                "SELECT mailbox, message_key, sha256, role, sender_hash FROM mail_blob"
                " ORDER BY message_key, sha256"
            ).fetchall(),
            "quarantined": db.execute(
                "SELECT mailbox, folder, uidvalidity, uid, raw_sha256, reason, size, sender_hash"
                " FROM quarantined_mail ORDER BY id"
            ).fetchall(),
        }


def _observed(desk: Desk, handled: list) -> dict[str, object]:  # type: ignore[type-arg]
    producer = desk.producer
    return {
        "handled": [(h.outcome, h.message_key) for h in handled],
        "events": [(e.id, e.type, e.subject) for e in producer.published],
        "dead letters": producer.sent,
        "records": _state(desk),
        "blob files": sorted(p.name for p in (desk.root / "blobs").rglob("*") if p.is_file()),
    }


async def _one_by_one(desk: Desk, messages: list[FetchedMessage]) -> list:  # type: ignore[type-arg]
    pipeline = desk.pipeline()
    return [
        await pipeline.handle(MAILBOX, _context(), folder="INBOX", uidvalidity=1, message=m)
        for m in messages
    ]


async def _batched(desk: Desk, messages: list[FetchedMessage]) -> list:  # type: ignore[type-arg]
    return await desk.pipeline().handle_batch(
        MAILBOX, _context(), folder="INBOX", uidvalidity=1, messages=messages
    )


def _messages(spec: list[tuple[int, str, str]], start: int = 1) -> list[FetchedMessage]:
    return [FetchedMessage(uid, _raw(*item)) for uid, item in enumerate(spec, start=start)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=mails, second=mails)
def test_a_batch_gives_what_one_by_one_gives(first, second):
    # Two batches: the second meets what the first recorded. The same bytes for both
    # ways (a mail's MIME boundary is random).
    batches = [_messages(first, start=1), _messages(second, start=len(first) + 1)]

    async def run(handle) -> dict[str, object]:  # type: ignore[no-untyped-def]
        with tempfile.TemporaryDirectory() as root:
            desk = Desk(Path(root))
            try:
                handled = [h for batch in batches for h in await handle(desk, batch)]
                return _observed(desk, handled)
            finally:
                desk.checkpoints.close()

    assert asyncio.run(run(_batched)) == asyncio.run(run(_one_by_one))


class FailingProducer(FakeProducer):
    """Acknowledges the first ``good`` events, then fails every one after."""

    def __init__(self, good: int) -> None:
        super().__init__()
        self.good = good

    async def publish(self, topic, event, *, key):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0)
        if len(self.published) >= self.good:
            raise PublishError("broker did not acknowledge")
        self.published.append(event)


async def test_a_failed_ack_records_only_the_mails_ahead_of_it(tmp_path):
    desk = Desk(tmp_path)
    desk.producer = FailingProducer(good=2)
    messages = _messages([(n, TEXTS[0], "a") for n in range(5)])
    with pytest.raises(PublishError):
        await _batched(desk, messages)
    records = _state(desk)["handled"]
    assert [row[4] for row in records] == [1, 2]  # uids 1, 2; 3-5 are handled next session
    desk.checkpoints.close()


async def test_a_mail_that_fails_leaves_the_mails_ahead_of_it_recorded(tmp_path, monkeypatch):
    """A bug in one mail (normalising raises) must not leave the mails sent ahead of it
    unrecorded: they would be sent again every session while that mail keeps failing."""
    from services.email_ingest import pipeline as module

    messages = _messages([(n, TEXTS[0], "a") for n in range(4)])
    poison = messages[2].raw
    normalise = module._normalise

    async def failing(raw, context, received_at):  # type: ignore[no-untyped-def]
        if raw == poison:
            raise RuntimeError("a normaliser bug")
        return await normalise(raw, context, received_at)

    monkeypatch.setattr(module, "_normalise", failing)
    desk = Desk(tmp_path)
    with pytest.raises(RuntimeError, match="normaliser bug"):
        await _batched(desk, messages)
    assert [row[4] for row in _state(desk)["handled"]] == [1, 2]
    assert len(desk.producer.published) == 2
    desk.checkpoints.close()
