"""Attachments and call recordings of interactions (issue #18).

The router keeps what an agent needs to see and fetch them: name, type, size,
sha256 and where the bytes are (the blob store, by sha256; or the provider's
recording URL). Bytes are served only to agents of the conversation's queue
(and supervisors), and never in a way a browser would run: markup and script
types always download as ``application/octet-stream``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select

from libs.common.blobstore import BlobStore
from libs.common.events.interaction import Interaction
from libs.common.ids import deterministic_id
from services.router.service.agents import NotFound
from services.router.service.api_keys import Role, role_allows
from services.router.service.context import RouterContext
from services.router.store.models import Agent, ApiKey, AttachmentRow, Conversation
from services.router.store.unit_of_work import UnitOfWork

#: Types a browser may show in place; everything else is a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})
#: Served as text/plain (shown, never interpreted).
PLAIN_TYPES = frozenset({"text/plain", "text/csv"})
#: Markup and script: never rendered, whatever the sender declared.
ACTIVE_MARKERS = ("html", "svg", "xml", "javascript", "ecmascript", "x-sh", "x-msdownload")


class AttachmentKind(StrEnum):
    ATTACHMENT = "attachment"
    RECORDING = "recording"


class Forbidden(PermissionError):
    """The caller is not an agent of the conversation's queue."""


def record_attachments(
    uow: UnitOfWork, event_id: str, conversation_id: str, interaction: Interaction
) -> None:
    """The interaction's attachment descriptors and call recording, with the interaction."""
    fields = interaction.__dict__  # field reads (domain/intake.py)
    if not fields["attachments"] and fields["call"] is None:
        return  # most interactions: no rows, and no comprehension run over nothing
    rows = [
        {
            "id": deterministic_id("router.attachment", event_id, ordinal),
            "event_id": event_id,
            "conversation_id": conversation_id,
            "ordinal": ordinal,
            "kind": AttachmentKind.ATTACHMENT.value,
            "name": (a.name or "")[:300] or None,
            "content_type": a.content_type[:200],
            "size": a.size,
            "sha256": a.sha256,
            "url": (a.url or "")[:2000] or None,
            "inline": a.inline,
        }
        for ordinal, a in enumerate(interaction.attachments)
    ]
    call = interaction.call
    if call is not None and call.recording_url:
        ordinal = len(rows)
        rows.append(
            {
                "id": deterministic_id("router.attachment", event_id, ordinal),
                "event_id": event_id,
                "conversation_id": conversation_id,
                "ordinal": ordinal,
                "kind": AttachmentKind.RECORDING.value,
                "name": f"call-{call.call_id}"[:300],
                "content_type": "audio/mpeg",
                "size": None,
                "sha256": None,
                "url": call.recording_url[:2000],
                "inline": False,
            }
        )
    for row in rows:
        uow.insert_later(AttachmentRow, row)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How to serve one attachment's bytes."""

    sha256: str
    content_type: str
    disposition: str  # inline | attachment
    filename: str


def delivery(row: AttachmentRow) -> Delivery:
    """Safe headers: declared type is a claim by the sender, not a fact."""
    declared = row.content_type.split(";", 1)[0].strip().lower()
    name = row.name or f"attachment-{row.id}"
    lowered = name.lower()
    active = any(m in declared for m in ACTIVE_MARKERS) or lowered.endswith(
        (".html", ".htm", ".svg", ".xml", ".xhtml", ".js", ".mjs")
    )
    if active:
        return Delivery(row.sha256 or "", "application/octet-stream", "attachment", name)
    if declared in INLINE_TYPES:
        return Delivery(row.sha256 or "", declared, "inline", name)
    if declared in PLAIN_TYPES:
        return Delivery(row.sha256 or "", "text/plain; charset=utf-8", "attachment", name)
    return Delivery(row.sha256 or "", "application/octet-stream", "attachment", name)


def blob_path(stores: tuple[BlobStore, ...], sha256: str | None) -> Path | None:
    """The file holding these bytes in the first store that has it."""
    if not sha256:
        return None
    for store in stores:
        try:
            path = store.path_for(sha256)
        except ValueError:
            return None
        if path.is_file():
            return path
    return None


async def unshared_blobs(uow: UnitOfWork, conversation_ids: list[str]) -> set[str]:
    """sha256s referenced by these conversations' attachments and by no other's."""
    mine = set(
        await uow.session.scalars(
            select(AttachmentRow.sha256).where(
                AttachmentRow.conversation_id.in_(conversation_ids),
                AttachmentRow.sha256.is_not(None),
            )
        )
    )
    if not mine:
        return set()
    shared = set(
        await uow.session.scalars(
            select(AttachmentRow.sha256).where(
                AttachmentRow.sha256.in_(mine),
                AttachmentRow.conversation_id.not_in(conversation_ids),
            )
        )
    )
    return mine - shared


async def delete_blobs(stores: tuple[BlobStore, ...], digests: set[str]) -> int:
    """Remove the files from every store (off the loop); returns how many went."""
    removed = 0
    for store in stores:
        report = await store.delete_async(digests)
        removed += len(report.removed)
    return removed


async def _allowed(uow: UnitOfWork, key: ApiKey, conversation: Conversation) -> bool:
    if role_allows(Role(key.role), Role.SUPERVISOR):
        return True
    if key.agent_id is None:
        return False
    agent = await uow.session.get(Agent, key.agent_id)
    return agent is not None and conversation.queue in agent.queues


async def attachment_for(ctx: RouterContext, attachment_id: str, key: ApiKey) -> AttachmentRow:
    async with ctx.uow.reader() as uow:
        row = await uow.session.get(AttachmentRow, attachment_id)
        if row is None:
            raise NotFound(f"attachment {attachment_id} not found")
        conversation = await uow.conversations.get(row.conversation_id)
        assert conversation is not None
        if not await _allowed(uow, key, conversation):
            raise Forbidden(f"not an agent of queue {conversation.queue}")
        return row


async def conversation_attachments(
    ctx: RouterContext, conversation_id: str, key: ApiKey
) -> list[AttachmentRow]:
    async with ctx.uow.reader() as uow:
        conversation = await uow.conversations.get(conversation_id)
        if conversation is None:
            raise NotFound(f"conversation {conversation_id} not found")
        if not await _allowed(uow, key, conversation):
            raise Forbidden(f"not an agent of queue {conversation.queue}")
        query = (
            select(AttachmentRow)
            .where(AttachmentRow.conversation_id == conversation_id)
            .order_by(AttachmentRow.event_id, AttachmentRow.ordinal)
        )
        return list(await uow.session.scalars(query))
