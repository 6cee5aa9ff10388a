"""Walking the MIME tree: which parts are the body, which are attachments.

A forwarded message (``message/rfc822``) is one attachment, not more body:
the customer's own words are the outer text. Delivery-status parts belong
to the bounce reader, not the body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import Message

from services.email_ingest.normalise.charsets import decode_bytes
from services.email_ingest.normalise.headers import decode_header_text, text_of

#: Deeper nesting than this is an attack or a broken mailer; the rest is ignored.
MAX_DEPTH = 30
_BODY_TYPES = {"text/plain", "text/html"}
_REPORT_PARTS = {"message/delivery-status", "text/rfc822-headers", "message/rfc822-headers"}


@dataclass(frozen=True, slots=True)
class TextPart:
    content_type: str
    text: str
    guessed_charset: bool


@dataclass(frozen=True, slots=True)
class AttachmentPart:
    name: str | None
    content_type: str
    data: bytes
    inline: bool
    content_id: str | None


@dataclass(slots=True)
class MimeParts:
    texts: list[TextPart] = field(default_factory=list)
    attachments: list[AttachmentPart] = field(default_factory=list)


def collect_parts(message: Message, fallback_charset: str | None = None) -> MimeParts:
    parts = MimeParts()
    _walk(message, parts, in_related=False, depth=0, fallback_charset=fallback_charset)
    return parts


def _walk(
    part: Message, out: MimeParts, *, in_related: bool, depth: int, fallback_charset: str | None
) -> None:
    if depth > MAX_DEPTH:
        return
    content_type = part.get_content_type()
    if content_type in _REPORT_PARTS:
        return
    if content_type == "message/rfc822":
        out.attachments.append(_attached_message(part, fallback_charset))
        return
    if part.is_multipart():
        related = content_type == "multipart/related"
        for child in part.get_payload():
            if isinstance(child, Message):
                _walk(
                    child,
                    out,
                    in_related=related,
                    depth=depth + 1,
                    fallback_charset=fallback_charset,
                )
        return
    filename = part_filename(part, fallback_charset)
    disposition = part.get_content_disposition()
    if content_type in _BODY_TYPES and disposition != "attachment" and not filename:
        out.texts.append(_text_part(part, content_type))
        return
    out.attachments.append(_attachment(part, content_type, filename, disposition, in_related))


def _text_part(part: Message, content_type: str) -> TextPart:
    data = _payload_bytes(part)
    decoded = decode_bytes(data, part.get_content_charset(None))
    return TextPart(content_type, decoded.text, decoded.guessed)


def _attachment(
    part: Message,
    content_type: str,
    filename: str | None,
    disposition: str | None,
    in_related: bool,
) -> AttachmentPart:
    content_id = _content_id(part)
    # An inline image is part of the HTML body (a logo, a pasted screenshot);
    # agents see it in the body, not in the attachment list.
    inline = content_type.startswith("image/") and (
        disposition == "inline"
        or (content_id is not None and disposition != "attachment")
        or (in_related and disposition is None)
    )
    return AttachmentPart(filename, text_of(content_type), _payload_bytes(part), inline, content_id)


def _attached_message(part: Message, fallback_charset: str | None) -> AttachmentPart:
    inner = part.get_payload(0) if part.is_multipart() else None
    data = b""
    if isinstance(inner, Message):
        try:
            data = inner.as_bytes()
        except Exception:  # a broken inner message still gets described
            data = str(inner.get_payload()).encode("utf-8", "surrogateescape")
    name = part_filename(part, fallback_charset)
    if name is None and isinstance(inner, Message):
        subject = inner.get("subject")
        name = f"{decode_header_text(str(subject), fallback_charset)}.eml" if subject else None
    return AttachmentPart(name or "message.eml", "message/rfc822", data, False, _content_id(part))


def part_filename(part: Message, fallback_charset: str | None = None) -> str | None:
    """Filename from Content-Disposition or Content-Type name (RFC 2231 or encoded words)."""
    try:
        name = part.get_filename() or part.get_param("name")
    except Exception:
        return None
    if isinstance(name, tuple):  # an RFC 2231 value the library did not collapse
        name = name[2]
    if not name:
        return None
    text = decode_header_text(str(name), fallback_charset).strip()
    return text.replace("/", "_").replace("\\", "_") or None


def _content_id(part: Message) -> str | None:
    raw = part.get("content-id")
    if raw is None:
        return None
    value = text_of(str(raw)).strip().strip("<>").strip()
    return value or None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # an undecodable transfer encoding: keep the bytes as they came
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
