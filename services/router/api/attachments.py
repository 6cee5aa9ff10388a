"""Attachments and call recordings: metadata per conversation, bytes from the blob store."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from services.router.api.audit import request_entry
from services.router.api.deps import AgentKey, ContextDep
from services.router.api.errors import http_error
from services.router.service.agents import NotFound
from services.router.service.attachments import (
    Delivery,
    Forbidden,
    attachment_for,
    blob_path,
    conversation_attachments,
    delivery,
)
from services.router.service.audit import append_audit
from services.router.store.models import AttachmentRow

router = APIRouter(tags=["attachments"])
ERRORS = {
    403: {"description": "Not an agent of the conversation's queue"},
    404: {"description": "No such attachment or conversation"},
    410: {"description": "The bytes are gone (erased, or past retention)"},
}


class AttachmentRead(BaseModel):
    id: str
    interaction_id: str
    kind: str  # attachment | recording
    name: str | None
    content_type: str
    size: int | None
    sha256: str | None
    download: str | None  # GET this for the bytes (blob-stored attachments)
    url: str | None  # provider link (call recordings, chat media not fetched)


def _read(row: AttachmentRow) -> AttachmentRead:
    return AttachmentRead(
        id=row.id,
        interaction_id=row.event_id,
        kind=row.kind,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        download=f"/attachments/{row.id}" if row.sha256 else None,
        url=row.url,
    )


@router.get(
    "/conversations/{conversation_id}/attachments",
    response_model=list[AttachmentRead],
    summary="Attachments and call recordings of a conversation's interactions",
    responses=ERRORS,
)
async def list_attachments(
    conversation_id: str, ctx: ContextDep, key: AgentKey
) -> list[AttachmentRead]:
    rows = await conversation_attachments(ctx, conversation_id, key)
    return [_read(row) for row in rows]


@router.get(
    "/attachments/{attachment_id}",
    summary="The attachment's bytes (agents of the conversation's queue)",
    responses={**ERRORS, 200: {"content": {"application/octet-stream": {}}}},
    response_class=FileResponse,
)
async def download_attachment(
    attachment_id: str, request: Request, ctx: ContextDep, key: AgentKey
) -> FileResponse:
    entry = request_entry(request, ctx, key)
    try:
        row = await attachment_for(ctx, attachment_id, key)
    except (NotFound, Forbidden) as exc:
        error = http_error(exc)
        await append_audit(ctx, entry.with_result(outcome=str(error.status_code)))
        raise error from exc
    serve = delivery(row)
    path = blob_path(ctx.blob_stores, serve.sha256)
    if path is None:
        raise HTTPException(status.HTTP_410_GONE, f"attachment {attachment_id}: bytes not kept")
    # Reading personal data is recorded like a change.
    await append_audit(
        ctx, entry.with_result(conversation_id=row.conversation_id, after={"attachment": row.id})
    )
    return attachment_file(path, serve)


def attachment_file(path: Path, serve: Delivery) -> FileResponse:
    """The bytes with the headers that keep them inert (API and console alike)."""
    return FileResponse(
        path,
        media_type=serve.content_type,
        filename=serve.filename,
        content_disposition_type=serve.disposition,
        headers={
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
