"""Give mail handled before issue #18 what erasure needs: the keyed sender hash,
its blob references and (for quarantined mail) a quarantine entry.

Older rows hold only the event id (or ``raw:<sha256>``), so the way back is
from the kept bytes: every blob that reads as a mail is normalised again, its
event id computed for each configured mailbox the way the watcher does
(mailbox + Message-ID, or the reused-Message-ID variant), and a row that
matches and has no hash yet gets one. Quarantined rows match by the raw
sha256. Attachments and other non-mail blobs match nothing and are left as
they are. Idempotent: a second run finds no row without a hash to fill.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from libs.common.blobstore import BlobNotFound, BlobStore
from libs.common.ids import deterministic_id
from libs.common.privacy.identifiers import IdentifierHasher, InvalidIdentifier
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.normalise import MailContext, NormalisedMail, normalise_mail
from services.email_ingest.normalise.mail import reused_message_id_event_id, sender_in_raw
from services.email_ingest.pipeline import blob_roles

log = logging.getLogger(__name__)

#: Bigger blobs are not mail we parsed (the limit is 25 MiB by default); skip reading them.
MAX_MAIL_BYTES = 64 * 1024 * 1024


@dataclass(slots=True)
class BackfillReport:
    blobs_read: int = 0
    handled_rows: int = 0
    quarantine_entries: int = 0
    rows_still_without_hash: int = 0


async def backfill(
    checkpoints: CheckpointStore, blobs: BlobStore, hasher: IdentifierHasher, mailbox_ids: list[str]
) -> BackfillReport:
    return await checkpoints.transact(lambda db: _backfill(db, blobs, hasher, mailbox_ids))


def _backfill(
    db: sqlite3.Connection, blobs: BlobStore, hasher: IdentifierHasher, mailbox_ids: list[str]
) -> BackfillReport:
    report = BackfillReport()
    missing = {
        (str(mailbox), str(key))
        for mailbox, key in db.execute(
            "SELECT mailbox, message_key FROM handled_message"
            " WHERE sender_hash IS NULL AND outcome != 'erased'"
        )
    }
    mailboxes = sorted({m for m, _k in missing} | set(mailbox_ids))
    for info in blobs.blobs():
        if not missing or info.size > MAX_MAIL_BYTES:
            continue
        try:
            raw = blobs.get(info.sha256)
        except BlobNotFound:
            continue
        report.blobs_read += 1
        quarantined = [m for m in mailboxes if (m, f"raw:{info.sha256}") in missing]
        for mailbox in quarantined:
            report.quarantine_entries += _fill_quarantined(
                db, raw, info.sha256, mailbox, missing, hasher
            )
            report.handled_rows += 1
        if not quarantined:
            report.handled_rows += _fill_published(db, raw, mailboxes, missing, hasher)
    report.rows_still_without_hash = len(missing)
    return report


def _fill_published(
    db: sqlite3.Connection,
    raw: bytes,
    mailboxes: list[str],
    missing: set[tuple[str, str]],
    hasher: IdentifierHasher,
) -> int:
    """Normalised once; matched against each mailbox's event ids for it."""
    context = MailContext("backfill", max_message_bytes=MAX_MAIL_BYTES)
    mail = normalise_mail(raw, context, received_at=datetime.now(UTC))
    if not isinstance(mail, NormalisedMail):
        return 0  # an attachment, or mail that never was published
    message_id = mail.interaction.provider_message_id or ""
    filled = 0
    for mailbox in mailboxes:
        for key in (
            deterministic_id("email", mailbox, message_id),
            reused_message_id_event_id(mailbox, message_id, mail.fingerprint),
        ):
            if (mailbox, key) not in missing:
                continue
            digest = _hash(hasher, mail.interaction.customer.email)
            _set_hash(db, mailbox, key, digest)
            for blob, role in blob_roles(mail):
                _reference(db, mailbox, key, blob, role, digest)
            missing.discard((mailbox, key))
            filled += 1
    return filled


def _fill_quarantined(
    db: sqlite3.Connection,
    raw: bytes,
    sha256: str,
    mailbox: str,
    missing: set[tuple[str, str]],
    hasher: IdentifierHasher,
) -> int:
    """The handled row's hash and blob reference, and a quarantine entry (1 if new)."""
    key = f"raw:{sha256}"
    digest = _hash(hasher, sender_in_raw(raw))
    _set_hash(db, mailbox, key, digest)
    _reference(db, mailbox, key, sha256, "quarantine", digest)
    verdict = normalise_mail(raw, MailContext(mailbox), received_at=datetime.now(UTC))
    reason, detail = (
        ("unknown", "quarantined before issue #18 and readable now; replay it")
        if isinstance(verdict, NormalisedMail)
        else (verdict.reason, verdict.detail)
    )
    inserted = db.execute(
        "INSERT INTO quarantined_mail (mailbox, folder, uidvalidity, uid, raw_sha256, reason,"
        " detail, size, quarantined_at, sender_hash)"
        " SELECT mailbox, folder, uidvalidity, uid, ?, ?, ?, ?, handled_at, ?"
        " FROM handled_message WHERE mailbox=? AND message_key=? ON CONFLICT DO NOTHING",
        (sha256, reason, detail, len(raw), digest, mailbox, key),
    ).rowcount
    missing.discard((mailbox, key))
    return inserted


def _hash(hasher: IdentifierHasher, address: str | None) -> str | None:
    if not address:
        return None
    try:
        return hasher.email(address)
    except InvalidIdentifier:
        return None


def _set_hash(db: sqlite3.Connection, mailbox: str, key: str, digest: str | None) -> None:
    db.execute(
        "UPDATE handled_message SET sender_hash=? WHERE mailbox=? AND message_key=?",
        (digest, mailbox, key),
    )


def _reference(
    db: sqlite3.Connection, mailbox: str, key: str, sha256: str, role: str, digest: str | None
) -> None:
    db.execute(
        "INSERT INTO mail_blob SELECT ?, ?, ?, ?, ?, handled_at FROM handled_message"
        " WHERE mailbox=? AND message_key=? ON CONFLICT DO NOTHING",
        (mailbox, key, sha256, role, digest, mailbox, key),
    )
