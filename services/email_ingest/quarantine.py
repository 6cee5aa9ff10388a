"""Quarantined mail: list it, look at it, and replay it once the normaliser
can read it (``omnidesk email quarantine list|show|replay``).

A replay re-reads the raw mail from the blob store with the *current*
normaliser and settings and goes the normal way: the same deterministic event
id (mailbox + Message-ID), the handled-message check, the blobs kept, then
the handled row and the replay record. So a mail published once — by a
replay, or by the watcher after all — is never published again; a second
replay says so and sends nothing.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default
from enum import StrEnum

from libs.common.blobstore import BlobNotFound, BlobStore
from libs.common.events import utc_now
from services.email_ingest.bootstrap import mail_context_for
from services.email_ingest.checkpoint import CheckpointStore
from services.email_ingest.normalise import (
    MailContext,
    NormalisedMail,
    normalise_mail,
)
from services.email_ingest.pipeline import MailPipeline, Outcome, blob_roles
from services.email_ingest.settings import EmailIngestSettings

_COLUMNS = (
    "id, mailbox, folder, uidvalidity, uid, raw_sha256, reason, detail, size,"
    " quarantined_at, replayed_event_id, replayed_at"
)


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    mailbox: str
    folder: str
    uidvalidity: int
    uid: int
    raw_sha256: str
    reason: str
    detail: str
    size: int
    quarantined_at: datetime
    replayed_event_id: str | None
    replayed_at: datetime | None

    @classmethod
    def from_row(cls, row: tuple[object, ...]) -> QuarantineEntry:
        values = list(row)
        values[9] = datetime.fromisoformat(str(values[9]))
        values[11] = datetime.fromisoformat(str(values[11])) if values[11] else None
        return cls(*values)  # type: ignore[arg-type]


class QuarantineNotFound(LookupError):
    pass


async def list_quarantined(checkpoints: CheckpointStore) -> list[QuarantineEntry]:
    rows = await checkpoints.query(f"SELECT {_COLUMNS} FROM quarantined_mail ORDER BY id")  # noqa: S608
    return [QuarantineEntry.from_row(row) for row in rows]


async def get_quarantined(checkpoints: CheckpointStore, entry_id: int) -> QuarantineEntry:
    rows = await checkpoints.query(
        f"SELECT {_COLUMNS} FROM quarantined_mail WHERE id=?",  # noqa: S608
        (entry_id,),
    )
    if not rows:
        raise QuarantineNotFound(f"no quarantined mail with id {entry_id}")
    return QuarantineEntry.from_row(rows[0])


_WHITESPACE = re.compile(r"\s+")


def header_lines(raw: bytes) -> list[str]:
    """The mail's header fields, decoded, for a look without the body."""
    message = BytesHeaderParser(policy=default).parsebytes(raw)
    lines = []
    for name, value in message.items():
        try:
            text = str(value)
        except Exception:  # a header the policy cannot decode: show what is there
            text = repr(value)
        lines.append(f"{name}: {_WHITESPACE.sub(' ', text)}")
    return lines


class ReplayStatus(StrEnum):
    PUBLISHED = "published"
    ALREADY_PUBLISHED = "already_published"
    STILL_QUARANTINED = "still_quarantined"
    RAW_MISSING = "raw_missing"  # erased, or past retention


@dataclass(frozen=True, slots=True)
class ReplayResult:
    status: ReplayStatus
    detail: str
    event_id: str | None = None


class QuarantineReplayer:
    def __init__(
        self,
        settings: EmailIngestSettings,
        *,
        checkpoints: CheckpointStore,
        blobs: BlobStore,
        pipeline: MailPipeline,
    ) -> None:
        self._settings = settings
        self._checkpoints = checkpoints
        self._blobs = blobs
        self._pipeline = pipeline

    async def replay(self, entry_id: int) -> ReplayResult:
        entry = await get_quarantined(self._checkpoints, entry_id)
        if entry.replayed_event_id:
            return ReplayResult(
                ReplayStatus.ALREADY_PUBLISHED,
                f"replayed {entry.replayed_at:%Y-%m-%d %H:%M:%S} as event"
                f" {entry.replayed_event_id}; nothing sent",
                entry.replayed_event_id,
            )
        try:
            raw = await _read(self._blobs, entry.raw_sha256)
        except BlobNotFound:
            return ReplayResult(
                ReplayStatus.RAW_MISSING, f"raw mail {entry.raw_sha256} is no longer kept"
            )
        result = normalise_mail(raw, self._context(entry.mailbox), received_at=entry.quarantined_at)
        if not isinstance(result, NormalisedMail):
            return ReplayResult(
                ReplayStatus.STILL_QUARANTINED, f"{result.reason}: {result.detail}; nothing sent"
            )
        outcome, event_id = await self._pipeline.publish(
            result, entry.mailbox, entry.folder, entry.uid
        )
        await self._record(entry, result, outcome, event_id)
        if outcome is Outcome.PUBLISHED:
            return ReplayResult(ReplayStatus.PUBLISHED, f"published as event {event_id}", event_id)
        return ReplayResult(
            ReplayStatus.ALREADY_PUBLISHED,
            f"event {event_id} was already published; nothing sent",
            event_id,
        )

    def _context(self, mailbox_id: str) -> MailContext:
        mailbox = next((m for m in self._settings.all_mailboxes() if m.id == mailbox_id), None)
        if mailbox is None:
            raise QuarantineNotFound(f"mailbox {mailbox_id} is no longer configured")
        return mail_context_for(self._settings, mailbox)

    async def _record(
        self, entry: QuarantineEntry, mail: NormalisedMail, outcome: Outcome, event_id: str
    ) -> None:
        # The handled row first: if we stop between the two, the next replay
        # finds the event id handled and sends nothing.
        await self._checkpoints.record(
            mailbox=entry.mailbox,
            folder=entry.folder,
            uidvalidity=entry.uidvalidity,
            uid=entry.uid,
            message_key=event_id,
            outcome=outcome.value,
            post_action_pending=False,
            fingerprint=mail.fingerprint,
            sender_hash=self._pipeline.sender_hash(mail.interaction.customer.email),
            blobs=blob_roles(mail) if outcome is Outcome.PUBLISHED else (),
        )
        await self._checkpoints.query(
            "UPDATE quarantined_mail SET replayed_event_id=?, replayed_at=? WHERE id=?",
            (event_id, utc_now().isoformat(), entry.id),
        )


async def _read(blobs: BlobStore, sha256: str) -> bytes:
    return await asyncio.to_thread(blobs.get, sha256)
