"""Retention (issue #18): message text is kept only so long after a conversation ends.

A conversation resolved more than ``ROUTER_RETENTION_DAYS`` ago loses its
subject, message text, authors, Message-IDs, reply text and CSAT comment; its
counts, timings, SLA figures and CSAT score stay for reports. Published outbox
rows (full copies of the routing events) go after ``ROUTER_OUTBOX_KEEP_HOURS``.
Each conversation is blanked once (``text_purged_at``); a reopened one keeps
what came after it was blanked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from services.router.domain.lifecycle import ConversationStatus
from services.router.service.attachments import delete_blobs, unshared_blobs
from services.router.service.context import RouterContext
from services.router.settings import RouterSettings
from services.router.store.models import (
    AttachmentRow,
    Conversation,
    CsatRating,
    InteractionRecord,
    MessageIndex,
    OutboxRow,
    Reply,
)
from services.router.store.outbox import forget_sent_marks, published, published_before

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    keep_text: timedelta = timedelta(days=365)
    keep_outbox: timedelta = timedelta(hours=24)
    interval: timedelta = timedelta(hours=1)
    batch: int = 500

    @classmethod
    def from_settings(cls, settings: RouterSettings) -> RetentionPolicy:
        return cls(
            keep_text=timedelta(days=settings.retention_days),
            keep_outbox=timedelta(hours=settings.outbox_keep_hours),
            interval=timedelta(seconds=settings.retention_interval_s),
        )


@dataclass(frozen=True, slots=True)
class RetentionResult:
    conversations: int
    outbox_rows: int


async def apply_retention(ctx: RouterContext, policy: RetentionPolicy) -> RetentionResult:
    now = ctx.clock()
    blanked = 0
    while True:
        count = await _blank_batch(ctx, now - policy.keep_text, now, policy.batch)
        blanked += count
        if count < policy.batch:
            break
    async with ctx.uow() as uow:
        # Published rows older than keep_outbox, and at once those of conversations
        # already blanked or erased (sent after the erasure).
        purged = select(Conversation.id).where(Conversation.text_purged_at.is_not(None))
        result = await uow.session.execute(
            delete(OutboxRow).where(
                published_before(now - policy.keep_outbox)
                | (published() & OutboxRow.conversation_id.in_(purged))
            )
        )
        await forget_sent_marks(uow.session, before=now - policy.keep_outbox)
        await uow.commit()
    if blanked or result.rowcount:
        log.info(
            "retention: message text of %d conversation(s) blanked, %d published outbox row(s)"
            " deleted",
            blanked,
            result.rowcount,
        )
    return RetentionResult(blanked, result.rowcount)


async def _blank_batch(
    ctx: RouterContext, resolved_before: datetime, now: datetime, limit: int
) -> int:
    async with ctx.uow() as uow:
        session = uow.session
        ids = list(
            await session.scalars(
                select(Conversation.id)
                .where(
                    Conversation.status == ConversationStatus.RESOLVED.value,
                    Conversation.resolved_at < resolved_before,
                    Conversation.text_purged_at.is_(None),
                )
                .limit(limit)
            )
        )
        if not ids:
            return 0
        await session.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(
                subject=None,
                last_message_id=None,
                references=[],
                assistant_question=None,
                text_purged_at=now,
            )
        )
        await session.execute(delete(MessageIndex).where(MessageIndex.conversation_id.in_(ids)))
        digests = await unshared_blobs(uow, ids)
        if ctx.blob_stores and digests:
            await delete_blobs(ctx.blob_stores, digests)
        await session.execute(delete(AttachmentRow).where(AttachmentRow.conversation_id.in_(ids)))
        await session.execute(
            update(InteractionRecord)
            .where(InteractionRecord.conversation_id.in_(ids))
            .values(text="", subject=None, author=None, message_id=None)
        )
        await session.execute(update(Reply).where(Reply.conversation_id.in_(ids)).values(text=""))
        await session.execute(
            update(CsatRating).where(CsatRating.conversation_id.in_(ids)).values(comment=None)
        )
        await uow.commit()
        return len(ids)
