"""Retention by mail age with an injected clock, on a real SQLite file and blob folder."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

from services.email_ingest.retention import RetentionPolicy, prune, run_retention
from tests.unit.email_ingest.privacy_helpers import Desk, customer_mail

POLICY = RetentionPolicy(handled_days=365, blob_days=180)


def _counts(reports):
    return {r.store.removeprefix("email_ingest."): r.erased for r in reports}


async def test_nothing_young_goes_and_everything_old_does(tmp_path):
    desk = Desk(tmp_path)
    await desk.handle(customer_mail(1, name="A", address="a@example.com", text="hi"))
    await desk.handle(customer_mail(2, name="B", address="b@example.com", text="yo"), max_bytes=50)
    files = len(list(desk.blobs.blobs()))
    assert files == 3  # raw, logo, quarantined raw
    now = datetime.now(UTC)

    assert sum(_counts(await prune(desk.checkpoints, desk.blobs, POLICY, now=now)).values()) == 0
    later = now + timedelta(days=200)
    _age_files(desk, later - timedelta(days=181))
    counts = _counts(await prune(desk.checkpoints, desk.blobs, POLICY, now=later))
    assert counts == {"handled_message": 0, "mail_blob": 3, "quarantined_mail": 1, "blobs": 3}
    assert list(desk.blobs.blobs()) == []
    counts = _counts(
        await prune(desk.checkpoints, desk.blobs, POLICY, now=now + timedelta(days=400))
    )
    assert counts["handled_message"] == 2


async def test_a_blob_a_younger_mail_still_uses_stays_and_pending_rows_wait(tmp_path):
    desk = Desk(tmp_path)
    await desk.handle(customer_mail(1, name="A", address="a@example.com", text="hi"))
    await desk.checkpoints.query("UPDATE handled_message SET post_action_pending=1")
    await desk.checkpoints.query(
        "UPDATE mail_blob SET stored_at=?", ((datetime.now(UTC) - timedelta(days=300)).isoformat(),)
    )
    await desk.handle(customer_mail(2, name="B", address="b@example.com", text="yo"))  # same logo
    _age_files(desk, datetime.now(UTC) - timedelta(days=300))
    orphan = desk.blobs.put(b"stored, then the process died before recording it")
    _age_files(desk, datetime.now(UTC) - timedelta(days=300), only=orphan)

    reports = await prune(desk.checkpoints, desk.blobs, POLICY, now=datetime.now(UTC))
    counts = _counts(reports)
    assert counts["mail_blob"] == 2 and counts["blobs"] == 2  # mail 1's raw, and the orphan
    remaining = {b.sha256 for b in desk.blobs.blobs()}
    assert len(remaining) == 2  # mail 2's raw and the logo it shares with mail 1
    assert orphan not in remaining
    far = await prune(
        desk.checkpoints, desk.blobs, POLICY, now=datetime.now(UTC) + timedelta(days=400)
    )
    assert _counts(far)["handled_message"] == 1  # mail 1 waits for its post-action


async def test_the_scheduled_job_runs_until_stopped(tmp_path):
    desk = Desk(tmp_path)
    await desk.handle(customer_mail(1, name="A", address="a@example.com", text="hi"))
    stop = asyncio.Event()
    passes: list[datetime] = []

    def clock() -> datetime:
        passes.append(datetime.now(UTC) + timedelta(days=400))
        if len(passes) == 2:
            stop.set()
        return passes[-1]

    await asyncio.wait_for(
        run_retention(
            desk.checkpoints, desk.blobs, POLICY, interval_s=0.01, stop=stop, clock=clock
        ),
        10,
    )
    assert len(passes) == 2
    assert await desk.checkpoints.query("SELECT * FROM handled_message") == []


def _age_files(desk: Desk, when: datetime, only: str | None = None) -> None:
    for blob in desk.blobs.blobs():
        if only is None or blob.sha256 == only:
            os.utime(desk.blobs.path_for(blob.sha256), (when.timestamp(), when.timestamp()))
