"""Retention: handled-message rows and kept mail bytes expire by the mail's age.

email_ingest does not know when a conversation closed (the router does), so
its clock is the day the mail was handled: rows after
``EMAIL_INGEST_HANDLED_RETENTION_DAYS``, raw mail, attachments and quarantined
mail after ``EMAIL_INGEST_BLOB_RETENTION_DAYS``. A blob another, younger mail
still references stays; a blob nobody references (a crash between storing
and recording) goes once it is that old too. Rows whose post-action is still
pending stay until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from libs.common.blobstore import BlobStore
from libs.common.privacy.erasure import StoreReport
from services.email_ingest import metrics
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.erasure import STORE, row_counts, unreferenced

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    handled_days: int
    blob_days: int


async def prune(
    checkpoints: CheckpointStore, blobs: BlobStore, policy: RetentionPolicy, *, now: datetime
) -> list[StoreReport]:
    """One pass; returns what it removed per store."""
    blob_cutoff = now - timedelta(days=policy.blob_days)
    old_files = {b.sha256 for b in await blobs.older_than_async(blob_cutoff)}
    reports = await checkpoints.transact(
        lambda db: _prune(db, blobs, policy, now=now, old_files=old_files)
    )
    for report in reports:
        metrics.PRUNED.labels(report.store.removeprefix(f"{STORE}.")).inc(report.erased)
    return reports


def _prune(
    db: sqlite3.Connection,
    blobs: BlobStore,
    policy: RetentionPolicy,
    *,
    now: datetime,
    old_files: set[str],
) -> list[StoreReport]:
    handled_cutoff = (now - timedelta(days=policy.handled_days)).isoformat()
    blob_cutoff = (now - timedelta(days=policy.blob_days)).isoformat()
    counts = row_counts(db)
    removed = {
        "handled_message": db.execute(
            "DELETE FROM handled_message WHERE handled_at < ? AND post_action_pending = 0",
            (handled_cutoff,),
        ).rowcount,
        "mail_blob": db.execute(
            "DELETE FROM mail_blob WHERE stored_at < ?", (blob_cutoff,)
        ).rowcount,
        "quarantined_mail": db.execute(
            "DELETE FROM quarantined_mail WHERE quarantined_at < ?", (blob_cutoff,)
        ).rowcount,
    }
    files = blobs.delete(unreferenced(db, old_files))
    return [
        *(StoreReport(f"{STORE}.{t}", counts[t], removed[t]) for t in counts),
        StoreReport(
            f"{STORE}.blobs",
            len(old_files),
            len(files.removed),
            "files",
            f"{files.bytes_removed} bytes",
        ),
    ]


async def run_retention(
    checkpoints: CheckpointStore,
    blobs: BlobStore,
    policy: RetentionPolicy,
    *,
    interval_s: float,
    stop: asyncio.Event,
    clock: Clock,
) -> None:
    """Prune now and every ``interval_s`` until stopped; a failed pass is logged
    and tried again next time (nothing is lost by pruning late)."""
    while not stop.is_set():
        try:
            reports = await prune(checkpoints, blobs, policy, now=clock())
        except Exception:
            log.exception("retention pass failed; next try in %.0fs", interval_s)
        else:
            if any(r.erased for r in reports):
                log.info(
                    "retention: removed %s",
                    ", ".join(f"{r.erased} {r.unit} of {r.store}" for r in reports if r.erased),
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
