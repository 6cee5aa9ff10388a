"""One fetched mail: normalise, keep the bytes, publish, remember. In that order.

The checkpoint advances only after Kafka acknowledged (or after the dead
letter was acknowledged), so a crash at any point re-handles the mail on
restart; the deterministic event id and the handled-message set make that
second pass harmless. A ``PublishError`` propagates: the folder session
ends, and the mail stays unacknowledged for the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from libs.common.blobstore import BlobStore
from libs.common.cloudevents import CloudEvent
from libs.common.events import DeadLetter, utc_now
from libs.common.kafka.producer import EventProducer
from libs.common.logging import event_context
from libs.common.privacy.identifiers import IdentifierHasher, InvalidIdentifier
from libs.common.settings import TopicSettings
from services.email_ingest import metrics
from services.email_ingest.checkpoint import CheckpointStore, NewQuarantine
from services.email_ingest.imap.fetch import FetchedMessage
from services.email_ingest.mailboxes import MailboxConfig, PostAction
from services.email_ingest.normalise import (
    MailContext,
    NormalisedMail,
    OwnIdentity,
    Quarantined,
    normalise_mail,
)
from services.email_ingest.normalise.mail import reused_message_id_event_id, sender_in_raw

log = logging.getLogger(__name__)

#: Mail bigger than this is parsed in a worker thread, so one huge mail does
#: not stall the other mailboxes' IDLE loops.
_PARSE_IN_THREAD_BYTES = 1_000_000
DEADLETTER_STAGE = "email_ingest.normalise"
#: Raised while encoding an event (never by the broker: that is PublishError, a RuntimeError).
_UNENCODABLE = (ValueError, TypeError, UnicodeError)


class Outcome(StrEnum):
    PUBLISHED = "published"
    DUPLICATE = "duplicate"  # already published (a resync, or the same Message-ID twice)
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class HandledMail:
    outcome: Outcome
    #: The event id, or ``raw:<sha256>`` for quarantined mail.
    message_key: str


def mail_context(
    mailbox: MailboxConfig,
    *,
    own: OwnIdentity,
    subject_reference: re.Pattern[str],
    max_message_bytes: int,
) -> MailContext:
    return MailContext(
        mailbox_id=mailbox.id,
        own=own,
        subject_token=subject_reference,
        max_message_bytes=max_message_bytes,
        routing_hints=mailbox.routing,
    )


def event_source(mailbox_id: str) -> str:
    return f"omnidesk/email_ingest/{mailbox_id}"


def imap_source(mailbox_id: str, folder: str, uid: int) -> str:
    return f"imap:{mailbox_id}/{folder}/{uid}"


def needs_post_action(mailbox: MailboxConfig, outcome: Outcome) -> bool:
    if outcome is Outcome.QUARANTINED:
        return mailbox.quarantine_folder is not None
    return mailbox.post_action is not PostAction.KEEP


class MailPipeline:
    def __init__(
        self,
        *,
        producer: EventProducer,
        blobs: BlobStore,
        checkpoints: CheckpointStore,
        topics: TopicSettings,
        deadletter_inline_max_bytes: int,
        hasher: IdentifierHasher | None = None,
    ) -> None:
        self._producer = producer
        self._blobs = blobs
        self._checkpoints = checkpoints
        self._topics = topics
        self._deadletter_inline_max_bytes = deadletter_inline_max_bytes
        self._hasher = hasher

    async def handle(
        self,
        mailbox: MailboxConfig,
        context: MailContext,
        *,
        folder: str,
        uidvalidity: int,
        message: FetchedMessage,
    ) -> HandledMail:
        result = await _normalise(message.raw, context, utc_now())
        fingerprint = sender_hash = quarantine = None
        blobs: list[tuple[str, str]] = []
        if isinstance(result, NormalisedMail):
            fingerprint = result.fingerprint
            sender_hash = self.sender_hash(result.interaction.customer.email)
            try:
                with event_context(result.event_id):
                    outcome, key = await self.publish(result, mailbox.id, folder, message.uid)
            except _UNENCODABLE as exc:  # a normaliser bug must not wedge the mailbox
                result = Quarantined("unparseable", f"cannot encode event: {exc!r}"[:500],
                                     result.raw_sha256)  # fmt: skip
            else:
                if outcome is Outcome.PUBLISHED:
                    blobs = blob_roles(result)
        if isinstance(result, Quarantined):
            key = f"raw:{result.raw_sha256}"
            sender_hash = self.sender_hash(sender_in_raw(message.raw))
            outcome, fresh = await self._quarantine(result, message, mailbox.id, folder)
            if fresh:
                blobs = [(result.raw_sha256, "quarantine")]
                quarantine = NewQuarantine(
                    result.raw_sha256, result.reason, result.detail, len(message.raw)
                )
        await self._checkpoints.record(
            mailbox=mailbox.id,
            folder=folder,
            uidvalidity=uidvalidity,
            uid=message.uid,
            message_key=key,
            outcome=outcome.value,
            post_action_pending=needs_post_action(mailbox, outcome),
            fingerprint=fingerprint,
            sender_hash=sender_hash,
            blobs=blobs,
            quarantine=quarantine,
        )
        metrics.MESSAGES.labels(mailbox.id, outcome.value).inc()
        return HandledMail(outcome, key)

    async def report_unfetchable(
        self, mailbox_id: str, *, folder: str, uidvalidity: int, uid: int
    ) -> HandledMail:
        """A mail the server keeps listing but will not hand over: tell operators."""
        key = f"unfetchable:{uidvalidity}:{uid}"
        if not await self._checkpoints.handled(mailbox_id, key):
            letter = DeadLetter(
                stage="email_ingest.fetch",
                error_type="unfetchable",
                error="the server lists this UID but returns no message body for it",
                attempts=1,
                failed_at=utc_now(),
                source=imap_source(mailbox_id, folder, uid),
            )
            await self._producer.send(
                self._topics.deadletter, None, key=f"imap:{mailbox_id}", headers=letter.to_headers()
            )
            log.error("gave up fetching %s; dead-lettered", letter.source)
        await self._checkpoints.record(
            mailbox=mailbox_id, folder=folder, uidvalidity=uidvalidity, uid=uid,
            message_key=key, outcome=Outcome.QUARANTINED.value, post_action_pending=False,
        )  # fmt: skip
        metrics.MESSAGES.labels(mailbox_id, Outcome.QUARANTINED.value).inc()
        return HandledMail(Outcome.QUARANTINED, key)

    def sender_hash(self, address: str | None) -> str | None:
        """The keyed hash erasure requests name this customer by (None: hashing is off)."""
        if self._hasher is None or not address:
            return None
        try:
            return self._hasher.email(address)
        except InvalidIdentifier:
            return None

    async def publish(
        self, mail: NormalisedMail, mailbox_id: str, folder: str, uid: int
    ) -> tuple[Outcome, str]:
        """Keep the mail's blobs and publish its event, unless already published."""
        event_id = await self._event_id(mail, mailbox_id)
        if await self._checkpoints.handled(mailbox_id, event_id):
            log.info("mail %s/%s/%d already published; skipped", mailbox_id, folder, uid)
            return Outcome.DUPLICATE, event_id
        await self._blobs.put_many_async(list(mail.blobs.values()))
        interaction = mail.interaction
        event = CloudEvent(
            id=event_id,
            source=event_source(mailbox_id),
            type=interaction.event_type(),
            data=interaction,
            time=interaction.received_at,
            subject=interaction.thread.message_id,
        )
        await self._producer.publish(self._topics.interactions, event, key=interaction.customer_key)
        for defect in mail.defects:
            log.warning("mail %s/%s/%d: %s", mailbox_id, folder, uid, defect)
        # No address here: logs outlive an erasure (the event id names the mail).
        log.info("published mail %s/%s/%d as %s", mailbox_id, folder, uid, event_id)
        return Outcome.PUBLISHED, event_id

    async def _event_id(self, mail: NormalisedMail, mailbox_id: str) -> str:
        """The Message-ID's event id, unless a different mail already used that
        Message-ID (some senders reuse them): then an id that adds the content."""
        seen = await self._checkpoints.fingerprint_of(mailbox_id, mail.event_id)
        if not seen or seen == mail.fingerprint:
            return mail.event_id
        message_id = mail.interaction.thread.message_id or ""
        log.warning(
            "Message-ID %s reused for different content in %s; published under its own id",
            message_id, mailbox_id,
        )  # fmt: skip
        return reused_message_id_event_id(mailbox_id, message_id, mail.fingerprint)

    async def _quarantine(
        self, verdict: Quarantined, message: FetchedMessage, mailbox_id: str, folder: str
    ) -> tuple[Outcome, bool]:
        """Keep and report the mail; the flag says whether it is new to us."""
        if await self._checkpoints.handled(mailbox_id, f"raw:{verdict.raw_sha256}"):
            return Outcome.QUARANTINED, False
        await self._blobs.put_async(message.raw)
        letter = DeadLetter(
            stage=DEADLETTER_STAGE,
            error_type=verdict.reason,
            error=verdict.detail,
            attempts=1,
            failed_at=utc_now(),
            source=imap_source(mailbox_id, folder, message.uid),
            blob=verdict.raw_sha256,
        )
        inline = len(message.raw) <= self._deadletter_inline_max_bytes
        await self._producer.send(
            self._topics.deadletter,
            message.raw if inline else None,
            key=f"imap:{mailbox_id}",
            headers=letter.to_headers(),
        )
        log.warning(
            "quarantined mail %s: %s (%s); raw kept as blob %s",
            letter.source, verdict.reason, verdict.detail, verdict.raw_sha256,
        )  # fmt: skip
        return Outcome.QUARANTINED, True


def blob_roles(mail: NormalisedMail) -> list[tuple[str, str]]:
    """(sha256, role) of every blob a published mail keeps."""
    return [(sha, "raw" if sha == mail.raw_sha256 else "attachment") for sha in mail.blobs]


async def _normalise(
    raw: bytes, context: MailContext, received_at: datetime
) -> NormalisedMail | Quarantined:
    if len(raw) > _PARSE_IN_THREAD_BYTES:
        return await asyncio.to_thread(normalise_mail, raw, context, received_at=received_at)
    return normalise_mail(raw, context, received_at=received_at)
