"""Erase a customer's mail from email_ingest: handled rows, blob references,
quarantine entries, and the blob files nobody else references.

Rows are found by the keyed hash of the customer's address stored with them
(``sender_hash``), written before the request (``CLOCK_MARGIN``). A handled
row is not deleted but scrubbed to a marker (``outcome='erased'``, no
fingerprint, no hash): its event id still keeps a
UIDVALIDITY resync from publishing the mail again, and it names no one. A
blob shared with another customer's mail (the same logo) stays. Files go
before the rows are committed, so a failure leaves the request to be retried
whole (the consumer retries it), never rows that forgot files still on disk.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection
from datetime import timedelta

from libs.common.blobstore import BlobStore, DeleteReport
from libs.common.events.privacy import ContactErased
from libs.common.privacy.erasure import StoreReport, check_hash_key
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind
from services.email_ingest import metrics
from services.email_ingest.checkpoint import CheckpointStore

log = logging.getLogger(__name__)

ERASED_OUTCOME = "erased"
#: A request reaches what was written before it (plus this, for clocks that
#: disagree and mail in flight): a customer who writes again after being
#: forgotten starts anew, even when an old request is delivered again.
CLOCK_MARGIN = timedelta(minutes=5)
STORE = "email_ingest"


class EmailIngestEraser:
    """The email_ingest state of one machine (its SQLite file and blob folder)."""

    name = STORE

    def __init__(
        self, *, checkpoints: CheckpointStore, blobs: BlobStore, hasher: IdentifierHasher
    ) -> None:
        self._checkpoints = checkpoints
        self._blobs = blobs
        self._hasher = hasher

    async def erase(self, request: ContactErased) -> list[StoreReport]:
        check_hash_key(request, self._hasher)
        hashes = request.hashes(IdentifierKind.EMAIL)
        until = (request.erased_at + CLOCK_MARGIN).isoformat()
        reports = await self._checkpoints.transact(
            lambda db: _erase(db, self._blobs, hashes, until)
        )
        for report in reports:
            metrics.ERASED.labels(report.store.removeprefix(f"{STORE}.")).inc(report.erased)
        log.info(
            "erasure %s: %s",
            request.tombstone_id,
            ", ".join(f"{r.store} {r.erased}/{r.checked} {r.unit}" for r in reports),
        )
        return reports


#: Column with each table's row time: an erasure reaches rows written before it.
_WRITTEN_AT = {
    "handled_message": "handled_at",
    "mail_blob": "stored_at",
    "quarantined_mail": "quarantined_at",
}


def _erase(
    db: sqlite3.Connection, blobs: BlobStore, hashes: Collection[str], until: str
) -> list[StoreReport]:
    # Only "?" placeholders, our own table and column names are formatted into the SQL.
    match = f"sender_hash IN ({','.join('?' * len(hashes))})"
    params = (*hashes, until)
    candidates: set[str] = set()
    if hashes:
        candidates = {
            str(row[0])
            for row in db.execute(
                f"SELECT sha256 FROM mail_blob WHERE {match} AND stored_at <= ? UNION "  # noqa: S608
                f"SELECT raw_sha256 FROM quarantined_mail WHERE {match} AND quarantined_at <= ?",
                params + params,
            )
        }
    counts = row_counts(db)
    erased = dict.fromkeys(counts, 0)
    if hashes:
        erased["handled_message"] = db.execute(
            "UPDATE handled_message SET outcome=?, fingerprint=NULL, sender_hash=NULL"  # noqa: S608
            f" WHERE {match} AND handled_at <= ?",
            (ERASED_OUTCOME, *params),
        ).rowcount
        for table in ("mail_blob", "quarantined_mail"):
            erased[table] = db.execute(
                f"DELETE FROM {table} WHERE {match} AND {_WRITTEN_AT[table]} <= ?",  # noqa: S608
                params,
            ).rowcount
    files = blobs.delete(unreferenced(db, candidates))
    return [
        *(StoreReport(f"{STORE}.{t}", counts[t], erased[t]) for t in counts),
        _blob_report(files, len(candidates)),
    ]


#: The tables that hold a customer's traces (checkpoints name no one).
TABLES = ("handled_message", "mail_blob", "quarantined_mail")


def row_counts(db: sqlite3.Connection) -> dict[str, int]:
    return {
        table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
        for table in TABLES
    }


def unreferenced(db: sqlite3.Connection, candidates: Collection[str]) -> list[str]:
    """The candidates no remaining mail or quarantine entry points to."""
    return sorted(
        sha
        for sha in candidates
        if db.execute(
            "SELECT 1 FROM mail_blob WHERE sha256=? UNION ALL "
            "SELECT 1 FROM quarantined_mail WHERE raw_sha256=? LIMIT 1",
            (sha, sha),
        ).fetchone()
        is None
    )


def _blob_report(files: DeleteReport, checked: int) -> StoreReport:
    shared = checked - len(files.removed) - len(files.absent)
    note = f"{files.bytes_removed} bytes"
    if shared:
        note += f"; {shared} kept, still referenced by other mail"
    return StoreReport(f"{STORE}.blobs", checked, len(files.removed), "files", note)
