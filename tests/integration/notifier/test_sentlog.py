"""The sent-log on SQLite and PostgreSQL: claims, leases, rate slots, races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.sentlog import ClaimResult, SendInfo, SendKey, SentLog, Status

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
KEY = SendKey("ev-1", "kim@example.kr", "customer_ack")
INFO = SendInfo("support.conversation.opened", "conv-1", "smtp", "ko")


@pytest.fixture
async def sentlog(sentlog_url):
    log = SentLog(sentlog_url, lease_s=60)
    await log.open()
    yield log
    await log.close()


async def test_claim_send_and_redelivery(sentlog):
    first = await sentlog.claim(KEY, INFO, now=T0)
    assert first.result is ClaimResult.CLAIMED and first.record.attempts == 1
    busy = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=5))
    assert busy.result is ClaimResult.BUSY
    await sentlog.mark_sent(KEY, message_id="<m@x>", now=T0 + timedelta(seconds=1))
    again = await sentlog.claim(KEY, INFO, now=T0 + timedelta(hours=5))
    assert again.result is ClaimResult.DONE
    assert again.record.status is Status.SENT and again.record.message_id == "<m@x>"


async def test_stale_claim_is_taken_over_after_the_lease(sentlog):
    await sentlog.claim(KEY, INFO, now=T0)  # the sender crashed before recording
    assert (await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=59))).result is (
        ClaimResult.BUSY
    )
    taken = await sentlog.claim(KEY, INFO, now=T0 + timedelta(seconds=61))
    assert taken.result is ClaimResult.CLAIMED and taken.record.attempts == 2


async def test_failed_rows_can_be_retried_by_a_replay_but_suppressed_cannot(sentlog):
    await sentlog.claim(KEY, INFO, now=T0)
    await sentlog.mark_failed(KEY, reason="SMTP 550", now=T0)
    assert (await sentlog.claim(KEY, INFO, now=T0)).result is ClaimResult.CLAIMED
    other = SendKey("ev-2", "bulk@x.example", "customer_ack")
    first = await sentlog.record_suppressed(other, INFO, reason="sender flagged bulk", now=T0)
    again = await sentlog.record_suppressed(other, INFO, reason="different", now=T0)
    assert first.reason == again.reason == "sender flagged bulk"
    assert (await sentlog.claim(other, INFO, now=T0)).result is ClaimResult.DONE


async def test_rate_slot_is_one_per_sender_per_window(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    assert await sentlog.take_rate_slot("Kim@Example.kr", event_id="e1", now=T0, cutoff=cutoff)
    # The same event again (redelivery) keeps its slot; another event does not get it.
    assert await sentlog.take_rate_slot("kim@example.kr", event_id="e1", now=T0, cutoff=cutoff)
    later = T0 + timedelta(minutes=30)
    assert not await sentlog.take_rate_slot(
        "kim@example.kr", event_id="e2", now=later, cutoff=later - timedelta(minutes=60)
    )
    much_later = T0 + timedelta(minutes=61)
    assert await sentlog.take_rate_slot(
        "kim@example.kr", event_id="e3", now=much_later, cutoff=much_later - timedelta(minutes=60)
    )
    assert await sentlog.take_rate_slot("other@example.kr", event_id="e4", now=later, cutoff=None)


async def test_concurrent_claims_of_one_notice_have_one_winner(sentlog):
    results = await asyncio.gather(*(sentlog.claim(KEY, INFO, now=T0) for _ in range(8)))
    winners = [r for r in results if r.result is ClaimResult.CLAIMED]
    assert len(winners) == 1
    assert all(r.result is ClaimResult.BUSY for r in results if r not in winners)


async def test_concurrent_rate_slot_takers_have_one_winner(sentlog):
    cutoff = T0 - timedelta(minutes=60)
    taken = await asyncio.gather(
        *(
            sentlog.take_rate_slot("kim@example.kr", event_id=f"e{n}", now=T0, cutoff=cutoff)
            for n in range(8)
        )
    )
    assert taken.count(True) == 1
