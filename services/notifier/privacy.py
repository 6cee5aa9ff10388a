"""The notifier's side of ``support.privacy.v1`` and its sent-log retention (issue #18).

What the notifier keeps about a customer: sent-log rows (recipient address,
keyed hash beside it), the auto-reply rate slot (the sender's address) and the
web-chat outbox (visitor id, message text). On a ``ContactErased``, for what
was written before the request (plus five minutes for clocks and messages in
flight, as email_ingest does), the rows are deleted. A deleted sent-log row no
longer stops a resend: a routing event about the erased customer that is
replayed from Kafka afterwards (the topic keeps 7 days) would be sent again —
replaying old events for an erased customer is an operator's decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select

from libs.common.events import utc_now
from libs.common.events.privacy import ContactErased
from libs.common.kafka.consumer import ConsumerRunner
from libs.common.kafka.producer import EventProducer
from libs.common.privacy.consumer import erasure_consumer as shared_erasure_consumer
from libs.common.privacy.erasure import StoreReport, check_hash_key
from libs.common.privacy.identifiers import IdentifierHasher, IdentifierKind, InvalidIdentifier
from libs.common.settings import KafkaSettings
from services.notifier.sentlog import SentLog, rate_slot, recipient_hash, sent_log, webchat_outbox

log = logging.getLogger(__name__)

STAGE = "notifier.privacy"
#: Rows written up to this long after the request's time are still erased.
IN_FLIGHT = timedelta(minutes=5)
#: The web-chat provider's handle prefix (``webchat:<visitor id>``).
WEBCHAT = "webchat"


class NotifierEraser:
    name = "notifier"

    def __init__(self, sentlog: SentLog, hasher: IdentifierHasher) -> None:
        self._sentlog = sentlog
        self._hasher = hasher

    async def erase(self, request: ContactErased) -> list[StoreReport]:
        check_hash_key(request, self._hasher)
        addresses = request.hashes(IdentifierKind.EMAIL) | request.hashes(IdentifierKind.PHONE)
        handles = request.hashes(IdentifierKind.HANDLE)
        until = request.erased_at + IN_FLIGHT
        async with self._sentlog.engine.begin() as conn:
            rows = await conn.scalar(select(func.count()).select_from(sent_log))
            sent = await conn.execute(
                delete(sent_log).where(
                    and_(sent_log.c.recipient_hash.in_(addresses), sent_log.c.created_at <= until)
                )
            )
            # Small tables (one row per sender, per web-chat message): hashed on the fly.
            slots = [
                sender
                for sender in await conn.scalars(select(rate_slot.c.sender))
                if recipient_hash(self._hasher, sender) in addresses
            ]
            if slots:
                await conn.execute(delete(rate_slot).where(rate_slot.c.sender.in_(slots)))
            visitors = await conn.execute(
                select(webchat_outbox.c.id, webchat_outbox.c.visitor).where(
                    webchat_outbox.c.created_at <= until
                )
            )
            webchat_ids = [row.id for row in visitors if self._handle_hash(row.visitor) in handles]
            if webchat_ids:
                await conn.execute(
                    delete(webchat_outbox).where(webchat_outbox.c.id.in_(webchat_ids))
                )
        reports = [
            StoreReport("notifier.sent_log", int(rows or 0), sent.rowcount),
            StoreReport("notifier.rate_slot", len(slots), len(slots)),
            StoreReport("notifier.webchat_outbox", len(webchat_ids), len(webchat_ids)),
        ]
        log.info(
            "erasure %s: %s",
            request.tombstone_id,
            ", ".join(f"{r.store} {r.erased} {r.unit}" for r in reports),
        )
        return reports

    def _handle_hash(self, visitor: str) -> str | None:
        try:
            return self._hasher.digest(IdentifierKind.HANDLE, f"{WEBCHAT}:{visitor}")
        except InvalidIdentifier:
            return None


def erasure_consumer(
    kafka: KafkaSettings, *, group_id: str, producer: EventProducer, eraser: NotifierEraser
) -> ConsumerRunner:
    return shared_erasure_consumer(
        kafka, group_id=group_id, stage=STAGE, producer=producer, eraser=eraser
    )


async def run_retention(
    sentlog: SentLog,
    *,
    keep: timedelta,
    every: timedelta,
    stop: asyncio.Event,
    now: Callable[[], datetime] = utc_now,
) -> None:
    """Deletes finished sent-log rows older than ``keep`` (NOTIFIER_SENTLOG_RETENTION_DAYS)."""
    while not stop.is_set():
        try:
            deleted = await sentlog.prune(before=now() - keep)
            if deleted:
                log.info("sent-log retention: %d row(s) older than %s deleted", deleted, keep)
        except Exception:
            log.exception("sent-log retention round failed; retrying next round")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every.total_seconds())
