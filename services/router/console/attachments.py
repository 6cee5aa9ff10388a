"""What the conversation page shows of attachments and call recordings (issue #18).

The rows come from ``service.attachments.conversation_attachments`` (which applies
the queue rule); this only turns them into lines to render. Blob-stored bytes are
fetched through ``/console/attachments/{id}`` (the same service checks and safe
headers as ``GET /attachments/{id}``, but signed in by the console's session);
provider links (call recordings, chat media not fetched) are shown only when they
are plain http(s) URLs, so a hostile ``javascript:`` link is never clickable.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from services.router.store.models import AttachmentRow


@dataclass(frozen=True, slots=True)
class AttachmentLine:
    id: str
    kind: str  # attachment | recording
    label: str  # the sender's file name: rendered as text, never as markup
    content_type: str
    size: int | None
    size_text: str
    download: str | None  # console download of the blob-stored bytes
    external: str | None  # provider link (http/https only)


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def safe_link(url: str | None) -> str | None:
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def line_of(row: AttachmentRow) -> AttachmentLine:
    return AttachmentLine(
        id=row.id,
        kind=row.kind,
        label=row.name or f"attachment-{row.id}",
        content_type=row.content_type,
        size=row.size,
        size_text=size_text(row.size),
        download=f"/console/attachments/{row.id}" if row.sha256 else None,
        external=None if row.sha256 else safe_link(row.url),
    )
